"""Checks that a model holds on maps it was not tuned on: metamorphic and real-map checks.

Accuracy on a synthetic test set says little about real maps. These checks test properties
any right answer has, whatever the map:

- **crop invariance**: a pixel's phase must not depend on what else is in the map. A crop
  that is mostly one phase is predicted alone and compared with the same pixels of the
  whole-map prediction (:func:`crop_agreement`);
- **gain invariance**: a camera's gain must not matter. The pattern-quality channels are
  multiplied by a factor and the prediction compared (:func:`gain_agreement`);
- **known-phase real maps**: public maps whose every pixel's phase is known
  (:data:`KNOWN_PHASE_MAPS` in ``../shared/data``): the fraction of pixels given the right
  class (:func:`known_phase_share`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ebsdphase.features import QUALITY_SOURCES

#: channels of a map that a camera's gain scales: the sources of ``quality``
GAIN_CHANNELS = QUALITY_SOURCES


@dataclass(frozen=True)
class KnownPhaseMap:
    """A real map (path under the shared data folder) whose pixels of ``phase_id`` (None:
    all indexed pixels) are all of class ``truth``."""

    name: str
    path: str
    truth: str
    phase_id: int | None = None
    note: str = ""


KNOWN_PHASE_MAPS = (
    KnownPhaseMap("DC06", "ferrite_dc06/DC06_2uniax.ang", "ferrite", None,
                  "deformed single-phase ferrite, 1 um, EDAX IQ/CI"),
    KnownPhaseMap("M1700", "martensite_m1700/Arcelor_M1700_CROPPED_gf1.txt", "martensite", None,
                  "lath martensite, 0.1 um, cleaned, EDAX IQ/CI"),
    KnownPhaseMap("SDSS-BCC", "sdss_ferrite_austenite/sdss_ferrite_austenite.ang", "ferrite", 2,
                  "delta ferrite (BCC pixels) of a duplex steel, 1.5 um, IQ/CI"),
)


def known_phase_share(bundle, ebsd, known: KnownPhaseMap) -> dict | None:
    """{"share": fraction of the known pixels given ``known.truth``, "pixels", "outside"}
    or None when the model cannot read the map's channels."""
    from ebsdphase.prediction.engine import predict

    if bundle.recipe.missing(ebsd) or known.truth not in bundle.classes.names:
        return None
    pred = predict(ebsd, bundle)
    sel = ebsd.indexed if known.phase_id is None else ebsd.phase_id == known.phase_id
    k = bundle.classes.names.index(known.truth)
    return {"share": float(np.mean(pred.classes[sel] == k)), "pixels": int(np.count_nonzero(sel)),
            "outside": list(pred.outside_training)}


def crop_boxes(labels: np.ndarray, size: int = 128, purity: float = 0.8,
               stride: int | None = None) -> list[tuple[int, int, int, float]]:
    """(row, col, majority class, its share) of the ``size`` x ``size`` crops on a grid of
    ``stride`` (default ``size``) whose majority class covers at least ``purity``."""
    stride = stride or size
    out = []
    rows, cols = labels.shape
    for r in range(0, rows - size + 1, stride):
        for c in range(0, cols - size + 1, stride):
            counts = np.bincount(labels[r:r + size, c:c + size].ravel(), minlength=2)[:2]
            k = int(np.argmax(counts))
            share = counts[k] / (size * size)
            if share >= purity:
                out.append((r, c, k, float(share)))
    return out


def crop_agreement(bundle, ebsd, labels: np.ndarray, size: int = 128, purity: float = 0.8,
                   stride: int | None = None, whole: np.ndarray | None = None) -> list[dict]:
    """Per crop that is >= ``purity`` one phase: the share of its pixels predicted alone as
    in the whole-map prediction ``whole`` (classes; predicted here when None).
    [{"row", "col", "majority", "share", "agreement"}]."""
    from ebsdphase.prediction.engine import predict

    if whole is None:
        whole = predict(ebsd, bundle).classes
    out = []
    for r, c, k, share in crop_boxes(labels, size, purity, stride):
        part = predict(ebsd[r:r + size, c:c + size], bundle).classes
        out.append({"row": r, "col": c, "majority": k, "share": share,
                    "agreement": float(np.mean(part == whole[r:r + size, c:c + size]))})
    return out


def with_gain(ebsd, gain: float):
    """A copy of ``ebsd`` whose pattern-quality channels are multiplied by ``gain``."""
    channels = {k: (v * np.float32(gain) if k in GAIN_CHANNELS else v) for k, v in ebsd.channels.items()}
    return dataclasses.replace(ebsd, channels=channels, cache={})


def gain_agreement(bundle, ebsd, gain: float = 0.6, whole: np.ndarray | None = None) -> float | None:
    """Share of pixels predicted alike with the quality channels times ``gain`` (None when
    the model reads no such channel: it is gain-invariant by construction); ``whole``: the
    classes predicted on ``ebsd`` itself, when already known."""
    from ebsdphase.features import quality_source
    from ebsdphase.prediction.engine import predict

    read = set(bundle.recipe.names)
    if "quality" in read:
        read.add(quality_source(ebsd) or "")
    if not read & set(GAIN_CHANNELS):
        return None
    a = predict(ebsd, bundle).classes if whole is None else whole
    b = predict(with_gain(ebsd, gain), bundle).classes
    return float(np.mean(a == b))


def cleanup_agreement(bundle, ebsd, whole: np.ndarray | None = None) -> float | None:
    """Share of the indexed pixels predicted alike on ``ebsd`` and on its cleaned copy (every
    non-indexed pixel given its nearest indexed neighbour's orientation, as AZtec/OIM
    clean-up does: :func:`ebsdphase.core.cleanup.cleaned`): clean-up does not change what an
    indexed pixel is, so neither should it change the answer. None when there is nothing to
    clean; ``whole``: the classes predicted on ``ebsd`` itself, when already known."""
    from ebsdphase.core.cleanup import cleaned
    from ebsdphase.prediction.engine import predict

    clean = cleaned(ebsd)
    if clean is ebsd:
        return None
    a = predict(ebsd, bundle).classes if whole is None else whole
    b = predict(clean, bundle).classes
    ok = ebsd.indexed
    return float(np.mean(a[ok] == b[ok]))


def shared_data_dir(start: Path | None = None) -> Path | None:
    """``../shared/data`` beside the project checkout, if there is one."""
    here = (start or Path(__file__)).resolve()
    for parent in here.parents:
        cand = parent / "shared" / "data"
        if cand.is_dir():
            return cand
    return None
