"""Command inputs: files, folders and glob patterns expanded to a sorted list of files."""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Callable, Iterable

from ebsdphase.errors import EbsdphaseError

#: files this project writes next to maps; never taken for input maps
OUTPUT_SUFFIXES = (".phases.h5", ".phases.png", ".labels.png", ".labels.json", ".accuracy.png")


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


#: extensions shared with files that are not maps (notes, datasets, model weights): in
#: folders and globs such a file is taken only when a format recognises its content
GENERIC_SUFFIXES = (".txt", ".h5")
#: second files of two-file formats: the map is read through its first file
COMPANIONS = {".crc": ".cpr"}


def is_map_file(path: Path) -> bool:
    """True for files a folder or glob should yield as maps: a readable map extension, not
    one of this project's outputs, and for generic extensions (.txt, .h5) content that a
    format recognises."""
    from ebsdphase.io.registry import _suffix_candidates, formats

    name = path.name.lower()
    if name.endswith(OUTPUT_SUFFIXES):
        return False
    fmts = [f for f in formats().values() if f.read]
    for suffix in _suffix_candidates(path):
        matching = [f for f in fmts if suffix in f.extensions]
        if not matching:
            continue
        if suffix not in GENERIC_SUFFIXES:
            return True
        return any(f.sniff is not None and f.sniff(path) for f in matching)
    return False


def expand_maps(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Map files among ``inputs`` (files, folders, globs); of a two-file map (.cpr + .crc)
    only the first file is kept."""
    files = expand_inputs(inputs, is_map_file, what="map file")
    have = {f.resolve() for f in files}
    return [f for f in files
            if not (f.suffix.lower() in COMPANIONS
                    and any(f.with_suffix(s).resolve() in have
                            for s in (COMPANIONS[f.suffix.lower()], COMPANIONS[f.suffix.lower()].upper())))]
