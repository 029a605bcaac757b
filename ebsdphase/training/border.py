"""Pixel weights that stress phase borders and small islands in the loss (``train --border-weight``).

The pretrained models lose most of their missed ferrite in two places
(``scripts/ferrite_size_validation.py``): a band of 0.2-0.8 um along martensite, and small
isolated islands, every pixel of which lies near martensite. Both are few pixels of a crop,
so the plain loss hardly sees them. The U-Net paper (Ronneberger et al. 2015) answers the
same problem in cell images with a weight map that grows near borders; here it is, for a
labelled crop, ``1 + w0 * exp(-d**2 / (2 sigma**2))`` with ``d`` a pixel's distance (pixels,
Euclidean) to the nearest labelled pixel of another class. A pixel next to a border weighs
about ``1 + w0``, one ``3 sigma`` away about 1; a crop of one class weighs 1 everywhere.
Unlabelled pixels are left to the caller (they weigh 0 in the loss).
"""

from __future__ import annotations

import numpy as np

from ebsdphase.core.classes import UNLABELLED

#: the width of the stressed band (pixels); the default of ``--border-sigma``. The missed
#: ferrite lies within ~8 px of martensite at 0.1 um; 4 px weighs that band and islands of
#: a few um2 (radius ~12 px) well above the crops' interiors
BORDER_SIGMA = 4.0


def border_weights(labels: np.ndarray, w0: float, sigma: float = BORDER_SIGMA) -> np.ndarray:
    """(N, H, W) float32 factors ``1 + w0 exp(-d^2 / 2 sigma^2)`` for crops of ``labels``
    (N, H, W; :data:`UNLABELLED` = 255), ``d`` the distance to the nearest labelled pixel of
    another class in the same crop (infinite, factor 1, when there is none)."""
    from scipy import ndimage  # here, so that the CLI, which reads BORDER_SIGMA, starts fast

    labels = np.asarray(labels)
    out = np.ones(labels.shape, np.float32)
    if w0 == 0:
        return out
    two_s2 = 2.0 * float(sigma) ** 2
    for i, crop in enumerate(labels):
        known = crop != UNLABELLED
        for k in np.unique(crop[known]):
            other = known & (crop != k)
            if not other.any():
                continue
            mine = crop == k
            # distance of every pixel to the nearest pixel of another class (0 on those)
            d = ndimage.distance_transform_edt(~other)
            out[i][mine] = 1.0 + w0 * np.exp(-(d[mine] ** 2) / two_s2)
    return out
