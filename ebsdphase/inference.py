"""Prediction: whole maps, tiles, batches of small maps, and folders of map files.

A map is predicted whole by default (the paper's section 4.2: a U-Net takes any size, and
predicting small frames then stitching them "induces a quality loss"): the inputs are
built with the bundle's channel recipe, reflect-padded at the bottom and right to a
multiple of ``bundle.multiple``, predicted in one forward pass and cropped back.

``tile=N, overlap=M`` bounds memory for maps too large for one pass: N x N tiles whose
starts are ``N - M`` apart are predicted and their probabilities blended with a weight
that ramps linearly from ~0 to 1 across the M overlap pixels at every tile edge inside
the map (edges on the map border keep weight 1). With an overlap larger than the
network's effective context the result equals whole-map prediction on all but a few
pixels.

Keras is imported only through the bundle, when the first map is predicted.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ebsdphase._atomic import write_text_atomic
from ebsdphase.errors import EbsdphaseError
from ebsdphase.prediction import PNG_SUFFIX, SUFFIX, Prediction, from_probabilities, write_prediction

__all__ = ["Prediction", "predict", "predict_many", "predict_paths", "PredictRun", "load_model"]

#: the lattice written for every class in --ctf output: BCC iron, a = 2.8665 A (Im-3m, 229);
#: ferrite and martensite are both indexed as BCC iron, the phase column tells them apart
BCC_IRON = (2.8665, 2.8665, 2.8665, 90.0, 90.0, 90.0)
BCC_SPACE_GROUP = 229
#: upper bound on pixels predicted in one forward pass when batching small maps/tiles
BATCH_PIXELS = 2_000_000
CTF_SUFFIX = ".phases.ctf"
FRACTIONS_FILE = "fractions.csv"


def load_model(model: Any):
    """A :class:`~ebsdphase.models.bundle.Bundle` from a bundle, folder, card path or
    pretrained name."""
    from ebsdphase.models.bundle import Bundle, load_bundle

    return model if isinstance(model, Bundle) else load_bundle(model)


# -- arrays ---------------------------------------------------------------------------------

def _pad(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Reflect-pad (rows, cols, C) at the bottom/right to ``shape``; no copy when equal."""
    pr, pc = shape[0] - x.shape[0], shape[1] - x.shape[1]
    if pr == 0 and pc == 0:
        return x
    # numpy's reflect repeats the reflection when the pad exceeds the size (tiny maps)
    return np.pad(x, ((0, pr), (0, pc), (0, 0)), mode="reflect" if min(x.shape[:2]) > 1 else "edge")


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _forward(bundle, batch: np.ndarray) -> np.ndarray:
    """(n, H, W, C) float32 -> (n, H, W, K) float32 probabilities, one compiled call."""
    out = bundle.model.predict_on_batch(batch)
    return np.asarray(out, dtype=np.float32)


def _check_inputs(bundle, x: np.ndarray, source: str | None) -> None:
    if x.ndim != 3 or x.shape[-1] != bundle.input_channels:
        raise EbsdphaseError(f"{source or 'map'}: model {bundle.name!r} expects {bundle.input_channels} "
                             f"input channels, the recipe built {x.shape[-1]}")


def predict_probabilities(bundle, x: np.ndarray, tile: int | None = None, overlap: int = 0,
                          source: str | None = None) -> np.ndarray:
    """(rows, cols, K) float32 probabilities of one (rows, cols, C) input array."""
    _check_inputs(bundle, x, source)
    rows, cols = x.shape[:2]
    m = bundle.multiple
    padded_shape = (_round_up(rows, m), _round_up(cols, m))
    if tile is None or (tile >= padded_shape[0] and tile >= padded_shape[1]):
        probs = _forward(bundle, _pad(x, padded_shape)[None])[0]
        return probs[:rows, :cols]
    return _predict_tiled(bundle, _pad(x, padded_shape), tile, overlap)[:rows, :cols]


def _tile_starts(size: int, tile: int, stride: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, stride))
    starts.append(size - tile)
    return sorted(set(starts))


