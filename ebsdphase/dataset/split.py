"""Train/validation splits.

``split_by="map"`` (the default) puts all crops of a source map, augmented copies
included, on the same side. Crops of one map share grains, the sample preparation and
the acquisition settings, and an augmented copy is the same pixels turned round, so a
random crop split (``split_by="crop"``, what the paper does) lets the validation score
see near-copies of training crops and overstates how well the model generalises. With
few maps the map split is the honest one; ``crop`` reproduces the paper.

``split_by="block"`` (what ``map`` becomes when a single map is labelled) splits each map
in space: the map is cut into square blocks of the crop size, ``round(val * n_blocks)``
of them (at least one, never all) are validation, and each side's labels are masked out of
the other side's crops. No labelled pixel is on both sides; neighbouring blocks still
share grains, so the validation score is more optimistic than a map split's.

``split_maps_by_name`` is the map split chosen by hand (``prepare --val-maps``): the maps
whose file names match the patterns are validation. A fine-tune on added maps needs it, so
that maps the starting weights were trained on never land in validation.

With ``map`` the fraction applies to the number of maps (``round(val * n_maps)``, at
least one map on each side), so the crop fraction only approximates ``val`` when maps
differ in size.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ebsdphase.core.classes import map_stem
from ebsdphase.core.errors import EbsdphaseError

SPLIT_BY = ("map", "crop", "block")


def _n_val(n: int, val: float) -> int:
    return int(round(val * n))


def check(val: float, split_by: str) -> None:
    if not 0.0 <= val < 1.0:
        raise EbsdphaseError(f"val={val}: must be in [0, 1)")
    if split_by not in SPLIT_BY:
        raise EbsdphaseError(f"split_by={split_by!r}: must be one of {', '.join(SPLIT_BY)}")


def split_maps(n_maps: int, val: float, seed: int) -> np.ndarray:
    """(n_maps,) bool, True for the maps whose crops all go to validation."""
    check(val, "map")
    is_val = np.zeros(n_maps, bool)
    if val == 0 or n_maps == 0:
        return is_val
    if n_maps < 2:
        raise EbsdphaseError("a map split needs at least 2 labelled maps; add maps, use "
                             "split_by=crop, or val=0")
    n = min(max(_n_val(n_maps, val), 1), n_maps - 1)
    is_val[np.random.default_rng(seed).permutation(n_maps)[:n]] = True
    return is_val


def split_maps_by_name(paths: Sequence[str | Path], patterns: Sequence[str]) -> np.ndarray:
    """(n_maps,) bool, True for the maps whose file name matches one of ``patterns``
    (shell globs such as ``synth_random_13*``, or a file name, or a path)."""
    names = [Path(p).name for p in paths]
    is_val = np.zeros(len(names), bool)
    for pattern in patterns:
        pat = Path(pattern).name
        hit = np.array([fnmatch.fnmatchcase(n, pat) or fnmatch.fnmatchcase(map_stem(n), pat)
                        for n in names], bool)
        if not hit.any():
            raise EbsdphaseError(f"--val-maps {pattern!r} matches none of the {len(names)} labelled maps")
        is_val |= hit
    if is_val.all():
        raise EbsdphaseError("--val-maps matches every labelled map: nothing is left to train on")
    return is_val


def block_mask(shape: tuple[int, int], size: int, val: float, seed: int) -> np.ndarray:
    """(rows, cols) bool, True on the validation blocks of a ``size`` x ``size`` block grid."""
    rows, cols = shape
    br, bc = -(-rows // size), -(-cols // size)
    n = br * bc
    mask = np.zeros(shape, bool)
    if val == 0 or n < 2:
        if val > 0:
            raise EbsdphaseError(f"a {rows} x {cols} map holds a single {size} px block: nothing to split "
                                 "off for validation; use val=0 or a smaller crop=N")
        return mask
    n_val = min(max(_n_val(n, val), 1), n - 1)
    for b in np.random.default_rng(seed).permutation(n)[:n_val]:
        r, c = divmod(int(b), bc)
        mask[r * size:(r + 1) * size, c * size:(c + 1) * size] = True
    return mask


def split_crops(n_crops: int, val: float, seed: int) -> np.ndarray:
    """(n_crops,) bool, True for the crops drawn for validation (``round(val * n)``)."""
    check(val, "crop")
    is_val = np.zeros(n_crops, bool)
    n = min(_n_val(n_crops, val), n_crops)
    is_val[np.random.default_rng(seed).permutation(n_crops)[:n]] = True
    return is_val


def assign(map_index: np.ndarray, n_maps: int, val: float, seed: int, split_by: str = "map") -> np.ndarray:
    """(n_crops,) bool validation mask for crops whose source maps are ``map_index``."""
    check(val, split_by)
    map_index = np.asarray(map_index, np.int64)
    if split_by == "map":
        return split_maps(n_maps, val, seed)[map_index]
    return split_crops(len(map_index), val, seed)
