"""Folder prediction: every map among files/folders/globs into ``<stem>.phases.*`` outputs.

:func:`predict_paths` skips maps whose outputs are newer than the map, batches small maps
of equal padded size through :mod:`ebsdphase.prediction.engine`, writes the per-map outputs
(prediction, PNG, optional ``.phases.ctf`` via :func:`write_phase_ctf`) and one
``fractions.csv``, and records failures per map so one bad file does not stop the run.

Keras is imported only through the bundle, when the first map is predicted.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ebsdphase.core.atomic import OutputError, remove_stale_parts, storage_error, write_text_atomic
from ebsdphase.core.classes import OTHER_PHASE_COLOUR
from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.core.report import EXIT_OK, EXIT_PARTIAL, ProgressFactory, no_progress
from ebsdphase.prediction.engine import (BATCH_PIXELS, batched_map_probabilities, cleaned_for, load_model,
                                        map_probabilities, model_inputs, postprocess, resolve_smooth,
                                        sublattice_factor, tta_probabilities, wrap_probabilities)
from ebsdphase.prediction.result import PNG_SUFFIX, SUFFIX, Prediction, write_prediction

__all__ = ["predict_paths", "PredictRun", "phase_map", "write_phase_ctf"]

#: the lattice written for every class in --ctf output: BCC iron, a = 2.8665 A (Im-3m, 229);
#: ferrite and martensite are both indexed as BCC iron, the phase column tells them apart
BCC_IRON = (2.8665, 2.8665, 2.8665, 90.0, 90.0, 90.0)
BCC_SPACE_GROUP = 229
CTF_SUFFIX = ".phases.ctf"
FIGURE_SUFFIX = ".figure.png"
FRACTIONS_FILE = "fractions.csv"


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
    outside: dict[str, str] = field(default_factory=dict)          # stem -> one-line warning
    report_file: Path | None = None
    workers: dict[str, int] = field(default_factory=dict)          # Dask worker -> model loads

    @property
    def done_stems(self) -> list[str]:
        """Maps whose outputs exist after the run (predicted now or up to date), in order."""
        return [s for s in self.fractions]

    @property
    def exit_code(self) -> int:
        return EXIT_PARTIAL if self.failed else EXIT_OK


def _outputs_for(out_dir: Path, stem: str, ctf: bool, grains: bool = False, figures: bool = False) -> list[Path]:
    from ebsdphase.prediction.grains import SUFFIX as GRAINS_SUFFIX

    outs = [out_dir / f"{stem}{SUFFIX}", out_dir / f"{stem}{PNG_SUFFIX}"]
    if ctf:
        outs.append(out_dir / f"{stem}{CTF_SUFFIX}")
    if figures:
        outs.append(out_dir / f"{stem}{FIGURE_SUFFIX}")
    if grains:
        outs.append(out_dir / f"{stem}{GRAINS_SUFFIX}")
    return outs


def _up_to_date(src: Path, outs: list[Path], key: str) -> bool:
    """Outputs all newer than the map and made by this model with these settings (``key``,
    recorded in the ``.phases.h5``): a retrained model of the same name, another model or
    other settings into the same folder predict again."""
    from ebsdphase.prediction.result import produced_by

    try:
        t_in = src.stat().st_mtime
        if not all(o.exists() and o.stat().st_mtime >= t_in for o in outs):
            return False
    except OSError:
        return False
    return produced_by(outs[0]) == key


def run_key(bundle, smooth: str | None, tile: int | None, overlap: int, tta: bool) -> str:
    """What decides a map's answer besides the map: the model's digest and the settings."""
    # "outputs": what a map's outputs hold; 2 since they set apart the pixels of other phases
    # (the bcc-iron mask), so outputs written before are made again rather than read as iron
    return json.dumps({"model": bundle.name, "digest": bundle.digest, "smooth": smooth, "tile": tile,
                       "overlap": overlap if tile else 0, "tta": bool(tta), "outputs": 2}, sort_keys=True)


def _writable(out: Path) -> None:
    """Create ``out`` and check a file can be made in it: one output error (exit 2) before
    any map, instead of every map failing on a read-only or missing place."""
    import tempfile

    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test.", suffix=".part"):
            pass
    except OSError as exc:
        raise storage_error(out, exc) or EbsdphaseError(f"{out}: cannot write here ({exc.strerror or exc})") \
            from None


def _default_model(files: Sequence[Path], read: dict[Path, Any]) -> str:
    """The default pretrained model (the first of the index's order) for the channels of the first readable map (kept in
    ``read`` so that it is not read a second time for its prediction)."""
    from ebsdphase.io import read_map
    from ebsdphase.models.pretrained import best_for

    for f in files:
        try:
            ebsd = read_map(f)
        except EbsdphaseError:
            continue  # reported with the other failures when the maps are predicted
        read[f] = ebsd
        return best_for(ebsd)
    raise EbsdphaseError(f"none of the {len(files)} input map(s) can be read, so no model can be "
                         "chosen for them (name one with model=...)")


def predict_paths(
    inputs: Iterable[str | os.PathLike] | str | os.PathLike,
    model,
    out_dir: str | os.PathLike,
    ctf: bool = False,
    force: bool = False,
    tile: int | None = None,
    overlap: int = 0,
    batch_pixels: int = BATCH_PIXELS,
    progress: ProgressFactory = no_progress,
    on_map: Callable[[str, str], None] | None = None,
    tta: bool = False,
    grains: bool = False,
    smooth: str | None = "card",
    figures: bool = False,
    scheduler: str | None = "local",
) -> PredictRun:
    """Predict every map among ``inputs`` (files, folders, globs) into ``out_dir``.

    Per map ``<stem>.phases.h5``, ``<stem>.phases.png`` and, with ``ctf``,
    ``<stem>.phases.ctf`` (see :func:`write_phase_ctf`); then ``fractions.csv`` for all
    maps. Maps whose outputs exist, are newer than the map and were made by the same model
    (card and weights) with the same settings are skipped unless ``force``. A map that
    fails is recorded in ``PredictRun.failed`` and the others go on.
    Small maps of equal padded size are predicted together (``batch_pixels`` per pass).
    ``on_map(stem, status)`` is called after each map ("done", "up to date", "failed").
    ``grains`` also writes ``<stem>.grains.csv`` (one row per grain, see
    :mod:`ebsdphase.prediction.grains`) and grain-based fractions in ``fractions.csv``;
    ``smooth="grains"`` gives every pixel its grain's phase, ``"soft"`` averages each pixel's
    probabilities with its grain's mean, ``"none"`` keeps the pixel
    answers, ``"card"`` (default) does what the model's card says (``train`` records
    ``grains``; the pretrained models with KAM or quaternions ``soft``).
    ``figures`` also writes ``<stem>.figure.png`` (quality, KAM, IPF-Z, phases with legend,
    uncertainty; scale bars; :func:`ebsdphase.plots.map_figure`).
    ``tta`` averages each map over the 8 grid symmetries (8 forward passes per map,
    :func:`ebsdphase.prediction.engine.tta_probabilities`).
    ``model=None`` takes the default pretrained model for the first readable map's channels
    (:func:`ebsdphase.models.pretrained.best_for`).
    ``scheduler``: ``"local"`` (this process), ``"processes:N"`` (a Dask cluster of N worker
    processes here) or a Dask scheduler address (``"tcp://host:8786"``); the outputs are the
    same (:mod:`ebsdphase.prediction.cluster`).
    """
    from ebsdphase.core.classes import map_stem
    from ebsdphase.io.discover import expand_maps

    here = scheduler in (None, "local")
    if not here:
        from ebsdphase.prediction.cluster import check_scheduler

        check_scheduler(scheduler)  # a wrong spec or no Dask: one line before any work
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    files = expand_maps(inputs)
    read: dict[Path, Any] = {}  # maps already read (to choose the model)
    bundle = load_model(model if model is not None else _default_model(files, read))
    smooth = resolve_smooth(bundle, smooth)
    out = Path(out_dir)
    _writable(out)
    remove_stale_parts(out)  # left by a killed run
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

    notify = on_map or (lambda stem, status: None)
    opts = MapOptions(out=out, ctf=ctf, tile=tile, overlap=overlap, tta=tta, grains=grains, smooth=smooth,
                      figures=figures, batch_pixels=batch_pixels,
                      key=run_key(bundle, smooth, tile, overlap, tta))
    to_predict: list[tuple[str, Path]] = []
    with progress(len(todo), "predicting") as bar:
        for stem, src in todo:
            outs = _outputs_for(out, stem, ctf, grains, figures)
            if not force and _up_to_date(src, outs, opts.key):
                try:
                    run.fractions[stem] = _fraction_row_from_file(outs[0], outs[-1] if grains else None)
                    run.up_to_date.append(stem)
                    notify(stem, "up to date")
                    bar.advance()
                    continue
                except EbsdphaseError:
                    pass  # an unreadable old output: predict again
            to_predict.append((stem, src))
        if to_predict and here:
            # a bad model is one model error, before any map is read, not a failure per map
            # (on a cluster the workers build it, and say so in one line when they cannot)
            bundle.model  # noqa: B018 - builds the network and loads the weights

        def record(outcome: "MapOutcome") -> None:
            _record(run, outcome)
            notify(outcome.stem, outcome.status)
            bar.advance()

        if here:
            _predict_here(bundle, to_predict, opts, read, record)
        elif to_predict:  # a re-run with everything up to date starts no cluster
            from ebsdphase.prediction.cluster import predict_on_cluster

            run.workers = predict_on_cluster(scheduler, bundle, to_predict, opts, record)

    # fractions.csv covers every map with outputs in the folder (earlier runs too), in
    # input order first
    order = {stem: i for i, (stem, _) in enumerate(todo)}
    run.fractions = dict(sorted(run.fractions.items(), key=lambda kv: order.get(kv[0], 0)))
    if run.fractions:
        run.fractions_file = write_folder_fractions(out, run.fractions, bundle.classes.names)
        run.report_file = _write_html(run, out, bundle.classes.names)
    return run


@dataclass(frozen=True)
class MapOptions:
    """What to write for each map (the same for every map of a run)."""

    out: Path
    ctf: bool = False
    tile: int | None = None
    overlap: int = 0
    tta: bool = False
    grains: bool = False
    smooth: str | None = None
    figures: bool = False
    batch_pixels: int = BATCH_PIXELS
    key: str = ""  # run_key: written into every .phases.h5, compared on the next run

    @property
    def one_by_one(self) -> bool:
        """Tiled and TTA maps take one forward pass (or more) each, never shared."""
        return self.tile is not None or self.tta


@dataclass
class Prepared:
    """A map read and turned into network inputs, waiting for its forward pass."""

    stem: str
    src: Path
    ebsd: Any
    x: list[np.ndarray]      # engine.model_inputs: the whole map's, or one per sub-lattice
    seconds: float
    stages: dict[str, float]
    warnings: list[str] = field(default_factory=list)   # raised while reading on a Dask worker

    @property
    def pixels(self) -> int:
        return int(sum(x.shape[0] * x.shape[1] for x in self.x))


@dataclass
class MapOutcome:
    """What became of one map: its outputs and fractions, or the one line saying why not."""

    stem: str
    src: Path
    status: str                                  # "done" or "failed"
    outputs: list[Path] = field(default_factory=list)
    row: dict | None = None
    outside: str | None = None
    failure: str | None = None
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)   # raised on a Dask worker, shown by the driver

    @classmethod
    def failed(cls, stem: str, src: Path, exc: BaseException, seconds: float = 0.0,
               warnings: Sequence[str] = ()) -> "MapOutcome":
        return cls(stem, src, "failed", failure=_one_line(src, exc), seconds=seconds, warnings=list(warnings))


class Batcher:
    """Groups maps, in input order, into forward passes of at most ``batch_pixels`` pixels
    (tiled and TTA maps alone). Local and Dask runs group the same way, so their passes, and
    hence their probabilities, are the same to the bit."""

    def __init__(self, batch_pixels: int, one_by_one: bool) -> None:
        self.batch_pixels, self.one_by_one = batch_pixels, one_by_one
        self.pending: list = []
        self.pixels = 0

    def add(self, item, pixels: int) -> list[list]:
        """Add ``item`` (``pixels`` large); return the batches now complete."""
        ready = []
        if self.pending and (self.one_by_one or self.pixels + pixels > self.batch_pixels):
            ready.append(self.finish()[0])
        self.pending.append(item)
        self.pixels += pixels
        if self.one_by_one or self.pixels >= self.batch_pixels:
            ready.append(self.finish()[0])
        return ready

    def finish(self) -> list[list]:
        """The last, incomplete batch (if any)."""
        batch, self.pending, self.pixels = self.pending, [], 0
        return [batch] if batch else []


def prepare_map(bundle, stem: str, src: Path, ebsd=None) -> "Prepared | MapOutcome":
    """Read ``src`` (unless ``ebsd`` is given) and build its inputs; a failure as an outcome."""
    t0 = time.perf_counter()
    stages = {"read": 0.0, "kam": 0.0, "features": 0.0}
    try:
        ebsd, x = _prepare(bundle, src, stages, ebsd)
    except Exception as exc:  # noqa: BLE001 - report and go on with the other maps
        return MapOutcome.failed(stem, src, exc, time.perf_counter() - t0)
    return Prepared(stem, src, ebsd, x, time.perf_counter() - t0, stages)


def infer(bundle, batch: Sequence[Prepared], opts: MapOptions) -> list[np.ndarray]:
    """The (rows, cols, K) probabilities of each map of ``batch``: one forward pass for maps
    of equal padded size, tiles or the 8 symmetries where ``opts`` asks for them."""
    if opts.tta:
        return [tta_probabilities(bundle, p.ebsd, opts.tile, opts.overlap) for p in batch]
    if opts.tile is None:
        return batched_map_probabilities(bundle, [p.x for p in batch], [p.ebsd for p in batch], opts.batch_pixels)
    return [map_probabilities(bundle, p.ebsd, opts.tile, opts.overlap, inputs=p.x) for p in batch]


def finalize(bundle, p: Prepared, probs: np.ndarray, opts: MapOptions):
    """Probabilities -> the map's :class:`Prediction` (grain vote where asked) and its grain
    table (None unless grains or smoothing need it)."""
    pred = wrap_probabilities(bundle, p.ebsd, probs)
    table = None
    if opts.grains or opts.smooth is not None:  # one grain table for the vote and the CSV
        from ebsdphase.prediction.grains import grain_table

        table = grain_table(pred, cleaned_for(bundle, p.ebsd))
    return postprocess(bundle, p.ebsd, pred, opts.smooth, table), table


def predict_batch(bundle, batch: Sequence[Prepared], opts: MapOptions) -> list[MapOutcome]:
    """One forward pass for ``batch`` (maps of equal padded size share it), then each map's
    outputs. A failure fails the maps concerned; :class:`OutputError` (the place cannot take
    files) is raised, since every other map would fail the same way."""
    t0 = time.perf_counter()
    try:
        probs = infer(bundle, batch, opts)
    except Exception as exc:  # noqa: BLE001 - fail these maps, go on with the rest
        return [MapOutcome.failed(p.stem, p.src, exc, p.seconds, p.warnings) for p in batch]
    dt = time.perf_counter() - t0
    total = sum(p.pixels for p in batch)
    outcomes = []
    for p, pr in zip(batch, probs):
        share = dt * p.pixels / total
        t1 = time.perf_counter()
        outcome = _finish_map(bundle, p, pr, opts)
        t_write = time.perf_counter() - t1
        outcome.seconds = p.seconds + share + t_write
        outcome.stages = {**p.stages, "inference": share, "write": t_write}
        outcome.warnings = list(p.warnings)
        outcomes.append(outcome)
    return outcomes


def _finish_map(bundle, p: Prepared, probs: np.ndarray, opts: MapOptions) -> MapOutcome:
    """Probabilities -> prediction -> the map's files and fractions row."""
    try:
        pred, table = finalize(bundle, p, probs, opts)
        pred.produced_by = opts.key
        outputs = _write_outputs(pred, p.ebsd, opts.out, p.stem, opts.ctf, table if opts.grains else None)
        if opts.figures:
            from ebsdphase.plots import map_figure

            outputs.append(map_figure(opts.out / f"{p.stem}{FIGURE_SUFFIX}", p.ebsd, pred,
                                      title=f"{p.stem} ({bundle.name})"))
        outside = None
        if pred.outside_training:
            # training ranges, and the field of view its answers were validated from
            outside = (f"{p.src}: outside what {bundle.name} saw in training or validation: "
                       + "; ".join(pred.outside_training))
        return MapOutcome(p.stem, p.src, "done", outputs, _fraction_row(pred, table if opts.grains else None),
                          outside)
    except OutputError:
        raise
    except Exception as exc:  # noqa: BLE001 - one bad map must not stop the run
        return MapOutcome.failed(p.stem, p.src, exc)


