"""The labelling pipeline of section 2.3 of the paper, each stage optional.

1. pre-labelling: a threshold on a channel, a pixel forest trained on scribbles, or an
   existing label image;
2. grain majority vote (grains at ``grain_angle`` degrees);
3. a rule for non-indexed pixels (``martensite`` with the erode/dilate clean-up,
   ``nearest`` or ``ignore``).

:func:`label_map` returns the final labels and the labels after every stage, so that
the effect of each stage can be measured against a ground truth (:func:`agreement`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.features import parse_names
from ebsdphase.labelling.threshold import LABEL_CHANNEL
from ebsdphase.labelling.unindexed import RULES, handle_unindexed
from ebsdphase.core.classes import UNLABELLED, ClassSet, read_labels

if TYPE_CHECKING:
    from ebsdphase.core.ebsdmap import EBSDMap
    from ebsdphase.labelling.forest import PixelForest

PRELABELS = ("threshold", "forest", "file")


@dataclass
class LabelResult:
    """Final ``labels`` (uint8, 255 = unlabelled) and the labels after each stage run.

    ``stages`` maps "prelabel", "majority", "unindexed" (those that ran, in order) to
    their labels; ``info`` holds what was decided on the way (threshold, grain count,
    fraction of pixels each stage changed).
    """

    labels: np.ndarray
    stages: dict[str, np.ndarray]
    classes: ClassSet
    info: dict[str, Any] = field(default_factory=dict)

    def agreement(self, truth: np.ndarray) -> dict[str, float]:
        """Agreement of every stage with ``truth`` (see :func:`agreement`)."""
        return {name: agreement(lab, truth) for name, lab in self.stages.items()}


def agreement(labels: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of the pixels labelled in ``truth`` where ``labels`` has the same class.

    A pixel left unlabelled (255) in ``labels`` counts as a disagreement.
    """
    labels = np.asarray(labels)
    truth = np.asarray(truth)
    if labels.shape != truth.shape:
        raise ValueError(f"labels {labels.shape} and truth {truth.shape} differ in shape")
    known = truth != UNLABELLED
    n = int(np.count_nonzero(known))
    return float(np.count_nonzero((labels == truth) & known)) / n if n else float("nan")


def _as_labels(value: np.ndarray | str | os.PathLike, ebsd: "EBSDMap", what: str) -> tuple[np.ndarray, str]:
    if isinstance(value, (str, os.PathLike)):
        return read_labels(value, ebsd.shape), os.fspath(value)
    arr = np.asarray(value)
    if arr.shape != ebsd.shape:
        raise EbsdphaseError(f"{ebsd.source or 'map'}: {what} are {arr.shape} but the map is "
                             f"{ebsd.rows} x {ebsd.cols}")
    return arr.astype(np.uint8), what


def _check_classes(labels: np.ndarray, classes: ClassSet, origin: str) -> None:
    bad = (labels != UNLABELLED) & (labels >= len(classes))
    if bad.any():
        vals = sorted({int(v) for v in np.unique(labels[bad])})
        raise EbsdphaseError(f"{origin}: {int(bad.sum())} pixels hold class indices {vals} but only "
                             f"{len(classes)} classes are defined ({', '.join(classes.names)})")


