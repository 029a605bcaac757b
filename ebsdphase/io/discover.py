"""Which files are maps: the extensions and contents the format registry knows."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from ebsdphase.core.inputs import expand_inputs, path_key
from ebsdphase.io.registry import formats, suffix_candidates

#: files this project writes next to maps; never taken for input maps
OUTPUT_SUFFIXES = (".phases.h5", ".phases.png", ".labels.png", ".labels.json", ".accuracy.png",
                   ".figure.png")


#: extensions shared with files that are not maps (notes, datasets, model weights): in
#: folders and globs such a file is taken only when a format recognises its content
GENERIC_SUFFIXES = (".txt", ".h5")
#: second files of two-file formats: the map is read through its first file
COMPANIONS = {".crc": ".cpr"}


def is_map_file(path: Path) -> bool:
    """True for files a folder or glob should yield as maps: a readable map extension, not
    one of this project's outputs, and for generic extensions (.txt, .h5) content that a
    format recognises."""
    name = path.name.lower()
    if name.endswith(OUTPUT_SUFFIXES):
        return False
    fmts = [f for f in formats().values() if f.read]
    for suffix in suffix_candidates(path):
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
    have = {path_key(f) for f in files}
    return [f for f in files
            if not (f.suffix.lower() in COMPANIONS
                    and any(path_key(f.with_suffix(s)) in have
                            for s in (COMPANIONS[f.suffix.lower()], COMPANIONS[f.suffix.lower()].upper())))]

