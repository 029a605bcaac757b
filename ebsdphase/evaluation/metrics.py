"""Pixel-wise scores of a phase map against labels (the paper's section 3.5).

* **accuracy** is the paper's classification accuracy (CA): correctly predicted pixels over
  all *labelled* pixels. Unlabelled pixels (label 255) are left out of every score and
  counted in ``n_unlabelled``.
* **confusion_matrix[t, p]** counts pixels labelled ``t`` and predicted ``p`` (rows are
  the truth, as in the paper's Table 3). With ferrite = 0 and martensite = 1,
  ``[1, 0]`` is the paper's *false ferrite* and ``[0, 1]`` its *false martensite*.
* **precision[k]** = correct ``k`` / predicted ``k``; **recall[k]** = correct ``k`` /
  labelled ``k`` (NaN, written as ``null`` in JSON, when the denominator is 0).
* **balanced_accuracy** = mean recall over the classes that are labelled: a model that
  predicts one class everywhere scores 1/K there, however rare the other classes;
  **kappa** is Cohen's kappa, agreement beyond what the two marginals give by chance (0 for
  any constant prediction, 1 for perfect, < 0 worse than chance); **f1[k]** = 2PR/(P+R) and
  **iou[k]** = correct ``k`` / (labelled ``k`` + predicted ``k`` - correct ``k``).
* **fractions**: ``true`` and ``predicted`` over the labelled pixels (the comparison of the
  paper's Table 2), and the prediction over ``all`` pixels and over ``indexed`` pixels.

Metrics of several maps add up by summing their counts (``sum(list_of_metrics)`` or
:func:`aggregate`), which gives the CA "over the testing dataset" of the paper, i.e.
pixel-weighted, not a mean of per-map accuracies.

Accuracy maps (Fig. 6 of the paper): white where correct, grey (160, 160, 160) where
unlabelled, and one colour per kind of error, see :func:`error_colours`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.core.classes import UNLABELLED, ClassSet

CORRECT_COLOUR = (255, 255, 255)
UNLABELLED_COLOUR = (160, 160, 160)
#: error colours for more than two classes, one per (true, predicted) pair in row-major
#: order (Tableau 20, darkest first, so no colour is white or the unlabelled grey)
PAIR_PALETTE: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (188, 189, 34), (23, 190, 207), (127, 127, 127),
    (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
    (196, 156, 148), (247, 182, 210), (219, 219, 141), (158, 218, 229), (0, 0, 0),
)


@dataclass
class Metrics:
    """Counts behind every score; the scores are derived properties.

    ``pred_all`` and ``pred_indexed`` count predicted classes over all pixels and over
    indexed pixels (labelled or not); ``n_indexed`` is ``None`` when no indexed mask was
    given.
    """

    classes: ClassSet
    confusion_matrix: np.ndarray
    n_unlabelled: int = 0
    pred_all: np.ndarray | None = None
    pred_indexed: np.ndarray | None = None
    n_indexed: int | None = None
    n_maps: int = 1
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        k = len(self.classes)
        self.confusion_matrix = np.asarray(self.confusion_matrix, dtype=np.int64).reshape(k, k)
        if self.pred_all is None:
            self.pred_all = self.confusion_matrix.sum(axis=0)
        self.pred_all = np.asarray(self.pred_all, dtype=np.int64)
        if self.pred_indexed is not None:
            self.pred_indexed = np.asarray(self.pred_indexed, dtype=np.int64)

    # -- scores ----------------------------------------------------------------------
    @property
    def n_labelled(self) -> int:
        return int(self.confusion_matrix.sum())

    @property
    def n_pixels(self) -> int:
        return int(self.pred_all.sum())

    @property
    def n_correct(self) -> int:
        return int(np.trace(self.confusion_matrix))

    @property
    def accuracy(self) -> float:
        """The paper's CA: correct / labelled pixels (NaN when nothing is labelled)."""
        n = self.n_labelled
        return self.n_correct / n if n else math.nan

    @property
    def precision(self) -> np.ndarray:
        return _ratio(np.diag(self.confusion_matrix), self.confusion_matrix.sum(axis=0))

    @property
    def recall(self) -> np.ndarray:
        return _ratio(np.diag(self.confusion_matrix), self.confusion_matrix.sum(axis=1))

    @property
    def balanced_accuracy(self) -> float:
        """Mean recall over the labelled classes (NaN when nothing is labelled)."""
        r = self.recall
        r = r[np.isfinite(r)]
        return float(r.mean()) if r.size else math.nan

    @property
    def f1(self) -> np.ndarray:
        cm = self.confusion_matrix
        return _ratio(2 * np.diag(cm), cm.sum(axis=0) + cm.sum(axis=1))

    @property
    def iou(self) -> np.ndarray:
        cm = self.confusion_matrix
        return _ratio(np.diag(cm), cm.sum(axis=0) + cm.sum(axis=1) - np.diag(cm))

    @property
    def kappa(self) -> float:
        """Cohen's kappa (NaN when nothing is labelled; 0 when chance agreement is total)."""
        cm = self.confusion_matrix.astype(np.float64)
        n = cm.sum()
        if n == 0:
            return math.nan
        observed = np.trace(cm) / n
        chance = float((cm.sum(axis=0) * cm.sum(axis=1)).sum()) / (n * n)
        return 0.0 if chance >= 1.0 else (observed - chance) / (1.0 - chance)

    @property
    def majority_only(self) -> bool:
        """True when more than one class is labelled but a single class is predicted on
        every labelled pixel: a score of such a model says nothing about the phases."""
        cm = self.confusion_matrix
        return int(np.count_nonzero(cm.sum(axis=1))) > 1 and int(np.count_nonzero(cm.sum(axis=0))) == 1

    @property
    def fractions(self) -> dict[str, dict[str, float] | None]:
        cm = self.confusion_matrix
        out: dict[str, dict[str, float] | None] = {
            "true": self._named(_ratio(cm.sum(axis=1), cm.sum())),
            "predicted": self._named(_ratio(cm.sum(axis=0), cm.sum())),
            "all": self._named(_ratio(self.pred_all, self.pred_all.sum())),
            "indexed": None,
        }
        if self.pred_indexed is not None:
            out["indexed"] = self._named(_ratio(self.pred_indexed, self.pred_indexed.sum()))
        return out

    def _named(self, values: np.ndarray) -> dict[str, float]:
        return {n: _json_float(v) for n, v in zip(self.classes.names, values)}

    # -- combination -----------------------------------------------------------------
    def __add__(self, other: "Metrics") -> "Metrics":
        if not isinstance(other, Metrics):
            return NotImplemented
        if other.classes.names != self.classes.names:
            raise EbsdphaseError(f"cannot add metrics of classes {list(self.classes.names)} "
                                 f"and {list(other.classes.names)}")
        both_indexed = self.pred_indexed is not None and other.pred_indexed is not None
        return Metrics(
            classes=self.classes,
            confusion_matrix=self.confusion_matrix + other.confusion_matrix,
            n_unlabelled=self.n_unlabelled + other.n_unlabelled,
            pred_all=self.pred_all + other.pred_all,
            pred_indexed=self.pred_indexed + other.pred_indexed if both_indexed else None,
            n_indexed=(self.n_indexed + other.n_indexed) if both_indexed else None,
            n_maps=self.n_maps + other.n_maps,
        )

    def __radd__(self, other: object) -> "Metrics":
        if other == 0:  # lets the builtin sum() start from 0
            return self
        return NotImplemented

    # -- output ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready: plain lists and floats, NaN as ``None``."""
        names = list(self.classes.names)
        return {
            "accuracy": _json_float(self.accuracy),
            "balanced_accuracy": _json_float(self.balanced_accuracy),
            "kappa": _json_float(self.kappa),
            "majority_only": self.majority_only,
            "confusion_matrix": self.confusion_matrix.tolist(),
            "classes": names,
            "precision": self._named(self.precision),
            "recall": self._named(self.recall),
            "f1": self._named(self.f1),
            "iou": self._named(self.iou),
            "fractions": self.fractions,
            "n_pixels": self.n_pixels,
            "n_labelled": self.n_labelled,
            "n_unlabelled": int(self.n_unlabelled),
            "n_indexed": self.n_indexed,
            "n_maps": self.n_maps,
            **self.extra,
        }


