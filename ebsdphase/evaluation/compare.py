"""Several methods on the same labelled maps (``ebsdphase compare``, the paper's Fig. 7).

Methods are given as a comma-separated list of specs:

``unet:NAME_OR_PATH`` (or just a bundle path / pretrained name)
    a trained model bundle, predicted whole-map as by ``ebsdphase predict``;
``grain-threshold:CHANNEL[=VALUE]`` / ``forest:CHANNELS``
    the baselines of :mod:`ebsdphase.evaluation.baselines` (the forest is trained on strokes covering
    1 % of each map's labels, see :mod:`ebsdphase.evaluation.baselines.forest`).

Every method is scored with the same metrics on the same pixels. Time per map covers what
the method needs from a loaded map: its features (KAM, grains: the map's derived-data
cache is emptied before each method so none profits from another's work), its
classification and, for the forest, its training. Reading the map is left out (the same
for all) and so is each model's one-off loading and compilation (a warm-up prediction on
the first map is not timed).

The report folder gets ``metrics.json`` (per method: the pooled metrics, ``per_map`` with
``seconds``, and ``groups`` with ``group_by``), ``accuracy.png`` (accuracy per map and
method, with "all" = pooled), ``confusion_<method>.png`` and an accuracy map
``<stem>.<method>.accuracy.png`` per map and method.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ebsdphase.core.atomic import write_text_atomic
from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.core.report import ProgressFactory, no_progress
from ebsdphase.core.classes import ClassSet, labels_path, map_stem, read_classes, read_labels
from ebsdphase.evaluation.metrics import Metrics, accuracy_map, aggregate, evaluate, group_metrics

BASELINES = ("grain-threshold", "forest")
MODEL_PREFIXES = ("unet", "model")


@dataclass
class Method:
    """One method of a comparison: a model bundle or a baseline spec."""

    label: str
    spec: str
    bundle: Any = None  # a Bundle for models, None for baselines

    @property
    def is_model(self) -> bool:
        return self.bundle is not None


def parse_methods(text: str | Sequence[str]) -> list[Method]:
    """'unet:PATH,grain-threshold:bs,forest:bs' -> methods (models loaded, baselines checked)."""
    from ebsdphase.evaluation.baselines import parse_spec
    from ebsdphase.prediction.engine import load_model

    items = [text] if isinstance(text, str) else list(text)
    specs = [s.strip() for item in items for s in item.split(",") if s.strip()]
    if not specs:
        raise EbsdphaseError("methods= is empty: name at least one method (e.g. unet:MODEL,grain-threshold:bs,forest:bs)")
    methods: list[Method] = []
    for spec in specs:
        head, sep, rest = spec.partition(":")
        kind = head.strip().lower()
        if sep and kind in BASELINES:
            parse_spec(spec)  # fail now, before any map is read
            methods.append(Method(label=spec, spec=spec))
            continue
        target = rest.strip() if sep and kind in MODEL_PREFIXES else spec
        if not target:
            raise EbsdphaseError(f"method {spec!r}: give a model after '{head}:'")
        bundle = load_model(target)
        # labelled by architecture and model name: a path would make a long, unreadable label
        label = f"{bundle.architecture}:{bundle.name}"
        methods.append(Method(label=label, spec=spec, bundle=bundle))
    seen: dict[str, int] = {}
    for m in methods:
        n = seen.get(m.label, 0)
        seen[m.label] = n + 1
        if n:
            m.label = f"{m.label}#{n + 1}"
    return methods


@dataclass
class Comparison:
    """Per method: metrics per map and seconds per map; and the maps that were skipped."""

    methods: list[Method]
    classes: ClassSet
    per_map: dict[str, dict[str, Metrics]] = field(default_factory=dict)   # method -> map -> metrics
    seconds: dict[str, dict[str, float]] = field(default_factory=dict)     # method -> map -> s
    skipped: dict[str, str] = field(default_factory=dict)
    group_by: str | None = None
    report_dir: Path | None = None
    files: list[Path] = field(default_factory=list)
    steps: dict[str, tuple[float, float]] = field(default_factory=dict)     # map -> step (um)

    @property
    def maps(self) -> list[str]:
        first = next(iter(self.per_map.values()), {})
        return list(first)

    def overall(self, method: str) -> Metrics:
        return aggregate(self.per_map[method].values())

    def accuracies(self) -> dict[str, dict[str, float]]:
        """method -> {map: CA, ..., "all": pooled CA}."""
        out = {}
        for m, per in self.per_map.items():
            out[m] = {name: met.accuracy for name, met in per.items()}
            out[m]["all"] = self.overall(m).accuracy
        return out

    def mean_seconds(self) -> dict[str, float | None]:
        """method -> mean seconds per map (None where no map was timed)."""
        return {m: (float(np.mean(list(per.values()))) if per else None) for m, per in self.seconds.items()}

    def to_dict(self) -> dict:
        methods = {}
        for m in self.per_map:
            d = self.overall(m).to_dict()
            d["spec"] = next(x.spec for x in self.methods if x.label == m)
            d["per_map"] = {}
            for name, met in self.per_map[m].items():
                md = met.to_dict()
                md["seconds"] = self.seconds[m][name]
                d["per_map"][name] = md
            d["seconds_per_map"] = self.mean_seconds()[m]
            if self.group_by:
                d["groups"] = {g: gm.to_dict() for g, gm in group_metrics(self.per_map[m], self.group_by).items()}
            methods[m] = d
        acc = {m: {k: (None if v != v else v) for k, v in a.items()} for m, a in self.accuracies().items()}
        return {"classes": list(self.classes.names), "maps": self.maps, "methods": methods,
                "accuracy": acc, "skipped": dict(self.skipped)}


def compare_maps(
    maps: Sequence[str | os.PathLike],
    methods: str | Sequence[str] | list[Method],
    labels: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None,
    group_by: str | None = None,
    seed: int = 0,
    progress: ProgressFactory = no_progress,
) -> Comparison:
    """Run every method on every map and score it against ``<labels>/<stem>.labels.png``
    (default: labels beside each map). A map that cannot be read or has no labels is
    skipped and listed in ``Comparison.skipped``."""
    from ebsdphase.io import read_map
    from ebsdphase.io.discover import expand_maps

    files = expand_maps([maps] if isinstance(maps, (str, os.PathLike)) else maps)
    if not (isinstance(methods, list) and methods and isinstance(methods[0], Method)):
        methods = parse_methods(methods)  # type: ignore[arg-type]
    classes = _class_set(methods, files, labels)
    result = Comparison(methods=methods, classes=classes, group_by=group_by)
    for m in methods:
        result.per_map[m.label] = {}
        result.seconds[m.label] = {}
    warmed: set[str] = set()
    images: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}


    with progress(len(files) * len(methods), "comparing") as bar:
        for f in files:
            stem = map_stem(f)
            try:
                ebsd = read_map(f)
                lab_file = labels_path(f, labels)
                truth = read_labels(lab_file, ebsd.shape)
            except EbsdphaseError as exc:
                result.skipped[stem] = str(exc)
                for _ in methods:
                    bar.advance()
                continue
            rows: dict[str, tuple[Metrics, float, np.ndarray]] = {}
            try:
                for m in methods:
                    if m.is_model and m.label not in warmed:
                        _run(m, ebsd, truth, seed)  # compile outside the timing
                        warmed.add(m.label)
                    # each method pays for the KAM and grains it needs, so the times compare
                    ebsd.cache.clear()
                    notes: dict = {}
                    t0 = time.perf_counter()
                    pred = _run(m, ebsd, truth, seed, notes)
                    dt = time.perf_counter() - t0
                    met = evaluate(pred, truth, classes, indexed=ebsd.indexed)
                    if notes:
                        met.extra["baseline"] = _jsonable(notes, classes)
                    rows[m.label] = (met, dt, pred)
                    bar.advance()
            except EbsdphaseError as exc:
                result.skipped[stem] = f"{exc}"
                continue
            result.steps[stem] = tuple(ebsd.step)
            for label, (met, dt, pred) in rows.items():
                result.per_map[label][stem] = met
                result.seconds[label][stem] = dt
                if out_dir is not None:
                    images[(stem, label)] = (pred, truth)
    if not result.maps:
        detail = "; ".join(result.skipped.values()) or "no maps"
        raise EbsdphaseError(f"nothing to compare: {detail}")
    if out_dir is not None:
        write_comparison(result, out_dir, images)
    return result


def _run(m: Method, ebsd, truth: np.ndarray, seed: int, notes: dict | None = None) -> np.ndarray:
    if m.is_model:
        from ebsdphase.prediction.engine import predict

        return predict(ebsd, m.bundle).classes
    from ebsdphase.evaluation.baselines import run_baseline

    return np.asarray(run_baseline(m.spec, ebsd, truth, seed=seed, notes=notes), np.uint8)


def _write_html(result: "Comparison", out: Path, sections: dict[str, list[Path]]) -> Path:
    """``report.html``: CA and balanced accuracy per method and map, the charts, the accuracy
    figures of every map and method."""
    from ebsdphase.htmlreport import percent as pct, write_report

    accs = result.accuracies()
    header = ["method"] + list(result.maps) + ["all", "balanced %", "s / map"]
    rows = []
    secs = result.mean_seconds()
    for label in result.per_map:
        rows.append([label] + [pct(accs[label].get(m)) for m in result.maps]
                    + [pct(accs[label]["all"]), pct(result.overall(label).balanced_accuracy),
                       f"{secs[label]:.3g}" if secs[label] is not None else ""])
    notes = [f"skipped {k}: {v}" for k, v in result.skipped.items()]
    figures = [out / "accuracy.png"] + [out / f"confusion_{_safe(m)}.png" for m in result.per_map]
    return write_report(out / "report.html", "Comparison", header, rows, sections, notes, figures)


def _jsonable(notes: dict, classes: ClassSet) -> dict:
    """A baseline's notes for metrics.json, class indices named."""
    out = dict(notes)
    if "high_class" in out and out["high_class"] is not None:
        out["above_threshold"] = classes.names[int(out.pop("high_class"))]
    if out.get("stroke_means"):
        out["stroke_means"] = {classes.names[int(k)]: v for k, v in out["stroke_means"].items()}
    return out


