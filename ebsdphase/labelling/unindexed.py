"""Rules for non-indexed pixels (step 3 of the paper's labelling, section 2.3).

``martensite``
    Every non-indexed pixel becomes martensite: they sit mostly inside martensite, whose
    distorted lattice gives poor patterns. Lines of non-indexed pixels along ferrite /
    ferrite grain boundaries then form thin false martensite; the paper removed them with
    an erode/dilate step. Here that step is a morphological *opening* (erosion then
    dilation) of the martensite mask with a (2r+1) x (2r+1) square, r = ``radius``
    (default 1, a 3 x 3 square): martensite features narrower than 2r+1 pixels vanish.
    Only pixels that were non-indexed may change -- indexed martensite is never touched --
    and only slivers (8-connected pieces of the removed pixels) lying between grains of
    other classes: fewer than ``SLIVER_MARTENSITE_SHARE`` (1/3) of the indexed pixels
    bordering the sliver are martensite. A sliver hugging a martensite island (about half
    of its border is martensite) is the island's ragged edge and stays; a line along a
    ferrite/ferrite boundary that merely ends at a martensite island is still removed.
    Each pixel of a removed sliver takes the label of the nearest indexed labelled pixel
    (ferrite on both sides of a ferrite/ferrite boundary).
``nearest``
    Each non-indexed pixel takes the label of the nearest indexed, labelled pixel
    (Euclidean distance on the grid; ties broken by scipy's scan order).
``ignore``
    Non-indexed pixels become unlabelled (255): they carry no weight in training.
"""

from __future__ import annotations

import numpy as np

from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.core.classes import UNLABELLED

RULES = ("martensite", "nearest", "ignore")
#: a sliver of non-indexed "martensite" is kept when at least this share of the indexed
#: pixels around it are martensite (see the module docstring)
SLIVER_MARTENSITE_SHARE = 1 / 3


def nearest_fill(labels: np.ndarray, source: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Copy of ``labels`` where pixels in ``targets`` take the label of the nearest ``source`` pixel."""
    from scipy import ndimage

    out = np.array(labels, np.uint8, copy=True)
    if not targets.any() or not source.any():
        return out
    _, (ri, ci) = ndimage.distance_transform_edt(~source, return_indices=True)
    out[targets] = labels[ri[targets], ci[targets]]
    return out


def handle_unindexed(labels: np.ndarray, indexed: np.ndarray, rule: str = "martensite",
                     martensite: int = 1, radius: int = 1) -> np.ndarray:
    """Labels with the non-indexed pixels (``~indexed``) set by ``rule`` (see module docstring)."""
    from scipy import ndimage

    if rule not in RULES:
        raise EbsdphaseError(f"unknown rule for non-indexed pixels {rule!r} (known: {', '.join(RULES)})")
    labels = np.asarray(labels, np.uint8)
    indexed = np.asarray(indexed, bool)
    out = labels.copy()
    nonidx = ~indexed
    source = indexed & (labels != UNLABELLED)
    if rule == "ignore":
        out[nonidx] = UNLABELLED
        return out
    if rule == "nearest":
        return nearest_fill(labels, source, nonidx)
    out[nonidx] = martensite
    if radius > 0 and nonidx.any():
        mask = out == martensite
        opened = ndimage.binary_opening(mask, structure=np.ones((2 * radius + 1,) * 2, bool))
        removed = nonidx & mask & ~opened
        removed = _slivers_between_others(removed, source, mask)
        out = nearest_fill(out, source, removed)
    return out


def _slivers_between_others(removed: np.ndarray, source: np.ndarray, martensite: np.ndarray) -> np.ndarray:
    """The pieces of ``removed`` whose indexed border is mostly not martensite."""
    from scipy import ndimage

    square = np.ones((3, 3), bool)
    pieces, n = ndimage.label(removed, structure=square)
    if n == 0:
        return removed
    # each border pixel is credited to the (highest-numbered) piece it touches
    owner = ndimage.grey_dilation(pieces, footprint=square)
    ring = (owner > 0) & ~removed & source
    total = np.bincount(owner[ring], minlength=n + 1)
    mart = np.bincount(owner[ring], weights=martensite[ring], minlength=n + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, mart / np.maximum(total, 1), 1.0)
    drop = share < SLIVER_MARTENSITE_SHARE
    drop[0] = False
    return drop[pieces]