def _ratio(num: np.ndarray, den: np.ndarray | int) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.broadcast_to(np.asarray(den, dtype=np.float64), num.shape)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _json_float(v: float) -> float | None:
    v = float(v)
    return None if math.isnan(v) else v


def confusion_matrix(truth: np.ndarray, pred: np.ndarray, n_classes: int) -> tuple[np.ndarray, int]:
    """(K, K) int64 counts of (true, predicted) pairs and the number of unlabelled pixels.

    Raises :class:`EbsdphaseError` when a label or prediction is not a class index.
    """
    truth = np.asarray(truth)
    pred = np.asarray(pred)
    if truth.shape != pred.shape:
        raise EbsdphaseError(f"labels are {_shape(truth)} but the prediction is {_shape(pred)}")
    t = truth.ravel()
    p = pred.ravel()
    labelled = t != UNLABELLED
    n_unlabelled = int(t.size - np.count_nonzero(labelled))
    if n_unlabelled:
        t = t[labelled]
        p = p[labelled]
    t = t.astype(np.int64, copy=False)
    p = p.astype(np.int64, copy=False)
    if t.size and (t.max() >= n_classes or t.min() < 0):
        raise EbsdphaseError(f"labels hold class {int(t.max())} but there are only {n_classes} "
                             f"classes (0..{n_classes - 1}, 255 = unlabelled)")
    if p.size and (p.max() >= n_classes or p.min() < 0):
        raise EbsdphaseError(f"prediction holds class {int(p.max())} but there are only "
                             f"{n_classes} classes")
    cm = np.bincount(t * n_classes + p, minlength=n_classes * n_classes)
    return cm.reshape(n_classes, n_classes).astype(np.int64), n_unlabelled


def _shape(a: np.ndarray) -> str:
    return " x ".join(str(s) for s in a.shape)


