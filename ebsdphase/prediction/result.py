"""The result of a prediction and its file, ``<stem>.phases.h5`` (no keras needed here).

Layout (HDF5):
  /classes        (rows, cols) uint8   predicted class index per pixel
  /probabilities  (rows, cols, K) float32  softmax output per class
  /entropy        (rows, cols) float32  softmax entropy divided by ln K: 0 = certain,
                                        1 = all classes equally likely
  /indexed        (rows, cols) bool     the map's indexed pixels (phase_id > 0)
  /iron           (rows, cols) bool     the indexed pixels of body-centred iron; only for a map
                                        that indexes other phases too (duplex, TRIP steels)
  attrs: format="ebsdphase-phases", version=1, classes (JSON of ClassSet.to_dict()),
         model (name), source (input map path), recipe (JSON; may be "{}")
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ebsdphase.core.atomic import atomic_path
from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.core.classes import OTHER_PHASE, ClassSet

MAGIC = "ebsdphase-phases"
VERSION = 1
SUFFIX = ".phases.h5"
PNG_SUFFIX = ".phases.png"


@dataclass
class Prediction:
    """Per-pixel classes, probabilities and uncertainty of one map."""

    classes: np.ndarray          # (rows, cols) uint8
    probabilities: np.ndarray    # (rows, cols, K) float32
    entropy: np.ndarray          # (rows, cols) float32, normalised to [0, 1]
    class_set: ClassSet = ClassSet()
    model: str = ""
    source: str | None = None
    indexed: np.ndarray | None = None  # (rows, cols) bool, None when unknown
    recipe: dict | None = None
    #: why the map lies outside the model's training ranges (ebsdphase.models.domain); [] = inside
    outside_training: list[str] = field(default_factory=list)
    step: tuple[float, float] | None = None  # the map's step (um), for scale bars
    #: the model (a digest of its card and weights) and the settings that made this answer;
    #: a folder run redoes a map whose outputs were made otherwise ("" = unknown)
    produced_by: str = ""
    #: (rows, cols) bool: the indexed pixels of body-centred iron, for a map that also indexes
    #: other phases (austenite of a duplex or TRIP steel), whose pixels the classes do not
    #: describe; None: every indexed pixel is iron (:func:`ebsdphase.core.iron.iron_mask`)
    iron: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.classes.shape[0]), int(self.classes.shape[1]))

    def other_phase(self) -> np.ndarray | None:
        """(rows, cols) bool: the pixels indexed as another phase than body-centred iron, or
        None when there are none (or the map's indexed pixels are unknown)."""
        if self.iron is None or self.indexed is None:
            return None
        return self.indexed & ~self.iron

    def shown_classes(self) -> np.ndarray:
        """The classes as pictures show them (for display only, never written as classes):
        pixels indexed as another phase than body-centred iron are :data:`OTHER_PHASE`."""
        other = self.other_phase()
        if other is None:
            return self.classes
        return np.where(other, np.uint8(OTHER_PHASE), self.classes).astype(np.uint8)

    def fractions(self) -> dict[str, dict[str, float] | None]:
        """Fraction of each class over all pixels, over indexed pixels, and over the indexed
        pixels of body-centred iron ("iron": None unless the map indexes other phases too)."""
        k = len(self.class_set)
        flat = self.classes.ravel()
        counts = np.bincount(flat, minlength=k)[:k]
        out: dict[str, dict[str, float] | None] = {"all": _fracs(counts, self.class_set), "indexed": None,
                                                   "iron": None}
        for key, mask in (("indexed", self.indexed), ("iron", self.iron)):
            if mask is not None:
                out[key] = _fracs(np.bincount(flat[mask.ravel()], minlength=k)[:k], self.class_set)
        return out


def _fracs(counts: np.ndarray, class_set: ClassSet) -> dict[str, float]:
    total = counts.sum()
    return {n: (float(c) / total if total else math.nan) for n, c in zip(class_set.names, counts)}


def from_probabilities(probs: np.ndarray, **kwargs) -> Prediction:
    """Build a :class:`Prediction` (argmax and normalised entropy) from softmax output."""
    probs = np.asarray(probs, dtype=np.float32)
    k = probs.shape[-1]
    classes = np.argmax(probs, axis=-1).astype(np.uint8)
    p = np.clip(probs, 1e-12, 1.0)
    ent = -np.einsum("...k,...k->...", probs, np.log(p), dtype=np.float32)
    if k > 1:
        ent /= np.float32(math.log(k))
    np.clip(ent, 0.0, 1.0, out=ent)
    return Prediction(classes=classes, probabilities=probs, entropy=ent.astype(np.float32, copy=False), **kwargs)


def write_prediction(path: str | os.PathLike, pred: Prediction) -> Path:
    """Write ``pred`` to ``path`` (a ``.phases.h5`` file), atomically."""
    p = Path(path)
    rows, cols = pred.shape
    chunks = (min(rows, 256), min(cols, 256))
    # lzf for the class and indexed maps (x20 smaller, ~5 ms); the float maps are stored
    # plain and contiguous: lzf shrank a real map's probabilities and entropy by only ~15 %
    # against their plain size (noise in the low bits) for 0.18 s, most of a map's writing
    opts = dict(compression="lzf", shuffle=True)
    with atomic_path(p) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = MAGIC
        f.attrs["version"] = VERSION
        f.attrs["classes"] = json.dumps(pred.class_set.to_dict())
        f.attrs["model"] = pred.model or ""
        f.attrs["source"] = pred.source or ""
        f.attrs["recipe"] = json.dumps(pred.recipe or {})
        f.attrs["outside_training"] = json.dumps(list(pred.outside_training))
        f.attrs["produced_by"] = pred.produced_by or ""
        if pred.step is not None:
            f.attrs["step_um"] = [float(s) for s in pred.step]
        f.create_dataset("classes", data=np.asarray(pred.classes, np.uint8), chunks=chunks, **opts)
        f.create_dataset("probabilities", data=np.asarray(pred.probabilities, np.float32))
        f.create_dataset("entropy", data=np.asarray(pred.entropy, np.float32))
        if pred.indexed is not None:
            f.create_dataset("indexed", data=np.asarray(pred.indexed, bool), chunks=chunks, **opts)
        if pred.iron is not None:
            f.create_dataset("iron", data=np.asarray(pred.iron, bool), chunks=chunks, **opts)
    return p


def read_prediction(path: str | os.PathLike, probabilities: bool = True) -> Prediction:
    """Read a ``.phases.h5`` file; ``probabilities=False`` skips the largest array."""
    p = Path(path)
    if not p.exists():
        raise EbsdphaseError(f"{p}: no such prediction file")
    try:
        f = h5py.File(p, "r")
    except OSError as exc:
        raise EbsdphaseError(f"{p}: not a readable HDF5 file ({exc})") from None
    with f:
        if f.attrs.get("format") != MAGIC:
            raise EbsdphaseError(f"{p}: not an ebsdphase prediction (.phases.h5)")
        try:
            class_set = ClassSet.from_dict(json.loads(f.attrs["classes"]))
            classes = f["classes"][()]
            k = len(class_set)
            probs = f["probabilities"][()] if probabilities else np.empty(classes.shape + (0,), np.float32)
            if probabilities and probs.shape != classes.shape + (k,):
                raise EbsdphaseError(f"{p}: probabilities are {probs.shape}, expected {classes.shape + (k,)}")
            return Prediction(
                classes=classes,
                probabilities=probs,
                entropy=f["entropy"][()],
                class_set=class_set,
                model=str(f.attrs.get("model", "")),
                source=str(f.attrs.get("source", "")) or None,
                indexed=f["indexed"][()].astype(bool) if "indexed" in f else None,
                iron=f["iron"][()].astype(bool) if "iron" in f else None,
                recipe=json.loads(f.attrs.get("recipe", "{}")),
                outside_training=json.loads(f.attrs.get("outside_training", "[]")),
                step=tuple(float(s) for s in f.attrs["step_um"]) if "step_um" in f.attrs else None,
                produced_by=str(f.attrs.get("produced_by", "")),
            )
        except KeyError as exc:
            raise EbsdphaseError(f"{p}: prediction file lacks {exc}") from None


def produced_by(path: str | os.PathLike) -> str:
    """The ``produced_by`` attribute of a ``.phases.h5`` file ("" when it has none or cannot
    be read), without reading its arrays."""
    try:
        with h5py.File(path, "r") as f:
            return str(f.attrs.get("produced_by", ""))
    except (OSError, KeyError):
        return ""


def prediction_stem(path: str | os.PathLike) -> str:
    """'a.phases.h5' -> 'a'."""
    name = Path(path).name
    return name[: -len(SUFFIX)] if name.endswith(SUFFIX) else Path(name).stem