def _class_set(methods: list[Method], files: list[Path], labels) -> ClassSet:
    """The classes all methods and labels share (model cards, else the labels' sidecar)."""
    sets = [m.bundle.classes for m in methods if m.is_model]
    for s in sets[1:]:
        if s.names != sets[0].names:
            raise EbsdphaseError(f"models disagree on the classes: {list(sets[0].names)} vs {list(s.names)}")
    if sets:
        return sets[0]
    for f in files:
        lab = labels_path(f, labels)
        if lab.exists():
            return read_classes(lab)
    return ClassSet()


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", label).strip("_") or "method"


def write_comparison(result: Comparison, out_dir: str | os.PathLike,
                     images: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] | None = None) -> Path:
    """metrics.json, accuracy.png, one confusion matrix per method and the accuracy maps."""
    from ebsdphase import plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [plots.accuracy_bars(out / "accuracy.png", result.accuracies(),
                                 title="Classification accuracy per map and method",
                                 seconds=result.mean_seconds())]
    for m in result.per_map:
        files.append(plots.confusion_figure(out / f"confusion_{_safe(m)}.png", result.overall(m), title=m))
    from ebsdphase.evaluation.run import accuracy_legend

    legend = accuracy_legend(result.classes)
    sections: dict[str, list[Path]] = {}
    for (stem, label), (pred, truth) in (images or {}).items():
        rgb = accuracy_map(pred, truth, result.classes)
        files.append(plots.save_accuracy_map(out / f"{stem}.{_safe(label)}.accuracy.png", rgb))
        step = result.steps.get(stem)
        fig = plots.accuracy_figure(out / f"{stem}.{_safe(label)}.accuracy.figure.png", rgb, legend,
                                    result.per_map[label][stem].accuracy, step[0] if step else None,
                                    f"{stem}, {label}")
        files.append(fig)
        sections.setdefault(stem, []).append(fig)
    files.append(_write_html(result, out, sections))

    data = result.to_dict()
    data["accuracy_map_colours"] = accuracy_legend(result.classes)
    path = out / "metrics.json"
    write_text_atomic(path, json.dumps(data, indent=2))
    result.report_dir = out
    result.files = [path, *files]
    return path
