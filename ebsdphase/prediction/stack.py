"""Serial sections: a folder of slices predicted into one 3D volume.

:func:`predict_stack` predicts every slice exactly as ``predict`` predicts a single map
(the same reading, inputs, forward pass and grain vote; :mod:`ebsdphase.prediction.folder`)
and writes, atomically, one file per stack, ``<name>.phases.h5``::

    classes        (Z, Y, X) uint8        predicted class per voxel
    probabilities  (Z, Y, X, K) float32   class probabilities
    entropy        (Z, Y, X) float32      softmax entropy / ln K
    indexed        (Z, Y, X) bool         indexed in its slice
    iron           (Z, Y, X) bool         indexed as body-centred iron; only in a stack with a
                                          slice that indexes another phase (austenite)
    attrs: format "ebsdphase-phases-stack", classes, model, slices (JSON list of sources),
           step_um (x, y), z_spacing_um, z_spacing_from ("option" or "x step"), fractions

written slice by slice (one slice in memory at a time), and ``<name>.fractions.csv``: one
row per slice and a last row for the volume (with ``bcc_iron_pixels`` and ``<class>_bcc_iron``
columns when a slice indexes another phase, as ``fractions.csv``). Slices are taken in natural order of their
names (``s2`` before ``s10``) and must all have the same grid; a slice that cannot be read
fails the stack in one line naming it (a volume with a missing slice would put the
sections at the wrong depths).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ebsdphase.core.atomic import atomic_path, write_text_atomic
from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.core.report import ProgressFactory, no_progress

MAGIC = "ebsdphase-phases-stack"
VERSION = 1


@dataclass
class StackRun:
    """What a stack prediction wrote."""

    volume: Path
    fractions_file: Path
    slices: list[Path]
    shape: tuple[int, int, int]
    z_spacing_um: float
    fractions: dict[str, dict[str, float]] = field(default_factory=dict)   # slice stem or "volume" -> class -> fraction
    model: str = ""


def natural_key(path: Path) -> list:
    """Sort key reading digit runs as numbers: slice_2 before slice_10."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def predict_stack(inputs: Iterable[str | os.PathLike] | str | os.PathLike, model, out_dir: str | os.PathLike,
                  name: str | None = None, z_spacing: float | None = None, tile: int | None = None,
                  overlap: int = 0, smooth: str | None = "card",
                  progress: ProgressFactory = no_progress) -> StackRun:
    """Predict the slices among ``inputs`` (files, folders, globs) into one volume in
    ``out_dir`` (see the module docstring). ``name`` defaults to the first input folder's
    name; ``z_spacing`` (um between slices) to the slices' x step."""
    from ebsdphase.core.classes import map_stem
    from ebsdphase.io.discover import expand_maps
    from ebsdphase.prediction.engine import load_model, resolve_smooth
    from ebsdphase.prediction.folder import MapOptions, MapOutcome, finalize, infer, prepare_map

    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    inputs = list(inputs)
    files = sorted(expand_maps(inputs), key=natural_key)
    stems: dict[str, Path] = {}
    for f in files:
        if map_stem(f) in stems:
            raise EbsdphaseError(f"{f}: same slice name as {stems[map_stem(f)]}; a stack's slices need distinct names")
        stems[map_stem(f)] = f
    if len(files) < 2:
        raise EbsdphaseError(f"a stack needs at least 2 slices, found {len(files)} in {', '.join(map(str, inputs))}")
    if z_spacing is not None and not (z_spacing > 0 and np.isfinite(z_spacing)):
        raise EbsdphaseError(f"z_spacing={z_spacing}: must be a positive distance in um")
    first = None
    if model is None:  # the default pretrained model for the first slice's channels
        from ebsdphase.io import read_map
        from ebsdphase.models.pretrained import best_for

        first = read_map(files[0])
        model = best_for(first)
    bundle = load_model(model)
    out = Path(out_dir)
    opts = MapOptions(out=out, tile=tile, overlap=overlap, smooth=resolve_smooth(bundle, smooth))
    first_input = Path(inputs[0])
    name = name or (first_input.name if first_input.is_dir() else first_input.parent.name) or "stack"
    out.mkdir(parents=True, exist_ok=True)
    volume = out / f"{name}.phases.h5"
    names = list(bundle.classes.names)
    k = len(names)
    counts = np.zeros((len(files), k), np.int64)
    idx_counts = np.zeros((len(files), k), np.int64)
    iron_counts = np.zeros((len(files), k), np.int64)
    with_iron = False
    shape = step = None
    z_from = "option"
    with progress(len(files), "predicting slices") as bar, atomic_path(volume) as tmp:
        import h5py

        with h5py.File(tmp, "w") as f:
            for z, (stem, src) in enumerate(stems.items()):
                item = prepare_map(bundle, stem, src, first if z == 0 else None)
                if isinstance(item, MapOutcome):
                    raise EbsdphaseError(f"slice {z} of the stack: {item.failure}")
                if shape is None:
                    shape, step = item.ebsd.shape, tuple(float(s) for s in item.ebsd.step)
                    if z_spacing is None:
                        z_spacing, z_from = step[0], "x step"
                    _create(f, len(files), shape, k)
                elif item.ebsd.shape != shape:
                    raise EbsdphaseError(f"{src}: slice {z} is {item.ebsd.shape[0]} x {item.ebsd.shape[1]}, "
                                         f"the stack's slices are {shape[0]} x {shape[1]}")
                elif not np.allclose(item.ebsd.step, step, rtol=1e-6):
                    raise EbsdphaseError(f"{src}: slice {z} has a step of {item.ebsd.step[0]:g} x "
                                         f"{item.ebsd.step[1]:g} um, the stack's slices {step[0]:g} x {step[1]:g} um")
                pred, _ = finalize(bundle, item, infer(bundle, [item], opts)[0], opts)
                f["classes"][z] = pred.classes
                f["probabilities"][z] = pred.probabilities
                f["entropy"][z] = pred.entropy
                indexed = item.ebsd.indexed
                f["indexed"][z] = indexed
                counts[z] = np.bincount(pred.classes.ravel(), minlength=k)[:k]
                idx_counts[z] = np.bincount(pred.classes[indexed].ravel(), minlength=k)[:k]
                iron = indexed if pred.iron is None else pred.iron
                iron_counts[z] = idx_counts[z] if pred.iron is None else \
                    np.bincount(pred.classes[iron].ravel(), minlength=k)[:k]
                if pred.iron is not None and not with_iron:  # the first slice with another phase
                    with_iron = True
                    f.create_dataset("iron", data=f["indexed"][()], chunks=f["indexed"].chunks,
                                     compression="lzf", shuffle=True)
                if with_iron:
                    f["iron"][z] = iron
                bar.advance()
            run = StackRun(volume=volume, fractions_file=out / f"{name}.fractions.csv", slices=files,
                           shape=(len(files), *shape), z_spacing_um=float(z_spacing), model=bundle.name)
            run.fractions = {stem: _fractions(c, names) for stem, c in zip(stems, counts)}
            run.fractions["volume"] = _fractions(counts.sum(0), names)
            f.attrs["format"] = MAGIC
            f.attrs["version"] = VERSION
            f.attrs["classes"] = json.dumps(bundle.classes.to_dict())
            f.attrs["model"] = bundle.name
            f.attrs["slices"] = json.dumps([str(s) for s in files])
            f.attrs["step_um"] = list(step)
            f.attrs["z_spacing_um"] = float(z_spacing)
            f.attrs["z_spacing_from"] = z_from
            f.attrs["fractions"] = json.dumps(run.fractions["volume"])
    _write_fractions(run.fractions_file, list(stems), counts, idx_counts, names,
                     iron_counts if with_iron else None)
    return run


