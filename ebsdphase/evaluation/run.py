"""Score predictions against labels and write a report (``ebsdphase evaluate``).

(Named ``evaluation`` so that ``ebsdphase.evaluate`` stays the function of the public API.)

A report folder holds ``metrics.json`` (pooled scores of all maps under the keys
``accuracy``, ``confusion_matrix``, ``classes``, ``precision``, ``recall``, ``fractions``,
``n_unlabelled``; then ``per_map`` and, with ``group_by``, ``groups``), one accuracy map
``<stem>.accuracy.png`` per map (see :func:`ebsdphase.evaluation.metrics.error_colours`),
``confusion.png`` and ``accuracy.png`` (accuracy per map, as the paper's Fig. 7).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ebsdphase.core.atomic import write_text_atomic
from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.core.report import ProgressFactory, no_progress
from ebsdphase.core.classes import ClassSet, labels_path, read_classes, read_labels, sidecar_path
from ebsdphase.evaluation.metrics import (Metrics, accuracy_map, aggregate, error_colours, error_kind_names, evaluate,
                                          group_metrics)
from ebsdphase.prediction.result import SUFFIX, prediction_stem, read_prediction


@dataclass
class Evaluation:
    """Per-map and pooled metrics, the maps that could not be scored and why."""

    per_map: dict[str, Metrics]
    classes: ClassSet
    groups: dict[str, Metrics] | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    report_dir: Path | None = None
    files: list[Path] = field(default_factory=list)
    steps: dict[str, tuple[float, float]] = field(default_factory=dict)  # map -> step (um), when known

    @property
    def overall(self) -> Metrics:
        return aggregate(self.per_map.values())

    @property
    def accuracy(self) -> float:
        return self.overall.accuracy

    def to_dict(self) -> dict:
        out = self.overall.to_dict()
        out["per_map"] = {name: m.to_dict() for name, m in self.per_map.items()}
        accs = [m.accuracy for m in self.per_map.values() if np.isfinite(m.accuracy)]
        out["mean_map_accuracy"] = float(np.mean(accs)) if accs else None
        if self.groups is not None:
            out["groups"] = {name: m.to_dict() for name, m in self.groups.items()}
        out["skipped"] = dict(self.skipped)
        out["accuracy_map_colours"] = accuracy_legend(self.classes)
        return out


def accuracy_legend(classes: ClassSet) -> dict[str, list[int]]:
    """The accuracy-map colours by meaning, as written to metrics.json."""
    from ebsdphase.evaluation.metrics import CORRECT_COLOUR, UNLABELLED_COLOUR

    names = error_kind_names(classes)
    legend = {"correct": list(CORRECT_COLOUR)}
    legend.update({names[pair]: list(c) for pair, c in error_colours(classes).items()})
    legend["unlabelled"] = list(UNLABELLED_COLOUR)
    return legend


def find_predictions(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """``.phases.h5`` files among ``inputs`` (files, folders or glob patterns), sorted."""
    from ebsdphase.core.inputs import expand_inputs

    return expand_inputs(inputs, accept=lambda p: p.name.endswith(SUFFIX), what="prediction (.phases.h5)")


def evaluate_predictions(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    labels: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None,
    group_by: str | None = None,
    plots: bool = True,
    skipped: dict[str, str] | None = None,
) -> Evaluation:
    """Score every ``<stem>.phases.h5`` in ``inputs`` against ``<labels>/<stem>.labels.png``
    (``labels=None``: beside the map each prediction was made from, as recorded in it).

    A prediction without labels, or whose labels do not fit, is skipped and listed in
    ``Evaluation.skipped``; when nothing can be scored an :class:`EbsdphaseError` is raised.
    With ``out_dir`` the report (metrics.json and PNGs) is written there. ``skipped``
    pre-lists maps that failed earlier (e.g. in prediction) so the report names them.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    files = find_predictions(inputs)
    labels_dir = None if labels is None else Path(labels)
    if labels_dir is not None and not labels_dir.is_dir():
        raise EbsdphaseError(f"{labels_dir}: labels folder not found")
    per_map: dict[str, Metrics] = {}
    skipped = dict(skipped or {})
    pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    steps: dict[str, tuple[float, float]] = {}
    classes: ClassSet | None = None
    for f in files:
        stem = prediction_stem(f)
        try:
            pred = read_prediction(f, probabilities=False)
            if labels_dir is not None:
                lab_file = labels_path(stem + ".x", labels_dir)
            elif pred.source:
                lab_file = labels_path(pred.source)
            else:
                raise EbsdphaseError(f"{f}: the prediction does not name its map; give the labels folder")
            lab = read_labels(lab_file, pred.shape)
            _check_classes(lab_file, pred.class_set)
            if classes is None:
                classes = pred.class_set
            elif classes.names != pred.class_set.names:
                raise EbsdphaseError(f"{f}: classes {list(pred.class_set.names)} differ from "
                                     f"{list(classes.names)} of the other predictions")
            try:
                per_map[stem] = evaluate(pred.classes, lab, pred.class_set, indexed=pred.indexed)
            except EbsdphaseError as exc:
                raise EbsdphaseError(f"{lab_file} against {f}: {exc}") from None
        except EbsdphaseError as exc:
            skipped[stem] = str(exc)
            continue
        if out_dir is not None and plots:
            pairs[stem] = (pred.classes, lab)
            if pred.step is not None:
                steps[stem] = pred.step
    if not per_map:
        detail = "; ".join(skipped.values()) if skipped else "no predictions"
        raise EbsdphaseError(f"nothing to evaluate: {detail}")
    result = Evaluation(per_map=per_map, classes=classes, skipped=skipped, steps=steps)
    if group_by:
        result.groups = group_metrics(per_map, group_by)
    if out_dir is not None:
        write_report(result, out_dir, pairs if plots else None)
    return result