def _predict_here(bundle, maps: Sequence[tuple[str, Path]], opts: MapOptions, read: dict[Path, Any],
                  record: Callable[[MapOutcome], None]) -> None:
    """This process: maps read one after another, predicted in :class:`Batcher` batches."""
    batcher = Batcher(opts.batch_pixels, opts.one_by_one)
    for stem, src in maps:
        item = prepare_map(bundle, stem, src, read.pop(src, None))
        if isinstance(item, MapOutcome):
            record(item)
            continue
        for batch in batcher.add(item, item.pixels):
            for outcome in predict_batch(bundle, batch, opts):
                record(outcome)
    for batch in batcher.finish():
        for outcome in predict_batch(bundle, batch, opts):
            record(outcome)


def _record(run: PredictRun, o: MapOutcome) -> None:
    run.seconds[o.stem] = o.seconds
    for k, v in o.stages.items():
        run.stages[k] = run.stages.get(k, 0.0) + v
    if o.status == "done":
        run.outputs[o.stem] = o.outputs
        run.fractions[o.stem] = o.row
        if o.outside:
            run.outside[o.stem] = o.outside
    else:
        run.failed[o.stem] = o.failure or f"{o.src}: failed"


def _write_html(run: "PredictRun", out: Path, names: Sequence[str]) -> Path:
    """``report.html`` of the run: fractions per map, then each map's figure or phase image."""
    from ebsdphase.htmlreport import percent, write_report

    with_iron = any(r.get("over_iron") is not None for r in run.fractions.values())
    header = (["map"] + [f"{n} %" for n in names] + ([f"{n} % of bcc" for n in names] if with_iron else [])
              + ["time s", "note"])
    rows = []
    for stem, r in run.fractions.items():
        iron = iron_fractions(r)
        rows.append([stem] + [percent(r["all"].get(n), 1) for n in names]
                    + ([percent(iron.get(n), 1) for n in names] if with_iron else [])
                    + [f"{run.seconds[stem]:.1f}" if stem in run.seconds else "up to date",
                       r.get("outside_training", "")])
    sections = {stem: [p for p in (out / f"{stem}{FIGURE_SUFFIX}", out / f"{stem}{PNG_SUFFIX}") if p.exists()][:1]
                for stem in run.fractions}
    notes = [f"failed: {why}" for why in run.failed.values()] + list(run.outside.values())
    return write_report(out / "report.html", f"Phase maps ({run.model})", header, rows, sections, notes)


