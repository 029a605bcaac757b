"""The format registry: pick a reader by extension, then by sniffing the content."""

from __future__ import annotations

import importlib
import warnings
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ebsdphase.core.ebsdmap import EBSDMap
from ebsdphase.core.errors import ImpossibleValues, MapReadError


@dataclass(frozen=True)
class Format:
    name: str
    extensions: tuple[str, ...]
    read: Callable[[Path], EBSDMap] | None = None
    write: Callable[[EBSDMap, Path], None] | None = None
    #: optional: given the path, True when this format can read it (for shared extensions)
    sniff: Callable[[Path], bool] | None = None


_FORMATS: dict[str, Format] = {}

# Built-in format modules, imported on first use so that `import ebsdphase` stays fast.
_BUILTIN_MODULES = (
    "ebsdphase.io.ctf",
    "ebsdphase.io.ang",
    "ebsdphase.io.cpr",
    "ebsdphase.io.osc",
    "ebsdphase.io.h5oina",
    "ebsdphase.io.edax_h5",
    "ebsdphase.io.bruker_h5",
    "ebsdphase.io.native",
    "ebsdphase.io.grainfile",
    "ebsdphase.io.channel5_txt",
)
_loaded = False


def register(fmt: Format) -> Format:
    _FORMATS[fmt.name] = fmt
    return fmt


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in _BUILTIN_MODULES:
        importlib.import_module(mod)  # every built-in format exists: a typo here must fail loudly


def formats() -> dict[str, Format]:
    _load_builtins()
    return dict(_FORMATS)


def suffix_candidates(path: Path) -> list[str]:
    """'.ebsd.h5' before '.h5': longest compound suffix first, lower case."""
    suffixes = [s.lower() for s in path.suffixes]
    return ["".join(suffixes[i:]) for i in range(len(suffixes))]


def _match(path: Path, want: str) -> list[Format]:
    _load_builtins()
    for suffix in suffix_candidates(path):
        found = [f for f in _FORMATS.values() if suffix in f.extensions and getattr(f, want)]
        if found:
            return found
    return []


def read_map(path: str | os.PathLike) -> EBSDMap:
    """Read any supported EBSD map file into an :class:`EBSDMap`.

    Raises :class:`~ebsdphase.core.errors.MapReadError` with a one-line message naming the
    file and the problem.
    """
    p = Path(path)
    if not p.exists():
        raise MapReadError(p, "a symbolic link that leads nowhere (a loop or a missing target)"
                          if p.is_symlink() else "no such file")
    if p.is_dir():
        raise MapReadError(p, "is a folder, not a map file")
    if p.stat().st_size == 0:
        raise MapReadError(p, "file is empty")
    candidates = _match(p, "read")
    if not candidates:
        known = sorted({e for f in formats().values() if f.read for e in f.extensions})
        raise MapReadError(p, f"unknown map format {p.suffix!r} (known: {', '.join(known)})")
    if len(candidates) > 1:
        sniffed = [f for f in candidates if f.sniff is None or f.sniff(p)]
        if not sniffed:
            names = ", ".join(f.name for f in candidates)
            raise MapReadError(p, f"content matches none of the {p.suffix} formats ({names})")
        candidates = sniffed
    fmt = candidates[0]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ebsd = fmt.read(p)
        for w in caught:  # every reader warning names the file, whoever raised it
            text = str(w.message)
            warnings.warn(text if str(p) in text else f"{p}: {text}", w.category, stacklevel=2)
    except MapReadError:
        raise
    except ImpossibleValues as exc:
        raise MapReadError(p, str(exc)) from None
    except (ValueError, IndexError, KeyError, OSError, UnicodeDecodeError, EOFError) as exc:
        raise MapReadError(p, f"not a readable {fmt.name} file ({exc})") from exc
    problem = ebsd.impossible()
    if problem is not None:  # whatever the format: the boundary where values enter
        raise MapReadError(p, problem)
    ebsd.source = str(p)
    ebsd.format = fmt.name
    return ebsd


def write_map(ebsd: EBSDMap, path: str | os.PathLike) -> Path:
    """Write ``ebsd`` in the format given by the extension, atomically."""
    p = Path(path)
    candidates = _match(p, "write")
    if not candidates:
        known = sorted({e for f in formats().values() if f.write for e in f.extensions})
        raise MapReadError(p, f"cannot write {p.suffix!r} files (writable: {', '.join(known)})")
    candidates[0].write(ebsd, p)
    return p