def _check_classes(label_file: Path, classes: ClassSet) -> None:
    sidecar_classes = read_classes(label_file)
    sidecar = sidecar_path(label_file)
    if sidecar.exists() and sidecar_classes.names != classes.names:
        raise EbsdphaseError(f"{label_file}: labels are for classes {list(sidecar_classes.names)} "
                             f"but the prediction has {list(classes.names)}")


def write_report(result: Evaluation, out_dir: str | os.PathLike,
                 images: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
                 extra: dict | None = None) -> Path:
    """Write metrics.json, the accuracy maps of ``images`` ({stem: (pred, labels)}), the
    confusion matrix and the per-map accuracy chart into ``out_dir``."""
    from ebsdphase import plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result.report_dir = out
    files: list[Path] = []
    legend = accuracy_legend(result.classes)
    for stem, (pred, lab) in (images or {}).items():
        rgb = accuracy_map(pred, lab, result.classes)
        files.append(plots.save_accuracy_map(out / f"{stem}.accuracy.png", rgb))
        step = result.steps.get(stem)
        files.append(plots.accuracy_figure(out / f"{stem}.accuracy.figure.png", rgb, legend,
                                           result.per_map[stem].accuracy, step[0] if step else None, stem))
    if images is not None:
        overall = result.overall
        files.append(plots.confusion_figure(out / "confusion.png", overall))
        accs = {name: m.accuracy for name, m in result.per_map.items()}
        accs["all"] = overall.accuracy
        files.append(plots.accuracy_bars(out / "accuracy.png", {"prediction": accs}))
    data = result.to_dict()
    if extra:
        data.update(extra)
    metrics_file = out / "metrics.json"
    write_text_atomic(metrics_file, json.dumps(data, indent=2))
    files.insert(0, metrics_file)
    files.append(_write_html(result, out))
    result.files = files
    return metrics_file


def _write_html(result: Evaluation, out: Path) -> Path:
    """``report.html``: the scores per map and pooled, the run's charts, each map's accuracy map."""
    from ebsdphase.htmlreport import percent as pct, write_report

    header = ["map", "CA %", "balanced %", "kappa"] + [f"recall {n} %" for n in result.classes.names]
    rows = [[name, pct(m.accuracy), pct(m.balanced_accuracy), "" if m.kappa != m.kappa else f"{m.kappa:.3f}"]
            + [pct(r) for r in m.recall] for name, m in list(result.per_map.items()) + [("all", result.overall)]]
    notes = [f"skipped {k}: {v}" for k, v in result.skipped.items()]
    notes += [f"{name}: one class predicted on every labelled pixel" for name, m in result.per_map.items()
              if m.majority_only]
    sections = {stem: [out / f"{stem}.accuracy.figure.png"] for stem in result.per_map}
    return write_report(out / "report.html", "Evaluation", header, rows, sections, notes,
                        figures=[out / "confusion.png", out / "accuracy.png"])


def evaluate_maps(
    maps: Sequence[str | os.PathLike],
    model,
    out_dir: str | os.PathLike,
    labels: str | os.PathLike | None = None,
    group_by: str | None = None,
    tile: int | None = None,
    overlap: int = 0,
    force: bool = False,
    progress: ProgressFactory = no_progress,
):
    """Predict ``maps`` with ``model`` into ``out_dir/predictions`` then evaluate them
    against ``labels`` (default: the labels beside each map). Returns
    ``(Evaluation, PredictRun)``."""
    from ebsdphase.prediction.folder import predict_paths

    out = Path(out_dir)
    run = predict_paths(maps, model, out / "predictions", tile=tile, overlap=overlap, force=force,
                        progress=progress)
    done = [out / "predictions" / f"{s}{SUFFIX}" for s in run.done_stems]
    if not done:
        raise EbsdphaseError("no map could be predicted: " + "; ".join(run.failed.values()))
    result = evaluate_predictions(done, labels, out, group_by=group_by, skipped=run.failed)
    return result, run