def write_folder_fractions(out: Path, rows: dict[str, dict], names: Sequence[str]) -> Path:
    """Rewrite ``fractions.csv`` from this run's ``rows`` plus every other
    ``<stem>.phases.h5`` in ``out`` (so it lists all maps there), under a lock so that two
    runs writing into one folder cannot lose each other's rows."""
    import fcntl

    # the lock is taken on the folder itself: nothing is left behind to clean up
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        rows = dict(rows)
        for f in sorted(out.glob(f"*{SUFFIX}")):
            stem = f.name[: -len(SUFFIX)]
            if stem in rows:
                continue
            try:
                row = _fraction_row_from_file(f)
            except EbsdphaseError:
                continue  # being written by another run, or not ours
            if list(row["all"]) == list(names):
                rows[stem] = row
        return _write_fractions(out / FRACTIONS_FILE, rows, names)
    finally:
        os.close(fd)  # releases the lock


def _one_line(src: Path, exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, EbsdphaseError):
        return text if str(src) in text else f"{src}: {text}"
    return f"{src}: {type(exc).__name__}: {text}"


def _prepare(bundle, src: Path, stages: dict[str, float], ebsd=None):
    from ebsdphase.io import read_map

    t0 = time.perf_counter()
    ebsd = read_map(src) if ebsd is None else ebsd
    t1 = time.perf_counter()
    stages["read"] += t1 - t0
    bundle.check_map(ebsd)
    recipe = bundle.recipe
    if "kam" in recipe.names and sublattice_factor(bundle, ebsd) == 1:
        # computed here (and cached on the map) only to time it apart from the rest; a map
        # predicted on sub-lattices needs only its sub-lattices' KAM (inputs and range check)
        from ebsdphase.crystal import kam

        kam(ebsd, recipe.kam_order, recipe.kam_threshold)
    t2 = time.perf_counter()
    stages["kam"] += t2 - t1
    xs = model_inputs(bundle, ebsd)
    stages["features"] += time.perf_counter() - t2
    return ebsd, xs


