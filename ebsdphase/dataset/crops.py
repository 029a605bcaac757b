"""Cutting maps into square training crops (paper, section 3.3 and Fig. 3b).

Border policy (``border="drop"``, what the paper does and ``prepare``'s choice for a
random crop split): crops tile the
map from its top-left corner without overlap; the last partial row and column of crops
(the strip narrower than the crop size along the bottom and right edges) is not used.
Keeping crops strictly disjoint matters when crops are split at random (``--split-by
crop``): an overlapping border crop would put the same pixels on both sides.
``border="shift"`` (``prepare``'s choice for map and block splits, where overlapping crops
stay on one side) adds a last row/column of crops shifted to end exactly at the border
(overlapping their neighbour), so no labelled strip is lost.

Crops with more than ``max_unlabelled`` (default half) unlabelled pixels (255) are
dropped: they would cost I/O and contribute almost nothing to the loss.
"""

from __future__ import annotations

import numpy as np

from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.core.classes import UNLABELLED

BORDERS = ("drop", "shift")


def _starts(length: int, size: int, border: str) -> list[int]:
    starts = list(range(0, length - size + 1, size))
    if border == "shift" and starts and starts[-1] + size < length:
        starts.append(length - size)
    return starts


def crop_grid(shape: tuple[int, int], size: int, border: str = "drop") -> list[tuple[int, int]]:
    """Top-left (row, col) of every crop of ``size`` x ``size`` in a grid of ``shape``."""
    if size < 1:
        raise EbsdphaseError(f"crop size must be positive, got {size}")
    if border not in BORDERS:
        raise EbsdphaseError(f"unknown border policy {border!r} (known: {', '.join(BORDERS)})")
    return [(r, c) for r in _starts(shape[0], size, border) for c in _starts(shape[1], size, border)]


def crop_positions(labels: np.ndarray, size: int, border: str = "drop",
                   max_unlabelled: float = 0.5) -> list[tuple[int, int]]:
    """The crops of ``labels`` worth keeping: at most ``max_unlabelled`` of their pixels unlabelled."""
    keep = []
    limit = max_unlabelled * size * size
    for r, c in crop_grid(labels.shape, size, border):
        n_unlabelled = np.count_nonzero(labels[r:r + size, c:c + size] == UNLABELLED)
        if n_unlabelled <= limit:
            keep.append((r, c))
    return keep


def cut(arr: np.ndarray, positions: list[tuple[int, int]], size: int) -> np.ndarray:
    """Stack the crops of a per-pixel array: (n, size, size, ...)."""
    out = np.empty((len(positions), size, size) + arr.shape[2:], arr.dtype)
    for i, (r, c) in enumerate(positions):
        out[i] = arr[r:r + size, c:c + size]
    return out
