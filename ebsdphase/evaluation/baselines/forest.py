"""Baseline: the random-forest pixel classifier (TWS analogue) trained on a little of each map.

For a fair comparison with a trained model the forest sees what an expert would paint in
a few minutes: simulated scribbles covering ``FRACTION`` (1 %) of the map's pixels, drawn
from the true labels as short straight strokes inside the regions of each class
(:func:`ebsdphase.labelling.scribbles.strokes_from_labels`, fixed seed). It is trained on
that map only and then classifies every pixel; the non-indexed pixels keep the forest's
class (the forest sees the indexed mask among its features). The remaining 99 % of the
pixels are not seen in training, but the scores are optimistic compared with a model
applied to unseen maps: the forest was trained on the same map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from ebsdphase.core.errors import EbsdphaseError

if TYPE_CHECKING:
    from ebsdphase.core.ebsdmap import EBSDMap

#: fraction of each map's pixels given to the forest as strokes
FRACTION = 0.01


def forest_baseline(ebsd: "EBSDMap", labels: np.ndarray, channels: Sequence[str] = ("bs",),
                    fraction: float = FRACTION, seed: int = 0) -> np.ndarray:
    """(rows, cols) uint8 classes from a forest trained on strokes covering ``fraction`` of ``labels``."""
    from ebsdphase.labelling.forest import train_forest
    from ebsdphase.labelling.scribbles import strokes_from_labels

    labels = np.asarray(labels)
    if labels.shape != ebsd.shape:
        raise EbsdphaseError(f"{ebsd.source or 'map'}: labels are {labels.shape} but the map is "
                             f"{ebsd.rows} x {ebsd.cols}")
    strokes = strokes_from_labels(labels, fraction=fraction, seed=seed)
    return train_forest(ebsd, strokes, channels, seed=seed).predict(ebsd)