def _write_outputs(pred: Prediction, ebsd, out: Path, stem: str, ctf: bool, table=None) -> list[Path]:
    from ebsdphase.plots import save_phase_map

    files = [write_prediction(out / f"{stem}{SUFFIX}", pred),
             save_phase_map(out / f"{stem}{PNG_SUFFIX}", pred.shown_classes(), pred.class_set,
                            background=OTHER_PHASE_COLOUR)]
    if ctf:
        files.append(write_phase_ctf(out / f"{stem}{CTF_SUFFIX}", ebsd, pred))
    if table is not None:
        from ebsdphase.prediction.grains import SUFFIX as GRAINS_SUFFIX, write_grains_csv

        files.append(write_grains_csv(out / f"{stem}{GRAINS_SUFFIX}", table))
    return files


def phase_map(ebsd, pred: Prediction):
    """A copy of ``ebsd`` whose phase table has one BCC-iron entry per class (ids 1..K, in
    class order) and whose phase ids are the predicted classes + 1. Non-indexed pixels keep
    phase 0: the network predicts them too, but they have no orientation to carry a phase.
    Pixels the prediction sets apart as another phase (:attr:`Prediction.iron`: a duplex
    map's austenite) keep their own phase entry, after the classes."""
    import dataclasses

    from ebsdphase.core.ebsdmap import Phase

    phases = {i + 1: Phase(name=name, laue="m-3m", lattice=BCC_IRON, space_group=BCC_SPACE_GROUP)
              for i, name in enumerate(pred.class_set.names)}
    ids = np.where(ebsd.indexed, pred.classes.astype(np.int16) + 1, 0).astype(np.int16)
    other = pred.other_phase()
    if other is not None:
        for j in np.unique(ebsd.phase_id[other]):
            new = len(phases) + 1
            phases[new] = ebsd.phases.get(int(j), Phase(name=f"phase {int(j)}"))
            ids[other & (ebsd.phase_id == j)] = new
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


