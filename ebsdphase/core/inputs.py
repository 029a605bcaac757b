"""Command inputs: files, folders and glob patterns expanded to a sorted list of files."""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Callable, Iterable

from ebsdphase.core.errors import EbsdphaseError


def expand_inputs(inputs: Iterable[str | os.PathLike], accept: Callable[[Path], bool],
                  what: str = "file") -> list[Path]:
    """Expand ``inputs`` to files, in order, without duplicates.

    A file named explicitly is always kept (reading it later reports what is wrong with
    it); folders (not recursive) and glob patterns keep only the files ``accept`` takes.
    Raises :class:`EbsdphaseError` when an input matches nothing, naming it.
    """
    out: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = path_key(p)
        if key not in seen:
            seen.add(key)
            out.append(p)

    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = []
            for c in sorted(p.iterdir()):
                if c.name.startswith("."):
                    continue
                if _broken_link(c):
                    _note(f"{c}: skipped, a link that leads nowhere (loop or missing target)")
                elif c.is_dir():
                    if accept(c):  # a map format stored as a folder would say so
                        found.append(c)
                    else:
                        _note(f"{c}: skipped, a sub-folder (folders are not searched recursively; "
                              "name it or use a glob such as 'folder/*/*.ctf')")
                elif c.is_file() and accept(c):
                    found.append(c)
            if not found:
                raise EbsdphaseError(f"{p}: folder holds no {what}")
            for c in found:
                add(c)
        elif p.exists() or _broken_link(p):
            add(p)  # named explicitly: reading it says what is wrong, the others go on
        elif glob.has_magic(str(item)):
            found = sorted(Path(g) for g in glob.glob(str(item)) if Path(g).is_file() and accept(Path(g)))
            if not found:
                raise EbsdphaseError(f"{item}: pattern matches no {what}")
            for c in found:
                add(c)
        else:
            raise EbsdphaseError(f"{p}: no such file or folder")
    return out


def path_key(p: Path) -> Path:
    """The resolved path, to tell duplicates apart; a symlink loop keeps its absolute path
    (reading it reports the loop)."""
    try:
        return p.resolve()
    except (OSError, RuntimeError):
        return p.absolute()


def _broken_link(p: Path) -> bool:
    """A symlink whose target cannot be reached (a loop, or a missing target)."""
    try:
        return p.is_symlink() and not p.exists()
    except OSError:
        return True


def _note(message: str) -> None:
    import warnings

    from ebsdphase.core.errors import EbsdphaseWarning

    warnings.warn(message, EbsdphaseWarning, stacklevel=3)


def example_map() -> Path:
    """The example map that ships with the package (a synthetic dual-phase map, 192 x 256)."""
    return Path(__file__).resolve().parents[1] / "data" / "example_t2.ebsd.h5"
