"""Pre-labelling by a threshold on one channel (Otsu's method when no value is given).

Which side is which class
-------------------------
Two classes come out: 0 (ferrite in the default class set) and 1 (martensite).
For pattern-quality channels (``bs``, ``bc``, ``iq``, ``ci``, ...) values *above* the
threshold are ferrite (class 0): ferrite holds few dislocations and gives sharp patterns.
For ``kam``, ``mad`` and ``fit`` values above the threshold are martensite (class 1).
``high_class`` overrides this.

Pixel or grain values
---------------------
With ``grain_average`` each pixel takes the mean of its grain first (grains from
:func:`ebsdphase.crystal.grains`), the grain-averaged quality approach of Kang et al.
(2011) and Zhu et al. (2013); non-indexed pixels then have no value and stay unlabelled
(255) for the non-indexed stage. Otsu's threshold is computed from the indexed pixels
only: non-indexed pixels carry vendor-specific junk values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.features import HIGH_IS_DEFECTIVE, channel_values
from ebsdphase.core.classes import UNLABELLED

if TYPE_CHECKING:
    from ebsdphase.core.ebsdmap import EBSDMap


def otsu(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of the finite ``values``: the split maximising between-class variance.

    Values ``> threshold`` form the upper class. The search runs over ``bins`` histogram
    bins spanning the value range; the threshold returned lies half-way between the largest
    value of the lower class and the smallest of the upper one, so that integer-valued
    channels (BS, BC are 0-255 grey levels) split exactly where the histogram split them.
    """
    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise EbsdphaseError("cannot compute an Otsu threshold: no finite values")
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return lo
    hist, edges = np.histogram(v, bins=bins, range=(lo, hi))
    centres = 0.5 * (edges[:-1] + edges[1:])
    w0 = np.cumsum(hist, dtype=np.float64)          # pixels at or below each split
    w1 = w0[-1] - w0
    s0 = np.cumsum(hist * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        between = w0 * w1 * (s0 / w0 - (s0[-1] - s0) / w1) ** 2
    between[~np.isfinite(between)] = -1.0
    k = int(np.argmax(between))
    # ties (a flat maximum over empty bins) -> the middle of the plateau
    best = np.flatnonzero(between == between[k])
    k = int(best[len(best) // 2])
    split = edges[k + 1]
    return float(0.5 * (v[v < split].max() + v[v >= split].min()))


#: the channel labelling reads unless told otherwise: the vendor-neutral quality (BS on Oxford
#: files, IQ on EDAX/TSL, else BC), which every indexed map has, unlike `bs`
LABEL_CHANNEL = "quality"


def default_high_class(channel: str) -> int:
    """The class of values above the threshold: 1 for kam/mad/fit, 0 for quality indices."""
    return 1 if channel.strip().lower() in HIGH_IS_DEFECTIVE else 0


def threshold_labels(
    ebsd: "EBSDMap",
    channel: str = LABEL_CHANNEL,
    value: float | None = None,
    grain_average: bool = False,
    grain_angle: float = 2.0,
    grain_ids: np.ndarray | None = None,
    high_class: int | None = None,
) -> tuple[np.ndarray, float]:
    """Two-class labels of ``ebsd`` from a threshold on ``channel``.

    Returns ``(labels, threshold)``: uint8 labels (0, 1; 255 where there is no value) and
    the threshold used (Otsu's when ``value`` is None). ``grain_ids`` may be given to reuse
    a grain segmentation; otherwise grains are detected at ``grain_angle`` degrees.
    """
    values = np.asarray(channel_values(ebsd, channel), np.float32)
    if grain_average:
        from ebsdphase.crystal import grain_average as _grain_average, grains

        ids = grains(ebsd, grain_angle) if grain_ids is None else grain_ids
        values = np.asarray(_grain_average(values, ids), np.float32)
    finite = np.isfinite(values)
    if value is None:
        sample = finite & ebsd.indexed
        if not sample.any():
            sample = finite
        if not sample.any():
            raise EbsdphaseError(f"{ebsd.source or 'map'}: channel {channel!r} has no finite "
                                 "values to threshold")
        value = otsu(values[sample])
    hi = default_high_class(channel) if high_class is None else int(high_class)
    if hi not in (0, 1):
        raise EbsdphaseError(f"high_class must be 0 or 1, got {high_class}")
    labels = np.full(values.shape, UNLABELLED, np.uint8)
    above = values > value
    labels[finite & above] = hi
    labels[finite & ~above] = 1 - hi
    return labels, float(value)