def _ramp(length: int, overlap: int, ramp_start: bool, ramp_end: bool) -> np.ndarray:
    """1-D blending weight: linear ramp over ``overlap`` pixels at the inner edges."""
    w = np.ones(length, np.float32)
    if overlap > 0:
        r = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        n = min(overlap, length)
        if ramp_start:
            w[:n] = np.minimum(w[:n], r[:n])
        if ramp_end:
            w[length - n:] = np.minimum(w[length - n:], r[:n][::-1])
    return w


def _predict_tiled(bundle, x: np.ndarray, tile: int, overlap: int) -> np.ndarray:
    m = bundle.multiple
    rows, cols = x.shape[:2]
    if tile < m:
        raise EbsdphaseError(f"--tile {tile} is smaller than the model's size multiple {m}")
    if overlap < 0 or overlap >= tile:
        raise EbsdphaseError(f"--overlap must be in [0, tile), got {overlap} for tile {tile}")
    tile = _round_up(tile, m)  # the network only takes multiples of m
    th, tw = min(tile, rows), min(tile, cols)  # rows/cols are multiples of m already
    stride = max(tile - overlap, m)
    r_starts = _tile_starts(rows, th, stride)
    c_starts = _tile_starts(cols, tw, stride)
    acc: np.ndarray | None = None
    weight = np.zeros((rows, cols), np.float32)
    boxes = [(r, c) for r in r_starts for c in c_starts]
    per_batch = max(1, BATCH_PIXELS // (th * tw))
    for i in range(0, len(boxes), per_batch):
        chunk = boxes[i:i + per_batch]
        batch = np.stack([x[r:r + th, c:c + tw] for r, c in chunk])
        out = _forward(bundle, batch)
        if acc is None:
            acc = np.zeros((rows, cols, out.shape[-1]), np.float32)
        for (r, c), probs in zip(chunk, out):
            # the ramp spans the real overlap between neighbours (the last tile is shifted
            # back to fit, so its overlap with the previous one can be larger)
            wr = _ramp(th, overlap, r > 0, r + th < rows)
            wc = _ramp(tw, overlap, c > 0, c + tw < cols)
            w = wr[:, None] * wc[None, :]
            acc[r:r + th, c:c + tw] += probs * w[..., None]
            weight[r:r + th, c:c + tw] += w
    acc /= weight[..., None]
    return acc


# -- maps -----------------------------------------------------------------------------------

def _as_map(ebsd):
    from ebsdphase.ebsdmap import EBSDMap

    if isinstance(ebsd, EBSDMap):
        return ebsd
    from ebsdphase.io import read_map

    return read_map(ebsd)


def _inputs(bundle, ebsd) -> np.ndarray:
    bundle.check_map(ebsd)
    return bundle.recipe.build(ebsd)


def _wrap(bundle, ebsd, probs: np.ndarray) -> Prediction:
    return from_probabilities(probs, class_set=bundle.classes, model=bundle.name, source=ebsd.source,
                              indexed=ebsd.indexed, recipe=bundle.recipe.to_dict())


def predict(ebsd, model, tile: int | None = None, overlap: int = 0) -> Prediction:
    """Predict the phase of every pixel of ``ebsd`` (an :class:`EBSDMap` or a map path).

    ``model`` is a bundle, a bundle folder/card path or a pretrained name. Returns a
    :class:`Prediction` with ``classes`` (rows, cols) uint8, ``probabilities``
    (rows, cols, K) float32 and ``entropy`` (rows, cols) float32 (softmax entropy / ln K).
    """
    bundle = load_model(model)
    ebsd = _as_map(ebsd)
    probs = predict_probabilities(bundle, _inputs(bundle, ebsd), tile, overlap, ebsd.source)
    return _wrap(bundle, ebsd, probs)


def predict_many(maps: Sequence, model, batch_pixels: int = BATCH_PIXELS) -> list[Prediction]:
    """Predict several maps, stacking those of equal padded shape into one forward pass
    (at most ``batch_pixels`` pixels per pass)."""
    bundle = load_model(model)
    maps = [_as_map(m) for m in maps]
    inputs = [_inputs(bundle, m) for m in maps]
    probs = _batched_probabilities(bundle, inputs, [m.source for m in maps], batch_pixels)
    return [_wrap(bundle, m, p) for m, p in zip(maps, probs)]


def _batched_probabilities(bundle, inputs: list[np.ndarray], sources: list, batch_pixels: int) -> list[np.ndarray]:
    mult = bundle.multiple
    groups: dict[tuple[int, int], list[int]] = {}
    for i, x in enumerate(inputs):
        _check_inputs(bundle, x, sources[i])
        shape = (_round_up(x.shape[0], mult), _round_up(x.shape[1], mult))
        groups.setdefault(shape, []).append(i)
    out: list[np.ndarray | None] = [None] * len(inputs)
    for shape, idx in groups.items():
        per = max(1, batch_pixels // (shape[0] * shape[1]))
        for j in range(0, len(idx), per):
            part = idx[j:j + per]
            batch = np.stack([_pad(inputs[i], shape) for i in part])
            probs = _forward(bundle, batch)
            for i, p in zip(part, probs):
                out[i] = p[: inputs[i].shape[0], : inputs[i].shape[1]]
    return out  # type: ignore[return-value]


# -- folders --------------------------------------------------------------------------------

@dataclass
class PredictRun:
    """What a folder prediction did: per-map outputs, skips, failures, fractions, timings."""

    out_dir: Path
    model: str
    inputs: list[Path] = field(default_factory=list)
    outputs: dict[str, list[Path]] = field(default_factory=dict)   # predicted now
    up_to_date: list[str] = field(default_factory=list)           # skipped: outputs newer
    failed: dict[str, str] = field(default_factory=dict)           # stem -> one-line reason
    fractions: dict[str, dict] = field(default_factory=dict)       # stem -> {"all", "indexed", ...}
    seconds: dict[str, float] = field(default_factory=dict)        # stem -> wall time
    stages: dict[str, float] = field(default_factory=lambda: {"read": 0.0, "kam": 0.0, "features": 0.0,
                                                             "inference": 0.0, "write": 0.0})
    fractions_file: Path | None = None

    @property
    def done_stems(self) -> list[str]:
        """Maps whose outputs exist after the run (predicted now or up to date), in order."""
        return [s for s in self.fractions]

    @property
    def exit_code(self) -> int:
        from ebsdphase.cli._common import EXIT_PARTIAL

        return EXIT_PARTIAL if self.failed else 0


def _outputs_for(out_dir: Path, stem: str, ctf: bool) -> list[Path]:
    outs = [out_dir / f"{stem}{SUFFIX}", out_dir / f"{stem}{PNG_SUFFIX}"]
    if ctf:
        outs.append(out_dir / f"{stem}{CTF_SUFFIX}")
    return outs


def _up_to_date(src: Path, outs: list[Path]) -> bool:
    try:
        t_in = src.stat().st_mtime
        return all(o.exists() and o.stat().st_mtime >= t_in for o in outs)
    except OSError:
        return False


def predict_paths(
    inputs: Iterable[str | os.PathLike] | str | os.PathLike,
    model,
    out_dir: str | os.PathLike,
    ctf: bool = False,
    force: bool = False,
    tile: int | None = None,
    overlap: int = 0,
    batch_pixels: int = BATCH_PIXELS,
    progress: bool = False,
    on_map: Callable[[str, str], None] | None = None,
) -> PredictRun:
    """Predict every map among ``inputs`` (files, folders, globs) into ``out_dir``.

    Per map ``<stem>.phases.h5``, ``<stem>.phases.png`` and, with ``ctf``,
    ``<stem>.phases.ctf`` (see :func:`write_phase_ctf`); then ``fractions.csv`` for all
    maps. Maps whose outputs exist and are newer than the map are skipped unless
    ``force``. A map that fails is recorded in ``PredictRun.failed`` and the others go on.
    Small maps of equal padded size are predicted together (``batch_pixels`` per pass).
    ``on_map(stem, status)`` is called after each map ("done", "up to date", "failed").
    """
    from ebsdphase.paths import expand_maps
    from ebsdphase.labels import map_stem

    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    files = expand_maps(inputs)
    bundle = load_model(model)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = PredictRun(out_dir=out, model=bundle.name, inputs=files)
    todo: list[tuple[str, Path]] = []
    stems: dict[str, Path] = {}
    for f in files:
        stem = map_stem(f)
        if stem in stems:
            run.failed[stem + f" ({f.name})"] = f"{f}: same name as {stems[stem]}; outputs would collide"
            continue
        stems[stem] = f
        todo.append((stem, f))

    bar = _Progress(progress, len(todo))
    notify = on_map or (lambda stem, status: None)
    with bar:
        pending: list[tuple[str, Path, Any, np.ndarray, float]] = []
        pending_pixels = 0

        def flush() -> None:
            nonlocal pending, pending_pixels
            if not pending:
                return
            t0 = time.perf_counter()
            try:
                if tile is None:
                    probs = _batched_probabilities(bundle, [p[3] for p in pending], [p[2].source for p in pending],
                                                   batch_pixels)
                else:
                    probs = [predict_probabilities(bundle, p[3], tile, overlap, p[2].source) for p in pending]
            except Exception as exc:  # noqa: BLE001 - fail these maps, go on with the rest
                for stem, src, *_ in pending:
                    run.failed[stem] = _one_line(src, exc)
                    notify(stem, "failed")
                    bar.advance()
                pending, pending_pixels = [], 0
                return
            dt = time.perf_counter() - t0
            run.stages["inference"] += dt
            total = sum(p[3].shape[0] * p[3].shape[1] for p in pending)
            for (stem, src, ebsd, x, t_prep), pr in zip(pending, probs):
                share = dt * x.shape[0] * x.shape[1] / total
                t1 = time.perf_counter()
                try:
                    pred = _wrap(bundle, ebsd, pr)
                    run.outputs[stem] = _write_outputs(pred, ebsd, out, stem, ctf)
                    run.fractions[stem] = _fraction_row(pred)
                    status = "done"
                except Exception as exc:  # noqa: BLE001 - one bad map must not stop the run
                    run.failed[stem] = _one_line(src, exc)
                    status = "failed"
                t_write = time.perf_counter() - t1
                run.stages["write"] += t_write
                run.seconds[stem] = t_prep + share + t_write
                notify(stem, status)
                bar.advance()
            pending, pending_pixels = [], 0

        for stem, src in todo:
            outs = _outputs_for(out, stem, ctf)
            if not force and _up_to_date(src, outs):
                try:
                    run.fractions[stem] = _fraction_row_from_file(outs[0])
                    run.up_to_date.append(stem)
                    notify(stem, "up to date")
                    bar.advance()
                    continue
                except EbsdphaseError:
                    pass  # an unreadable old output: predict again
            t0 = time.perf_counter()
            try:
                ebsd, x = _prepare(bundle, src, run.stages)
            except Exception as exc:  # noqa: BLE001 - report and go on with the other maps
                run.failed[stem] = _one_line(src, exc)
                notify(stem, "failed")
                bar.advance()
                continue
            t_prep = time.perf_counter() - t0
            px = x.shape[0] * x.shape[1]
            # maps go through one by one unless they are small enough to share a pass
            if pending and (tile is not None or pending_pixels + px > batch_pixels):
                flush()
            pending.append((stem, src, ebsd, x, t_prep))
            pending_pixels += px
            if tile is not None or pending_pixels >= batch_pixels:
                flush()
        flush()

    # fractions.csv covers every map with outputs, in input order
    order = {stem: i for i, (stem, _) in enumerate(todo)}
    run.fractions = dict(sorted(run.fractions.items(), key=lambda kv: order.get(kv[0], 0)))
    if run.fractions:
        run.fractions_file = _write_fractions(out / FRACTIONS_FILE, run.fractions, bundle.classes.names)
    return run


def _one_line(src: Path, exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, EbsdphaseError):
        return text if str(src) in text else f"{src}: {text}"
    return f"{src}: {type(exc).__name__}: {text}"


def _prepare(bundle, src: Path, stages: dict[str, float]):
    from ebsdphase.io import read_map

    t0 = time.perf_counter()
    ebsd = read_map(src)
    t1 = time.perf_counter()
    stages["read"] += t1 - t0
    bundle.check_map(ebsd)
    recipe = bundle.recipe
    if "kam" in recipe.names:
        # computed here (and cached on the map) only to time it apart from the rest
        from ebsdphase.crystal import kam

        kam(ebsd, recipe.kam_order, recipe.kam_threshold)
    t2 = time.perf_counter()
    stages["kam"] += t2 - t1
    x = recipe.build(ebsd)
    stages["features"] += time.perf_counter() - t2
    return ebsd, x


def _write_outputs(pred: Prediction, ebsd, out: Path, stem: str, ctf: bool) -> list[Path]:
    from ebsdphase.plots import save_phase_map

    files = [write_prediction(out / f"{stem}{SUFFIX}", pred),
             save_phase_map(out / f"{stem}{PNG_SUFFIX}", pred.classes, pred.class_set)]
    if ctf:
        files.append(write_phase_ctf(out / f"{stem}{CTF_SUFFIX}", ebsd, pred))
    return files


def phase_map(ebsd, pred: Prediction):
    """A copy of ``ebsd`` whose phase table has one BCC-iron entry per class (ids 1..K, in
    class order) and whose phase ids are the predicted classes + 1. Non-indexed pixels keep
    phase 0: the network predicts them too, but they have no orientation to carry a phase."""
    import dataclasses

    from ebsdphase.ebsdmap import Phase

    phases = {i + 1: Phase(name=name, laue="m-3m", lattice=BCC_IRON, space_group=BCC_SPACE_GROUP)
              for i, name in enumerate(pred.class_set.names)}
    ids = np.where(ebsd.indexed, pred.classes.astype(np.int16) + 1, 0).astype(np.int16)
    return dataclasses.replace(ebsd, phase_id=ids, phases=phases, cache={},
                               metadata={**ebsd.metadata, "phases_from_model": pred.model})


def write_phase_ctf(path: str | os.PathLike, ebsd, pred: Prediction) -> Path:
    """Write ``ebsd`` as a .ctf whose phase column carries the predicted phase (see
    :func:`phase_map`), so MTEX, AZtecCrystal or orix users can go on from there."""
    from ebsdphase.io import write_map
    from ebsdphase.io.registry import formats

    p = Path(path)
    if not any(".ctf" in f.extensions and f.write for f in formats().values()):
        raise EbsdphaseError(f"{p}: this installation has no .ctf writer")
    from ebsdphase.io.ctf import WRITTEN_CHANNELS

    out = phase_map(ebsd, pred)
    # a .ctf has no column for other channels (iq, ci, ...): leaving them out is expected
    # here, so the writer's warning about them would only be noise on every map
    out.channels = {k: v for k, v in out.channels.items() if k in WRITTEN_CHANNELS}
    # the registry picks the writer by the last suffix; ".phases.ctf" resolves to ".ctf"
    return write_map(out, p)


def _fraction_row(pred: Prediction) -> dict:
    fr = pred.fractions()
    n_idx = int(np.count_nonzero(pred.indexed)) if pred.indexed is not None else None
    return {"pixels": pred.classes.size, "indexed": n_idx, "all": fr["all"], "over_indexed": fr["indexed"]}


def _fraction_row_from_file(path: Path) -> dict:
    from ebsdphase.prediction import read_prediction

    return _fraction_row(read_prediction(path, probabilities=False))


def _write_fractions(path: Path, rows: dict[str, dict], names: Sequence[str]) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["map", "pixels", "indexed_pixels"] + [f"{n}_all" for n in names]
               + [f"{n}_indexed" for n in names])
    for stem, r in rows.items():
        idx = r["over_indexed"] or {}
        w.writerow([stem, r["pixels"], "" if r["indexed"] is None else r["indexed"]]
                   + [_fmt(r["all"].get(n)) for n in names] + [_fmt(idx.get(n)) for n in names])
    write_text_atomic(path, buf.getvalue())
    return path


def _fmt(v: float | None) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.6f}"


class _Progress:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool, total: int):
        self.enabled = enabled and total > 0
        self.total = total
        self._p = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            from ebsdphase.cli._common import err_console

            self._p = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                               TimeElapsedColumn(), console=err_console, transient=True)
            self._p.__enter__()
            self._task = self._p.add_task("predicting", total=self.total)
        return self

    def advance(self) -> None:
        if self._p is not None:
            self._p.advance(self._task)

    def __exit__(self, *exc):
        if self._p is not None:
            self._p.__exit__(*exc)
        return False
