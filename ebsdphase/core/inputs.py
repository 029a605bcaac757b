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
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)

    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(c for c in p.iterdir() if c.is_file() and not c.name.startswith(".") and accept(c))
            if not found:
                raise EbsdphaseError(f"{p}: folder holds no {what}")
            for c in found:
                add(c)
        elif p.exists():
            add(p)
        elif glob.has_magic(str(item)):
            found = sorted(Path(g) for g in glob.glob(str(item)) if Path(g).is_file() and accept(Path(g)))
            if not found:
                raise EbsdphaseError(f"{item}: pattern matches no {what}")
            for c in found:
                add(c)
        else:
            raise EbsdphaseError(f"{p}: no such file or folder")
    return out


def example_map() -> Path:
    """The example map that ships with the package (a synthetic dual-phase map, 192 x 256)."""
    return Path(__file__).resolve().parents[1] / "data" / "example_t2.ebsd.h5"