def label_map(
    ebsd: "EBSDMap",
    prelabel: str | np.ndarray | "PixelForest" = "threshold",
    *,
    channel: str = LABEL_CHANNEL,
    value: float | None = None,
    grain_average: bool = False,
    scribbles: np.ndarray | str | os.PathLike | None = None,
    from_labels: np.ndarray | str | os.PathLike | None = None,
    grain_angle: float | None = 2.0,
    keep_pixels_above: int | None = None,
    unindexed: str | None = "martensite",
    cleanup_radius: int = 1,
    classes: ClassSet | None = None,
    seed: int = 0,
    n_estimators: int = 50,
    high_class: int | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> LabelResult:
    """Label every pixel of ``ebsd`` (see the module docstring for the stages).

    ``prelabel`` is "threshold" (``channel``, ``value``: Otsu when None, ``grain_average``),
    "forest" (``scribbles``: array or scribble PNG; ``channel`` may list several channels,
    e.g. "bs,kam"), "file" (``from_labels``: array or label PNG), a label array, or a
    trained :class:`~ebsdphase.labelling.forest.PixelForest`. ``high_class``: the class of
    values above the threshold (default: martensite for kam/mad/fit, ferrite for quality
    indices). ``grain_angle=None`` skips the
    grain majority vote, ``unindexed=None`` leaves non-indexed pixels as pre-labelled.
    """
    classes = classes or ClassSet()
    note = on_stage or (lambda stage: None)
    info: dict[str, Any] = {}
    grain_ids = None

    def grains_at(angle: float) -> np.ndarray:
        nonlocal grain_ids
        if grain_ids is None:
            from ebsdphase.crystal import grains

            grain_ids = np.asarray(grains(ebsd, angle))
            info["n_grains"] = int(grain_ids.max()) + 1 if grain_ids.size else 0
        return grain_ids

    if unindexed is not None and unindexed not in RULES:
        raise EbsdphaseError(f"unknown rule for non-indexed pixels {unindexed!r} (known: {', '.join(RULES)})")
    martensite = 1
    if unindexed == "martensite":
        if "martensite" not in classes.names:
            raise EbsdphaseError(f"unindexed=martensite needs a class named 'martensite' "
                                 f"(classes: {', '.join(classes.names)})")
        martensite = classes.names.index("martensite")

    # -- 1. pre-labelling -----------------------------------------------------------------
    note("prelabel")
    origin = ebsd.source or "map"
    if isinstance(prelabel, str):
        kind = prelabel
        if kind == "threshold":
            from ebsdphase.labelling.threshold import default_high_class, threshold_labels

            names = parse_names(channel)
            if len(names) != 1:
                raise EbsdphaseError(f"the threshold pre-labelling uses one channel, got {channel!r}")
            angle = grain_angle or 2.0
            pre, t = threshold_labels(ebsd, names[0], value, grain_average,
                                      grain_ids=grains_at(angle) if grain_average else None,
                                      high_class=high_class)
            # `quality` names a different channel per vendor (and its own scale, which a --value
            # applies to): the record says which one this map's threshold is on
            shown = names[0]
            if shown == LABEL_CHANNEL:
                from ebsdphase.features import quality_source

                shown = f"quality ({quality_source(ebsd)})"
            info.update(channel=shown, threshold=t, grain_average=bool(grain_average),
                        high_class=default_high_class(names[0]) if high_class is None else int(high_class))
        elif kind == "forest":
            from ebsdphase.labelling.forest import train_forest
            from ebsdphase.labelling.scribbles import read_scribbles

            if scribbles is None:
                raise EbsdphaseError("the forest pre-labelling needs scribbles (scribbles=S.png)")
            if isinstance(scribbles, (str, os.PathLike)):
                s, origin = read_scribbles(scribbles, ebsd.shape, classes), os.fspath(scribbles)
            else:
                s, origin = _as_labels(scribbles, ebsd, "scribbles")
            _check_classes(s, classes, origin)
            pre = train_forest(ebsd, s, parse_names(channel), n_estimators=n_estimators,
                               seed=seed).predict(ebsd)
            info.update(channels=list(parse_names(channel)))
        elif kind == "file":
            if from_labels is None:
                raise EbsdphaseError("the file pre-labelling needs a label image (from_labels=LABELS.png)")
            pre, origin = _as_labels(from_labels, ebsd, "labels")
        else:
            raise EbsdphaseError(f"unknown pre-labelling {kind!r} (known: {', '.join(PRELABELS)})")
    elif hasattr(prelabel, "predict"):
        kind = "forest"
        pre = prelabel.predict(ebsd)
    else:
        kind = "array"
        pre, origin = _as_labels(prelabel, ebsd, "pre-labels")
    _check_classes(pre, classes, origin)
    info["prelabel"] = kind
    stages = {"prelabel": pre.copy()}
    current = pre

    # -- 2. grain majority ------------------------------------------------------------------
    if grain_angle:
        note("majority")
        from ebsdphase.labelling.majority import grain_majority

        current = grain_majority(current, grains_at(grain_angle), keep_pixels_above)
        info["grain_angle"] = float(grain_angle)
        stages["majority"] = current

    # -- 3. non-indexed pixels --------------------------------------------------------------
    if unindexed is not None:
        note("unindexed")
        current = handle_unindexed(current, ebsd.indexed, unindexed, martensite, cleanup_radius)
        info["unindexed"] = unindexed
        stages["unindexed"] = current

    names = list(stages)
    info["changed"] = {b: float(np.mean(stages[a] != stages[b])) for a, b in zip(names, names[1:])}
    return LabelResult(labels=current, stages=stages, classes=classes, info=info)