def evaluate(pred, labels: np.ndarray, classes: ClassSet | None = None,
             indexed: np.ndarray | None = None) -> Metrics:
    """Score a prediction against labels.

    ``pred`` is a (rows, cols) array of class indices or a
    :class:`~ebsdphase.prediction.engine.Prediction` (its class set is used when ``classes`` is
    not given). ``indexed`` (bool, same grid) adds the predicted fractions over indexed
    pixels.
    """
    if classes is None:
        classes = getattr(pred, "class_set", None) or ClassSet()
    pred_arr = np.asarray(getattr(pred, "classes", pred))
    k = len(classes)
    cm, n_unl = confusion_matrix(labels, pred_arr, k)
    flat = pred_arr.ravel().astype(np.int64, copy=False)
    pred_all = np.bincount(flat, minlength=k)[:k]
    pred_idx = n_idx = None
    if indexed is not None:
        indexed = np.asarray(indexed, dtype=bool)
        if indexed.shape != pred_arr.shape:
            raise EbsdphaseError(f"indexed mask is {_shape(indexed)} but the prediction is "
                                 f"{_shape(pred_arr)}")
        pred_idx = np.bincount(flat[indexed.ravel()], minlength=k)[:k]
        n_idx = int(np.count_nonzero(indexed))
    return Metrics(classes=classes, confusion_matrix=cm, n_unlabelled=n_unl, pred_all=pred_all,
                   pred_indexed=pred_idx, n_indexed=n_idx)


def aggregate(metrics: Iterable[Metrics]) -> Metrics:
    """Pool several maps' metrics (sums of counts, so pixel-weighted scores)."""
    items = list(metrics)
    if not items:
        raise EbsdphaseError("no metrics to aggregate")
    return sum(items[1:], items[0])


def group_key(name: str, pattern: str | re.Pattern) -> str | None:
    """The group of a map name: the first capture group of ``pattern`` if it has one, else
    the whole match; ``None`` when the pattern does not match (``re.search``)."""
    rx = re.compile(pattern) if isinstance(pattern, str) else pattern
    m = rx.search(name)
    if m is None:
        return None
    return m.group(1) if rx.groups else m.group(0)


def group_metrics(per_map: dict[str, Metrics], pattern: str) -> dict[str, Metrics]:
    """Pool per-map metrics by :func:`group_key`; maps that do not match go to ``"(other)"``."""
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise EbsdphaseError(f"group_by={pattern!r} is not a valid regular expression ({exc})") from None
    groups: dict[str, list[Metrics]] = {}
    for name, m in per_map.items():
        key = group_key(name, rx)
        groups.setdefault("(other)" if key is None else key, []).append(m)
    return {k: aggregate(v) for k, v in sorted(groups.items())}


# -- accuracy maps -------------------------------------------------------------------------
def error_colours(classes: ClassSet) -> dict[tuple[int, int], tuple[int, int, int]]:
    """The colour of each kind of error, keyed by (true class, predicted class).

    With two classes the paper's Fig. 6 convention: an error is drawn in the colour of its
    *true* class, so with ferrite red and martensite blue, false ferrite (labelled
    martensite, predicted ferrite) is blue and false martensite is red. With more classes
    each (true, predicted) pair gets its own colour from :data:`PAIR_PALETTE`, in
    row-major order of the pairs.
    """
    k = len(classes)
    pairs = [(t, p) for t in range(k) for p in range(k) if t != p]
    if k == 2:
        return {(t, p): tuple(classes.colours[t]) for t, p in pairs}
    return {pair: PAIR_PALETTE[i % len(PAIR_PALETTE)] for i, pair in enumerate(pairs)}


def error_kind_names(classes: ClassSet) -> dict[tuple[int, int], str]:
    """Legend text of each error kind: 'false ferrite' for two classes (as the paper), else
    'martensite as ferrite' (true as predicted)."""
    n = classes.names
    k = len(n)
    if k == 2:
        return {(t, p): f"false {n[p]}" for t in range(2) for p in range(2) if t != p}
    return {(t, p): f"{n[t]} as {n[p]}" for t in range(k) for p in range(k) if t != p}


def accuracy_map(pred: np.ndarray, labels: np.ndarray, classes: ClassSet) -> np.ndarray:
    """(rows, cols, 3) uint8 RGB accuracy map: white correct, grey unlabelled, and the
    colour of :func:`error_colours` for each error."""
    pred = np.asarray(getattr(pred, "classes", pred))
    labels = np.asarray(labels)
    if pred.shape != labels.shape:
        raise EbsdphaseError(f"labels are {_shape(labels)} but the prediction is {_shape(pred)}")
    k = len(classes)
    # one lookup table over the code true*K + pred (unlabelled mapped to code K*K)
    lut = np.empty((k * k + 1, 3), np.uint8)
    for t in range(k):
        lut[t * k + t] = CORRECT_COLOUR
    for (t, p), c in error_colours(classes).items():
        lut[t * k + p] = c
    lut[k * k] = UNLABELLED_COLOUR
    t = labels.astype(np.int64)
    code = t * k + np.minimum(pred.astype(np.int64), k - 1)
    code[(labels == UNLABELLED) | (t >= k)] = k * k
    return lut[code]
