"""Nearest-neighbour clean-up of non-indexed pixels, as AZtec and OIM do it.

A "cleaned" map has every non-indexed pixel given the orientation and phase of its nearest
indexed pixel. The pattern-quality channels (bs, bc, iq) keep each pixel's own, poor value
(they measure the pattern, not the solution), while the indexing scores (mad, error, ci,
fit) are copied with the solution they describe. One definition for the synthetic maps
(``synth``'s cleaned maps) and for the recipe option ``fill_unindexed``, which cleans every
map before a model sees it, so that a model cannot read the phase from where the indexing
failed: a cleaned and a raw map of the same region then give it the same input.
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: channels that belong to the indexing solution, copied with the orientation
SOLUTION_CHANNELS = ("mad", "error", "ci", "fit")


def nearest_indexed(indexed: np.ndarray, step: tuple[float, float] | None = None
                    ) -> tuple[np.ndarray, np.ndarray] | None:
    """(rows, cols) index arrays of each pixel's nearest indexed pixel (itself when indexed),
    or None when there is nothing to fill (all indexed) or nothing to fill from (none).
    ``step`` (x, y): distances in micrometres on a grid whose steps differ; on a square grid
    pixels and micrometres give the same neighbour."""
    if indexed.all() or not indexed.any():
        return None
    from scipy import ndimage

    sampling = None if step is None or step[0] == step[1] else (float(step[1]), float(step[0]))
    _, (iy, ix) = ndimage.distance_transform_edt(~indexed, sampling=sampling, return_indices=True)
    return iy, ix


def fill_channels(channels: dict[str, np.ndarray], iy: np.ndarray, ix: np.ndarray) -> dict[str, np.ndarray]:
    """``channels`` with the solution channels taken from the nearest indexed pixel and the
    quality channels left as measured (a new dict; the arrays not filled are shared)."""
    return {k: (v[iy, ix] if k in SOLUTION_CHANNELS else v) for k, v in channels.items()}


def cleaned(ebsd):
    """``ebsd`` with its non-indexed pixels filled from their nearest indexed neighbour (a new
    :class:`~ebsdphase.core.ebsdmap.EBSDMap` with its own cache; ``ebsd`` itself when there
    is nothing to fill). Kept in ``ebsd.cache``: the model's inputs and the grains that
    smooth its answer are then taken from one cleaned map, its grains found once."""
    hit = ebsd.cache.get("cleaned")
    if hit is not None:
        return hit
    near = nearest_indexed(ebsd.indexed, ebsd.step)
    if near is None:
        return ebsd
    iy, ix = near
    out = dataclasses.replace(ebsd, quaternions=ebsd.quaternions[iy, ix], phase_id=ebsd.phase_id[iy, ix],
                              channels=fill_channels(ebsd.channels, iy, ix), cache={})
    ebsd.cache["cleaned"] = out
    return out