def _fraction_row(pred: Prediction, table=None) -> dict:
    fr = pred.fractions()
    n_idx = int(np.count_nonzero(pred.indexed)) if pred.indexed is not None else None
    row = {"pixels": pred.classes.size, "indexed": n_idx, "all": fr["all"], "over_indexed": fr["indexed"],
           "iron": int(np.count_nonzero(pred.iron)) if pred.iron is not None else None, "over_iron": fr["iron"],
           "outside_training": "; ".join(pred.outside_training)}
    if table is not None:
        row["grains"] = table.fractions()
    return row


def iron_fractions(row: dict) -> dict:
    """A fractions row's classes over its bcc-iron pixels: those over its indexed pixels for
    a map of iron alone (no other phase set apart), ``{}`` when neither is known."""
    return row.get("over_iron") or row.get("over_indexed") or {}


def _fraction_row_from_file(path: Path, grains_csv: Path | None = None) -> dict:
    from ebsdphase.prediction.result import read_prediction

    row = _fraction_row(read_prediction(path, probabilities=False))
    if grains_csv is not None:
        from ebsdphase.prediction.grains import read_grain_fractions

        row["grains"] = read_grain_fractions(grains_csv, list(row["all"]))
    return row


def _write_fractions(path: Path, rows: dict[str, dict], names: Sequence[str]) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    with_grains = any("grains" in r for r in rows.values())
    # the iron columns only where a map indexes other phases (duplex, TRIP): elsewhere they
    # would repeat the indexed ones; a pure-iron map in such a table gets its indexed figures
    with_iron = any(r.get("over_iron") is not None for r in rows.values())
    # (the iron columns last, so that readers by position keep their columns)
    w.writerow(["map", "pixels", "indexed_pixels"] + [f"{n}_all" for n in names]
               + [f"{n}_indexed" for n in names] + ["outside_training"]
               + ([f"{n}_grain_area" for n in names] + [f"{n}_grain_count" for n in names] if with_grains else [])
               + (["bcc_iron_pixels"] + [f"{n}_bcc_iron" for n in names] if with_iron else []))
    for stem, r in rows.items():
        idx = r["over_indexed"] or {}
        iron = iron_fractions(r)
        n_iron = r["indexed"] if r.get("iron") is None else r["iron"]
        g = r.get("grains") or {"by_area": {}, "by_count": {}}
        w.writerow([stem, r["pixels"], "" if r["indexed"] is None else r["indexed"]]
                   + [_fmt(r["all"].get(n)) for n in names] + [_fmt(idx.get(n)) for n in names]
                   + [r.get("outside_training", "")]
                   + ([_fmt(g["by_area"].get(n)) for n in names] + [_fmt(g["by_count"].get(n)) for n in names]
                      if with_grains else [])
                   + (["" if n_iron is None else n_iron] + [_fmt(iron.get(n)) for n in names] if with_iron else []))
    write_text_atomic(path, buf.getvalue())
    return path


def _fmt(v: float | None) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.6f}"
