"""Grain majority vote: every grain takes the majority class of its pre-labelled pixels.

Step 2 of the paper's labelling (section 2.3): grains detected at 2 deg, "if the majority
of pre-labeled pixels within a grain were ferrite, the grain was labeled as ferrite;
martensite otherwise" -- so a tie goes to the higher class index (martensite in the
default class set). Unlabelled pixels (255) do not vote and take their grain's class;
grains without any vote, and non-indexed pixels (grain id -1), keep their labels.

Very large grains may be several phases merged through a weak boundary (Widmanstatten
ferrite and the martensite beside it, the paper's main source of manual corrections);
``keep_pixels_above`` leaves the pixel labels of grains with more pixels than that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ebsdphase.core.classes import UNLABELLED

if TYPE_CHECKING:
    from ebsdphase.core.ebsdmap import EBSDMap


def grain_majority(labels: np.ndarray, grain_ids: np.ndarray,
                   keep_pixels_above: int | None = None) -> np.ndarray:
    """Labels after the majority vote in each grain of ``grain_ids`` (-1 = no grain)."""
    labels = np.asarray(labels, np.uint8)
    ids = np.asarray(grain_ids)
    if ids.shape != labels.shape:
        raise ValueError(f"grain ids {ids.shape} and labels {labels.shape} differ in shape")
    out = labels.copy()
    in_grain = ids >= 0
    if not in_grain.any():
        return out
    n_grains = int(ids.max()) + 1
    voting = in_grain & (labels != UNLABELLED)
    n_classes = int(labels[voting].max()) + 1 if voting.any() else 1
    votes = np.bincount(ids[voting].astype(np.int64) * n_classes + labels[voting],
                        minlength=n_grains * n_classes).reshape(n_grains, n_classes)
    # argmax of the reversed columns: ties go to the highest class index (see docstring)
    winner = (n_classes - 1 - np.argmax(votes[:, ::-1], axis=1)).astype(np.uint8)
    decided = votes.sum(axis=1) > 0
    if keep_pixels_above is not None:
        sizes = np.bincount(ids[in_grain].astype(np.int64), minlength=n_grains)
        decided &= sizes <= keep_pixels_above
    change = in_grain.copy()
    change[in_grain] = decided[ids[in_grain]]
    out[change] = winner[ids[change]]
    return out


def majority_for_map(ebsd: "EBSDMap", labels: np.ndarray, angle: float = 2.0,
                     keep_pixels_above: int | None = None) -> np.ndarray:
    """:func:`grain_majority` with grains of ``ebsd`` detected at ``angle`` degrees."""
    from ebsdphase.crystal import grains

    return grain_majority(labels, grains(ebsd, angle), keep_pixels_above)