def _create(f, n: int, shape: tuple[int, int], k: int) -> None:
    rows, cols = shape
    chunks = (1, min(rows, 256), min(cols, 256))
    opts = dict(compression="lzf", shuffle=True)
    f.create_dataset("classes", (n, rows, cols), np.uint8, chunks=chunks, **opts)
    f.create_dataset("probabilities", (n, rows, cols, k), np.float32, chunks=chunks + (k,), **opts)
    f.create_dataset("entropy", (n, rows, cols), np.float32, chunks=chunks, **opts)
    f.create_dataset("indexed", (n, rows, cols), bool, chunks=chunks, **opts)


def _fractions(counts: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    total = int(counts.sum())
    return {n: (float(c) / total if total else float("nan")) for n, c in zip(names, counts)}


def _write_fractions(path: Path, stems: list[str], counts: np.ndarray, idx_counts: np.ndarray,
                     names: Sequence[str], iron_counts: np.ndarray | None = None) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["slice", "z", "pixels", "indexed_pixels"] + [f"{n}_all" for n in names]
               + [f"{n}_indexed" for n in names]
               + (["bcc_iron_pixels"] + [f"{n}_bcc_iron" for n in names] if iron_counts is not None else []))

    def row(label: str, z: str, c: np.ndarray, ic: np.ndarray, fe: np.ndarray | None) -> None:
        fa, fi = _fractions(c, names), _fractions(ic, names)
        w.writerow([label, z, int(c.sum()), int(ic.sum())] + [f"{fa[n]:.6f}" for n in names]
                   + [f"{fi[n]:.6f}" for n in names]
                   + ([int(fe.sum())] + [f"{v:.6f}" for v in _fractions(fe, names).values()] if fe is not None else []))

    for z, stem in enumerate(stems):
        row(stem, str(z), counts[z], idx_counts[z], None if iron_counts is None else iron_counts[z])
    row("volume", "", counts.sum(0), idx_counts.sum(0), None if iron_counts is None else iron_counts.sum(0))
    write_text_atomic(path, buf.getvalue())
    return path
