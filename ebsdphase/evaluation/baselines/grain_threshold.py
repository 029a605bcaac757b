"""Baseline: a threshold on the grain-averaged value of one channel.

The classic pre-deep-learning way to split ferrite from martensite: grains are detected,
a pattern-quality index (image quality, band slope, ...) is averaged over each grain, and
grains below a threshold are martensite (Kang et al. 2011 and Zhu et al. 2013 use
grain-averaged image quality; the paper's own grain-averaged BS baseline reaches 96.4 %).
Here the threshold is Otsu's on the grain-averaged image unless a value is given; grains
are detected at 2 deg as in the paper's labelling; non-indexed pixels follow the paper's
``martensite`` rule (class 1) with its erode/dilate clean-up, so that every pixel gets a class.

**Polarity.** Which side of the threshold is which class is a property of the material,
not of the channel: in DP steel martensite has the lower pattern quality, but in a TRIP
steel the retained austenite has the *higher* band slope. With labels, the polarity is
taken from simulated strokes on them (the same 1 % strokes the forest baseline gets): the
class whose strokes have the higher mean value is the class above the threshold. Without
labels, the default polarity of the channel applies (quality indices: class 0 above;
kam/mad/fit: class 1 above).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ebsdphase.core.ebsdmap import EBSDMap

GRAIN_ANGLE = 2.0
#: share of the labels given as strokes to choose the polarity (as for the forest)
STROKE_FRACTION = 0.01


def polarity_from_strokes(ebsd: "EBSDMap", channel: str, labels: np.ndarray, seed: int = 0) -> tuple[int, dict]:
    """(class above the threshold, {class name or index: mean value on its strokes})."""
    from ebsdphase.features import channel_values
    from ebsdphase.labelling.scribbles import strokes_from_labels

    strokes = strokes_from_labels(np.asarray(labels), fraction=STROKE_FRACTION, seed=seed)
    values = channel_values(ebsd, channel)
    means = {}
    for k in (0, 1):
        sel = (strokes == k) & ebsd.indexed & np.isfinite(values)
        means[k] = float(values[sel].mean()) if sel.any() else float("nan")
    if not all(np.isfinite(v) for v in means.values()):
        from ebsdphase.labelling.threshold import default_high_class

        return default_high_class(channel), means
    return (0 if means[0] >= means[1] else 1), means


def grain_threshold(ebsd: "EBSDMap", channel: str = "bs", value: float | None = None,
                    grain_angle: float = GRAIN_ANGLE, labels: np.ndarray | None = None,
                    seed: int = 0, notes: dict | None = None) -> np.ndarray:
    """(rows, cols) uint8 classes from the grain-averaged threshold; with ``labels`` the
    polarity comes from strokes on them. ``notes`` (a dict) receives the threshold, the
    polarity used and where it came from."""
    from ebsdphase.labelling.pipeline import label_map

    high, means = (polarity_from_strokes(ebsd, channel, labels, seed) if labels is not None
                   else (None, None))
    result = label_map(ebsd, "threshold", channel=channel, value=value, grain_average=True,
                       grain_angle=grain_angle, unindexed="martensite", high_class=high)
    if notes is not None:
        notes.update(threshold=result.info.get("threshold"), high_class=result.info.get("high_class"),
                     polarity="from strokes on the labels" if labels is not None else "channel default",
                     stroke_means=means)
    return result.labels
