"""Data augmentation that rotates the sample, not just the picture (paper, section 3.3).

Frame
-----
The sample frame has x along the columns (to the right), y along the rows (down) and
z = x cross y pointing into the sample, as orix/MTEX treat Oxford and EDAX maps. Pixel
(row r, col c) sits at (x, y) = (c, r) * step.

A sample rotation R (active, quaternion r) moves the material point at p to R p. The
pixel grid is moved accordingly:

===========  ======================  ==========================================
name         R                        grid
===========  ======================  ==========================================
``x180``     180 deg about x          y -> -y, z -> -z: rows reversed
``y180``     180 deg about y          x -> -x, z -> -z: columns reversed
``z180``     180 deg about z          rows and columns reversed
``z90``      +90 deg about z          (x, y) -> (-y, x): ``new[i, j] = old[H-1-j, i]``
                                      (clockwise on screen, since z points away
                                      from the viewer); step (x, y) swaps
``z270``     +270 deg about z         the other quarter turn
===========  ======================  ==========================================

and every orientation q (sample -> crystal) becomes q' = q r^-1, so that a crystal
direction seen in the new frame is R times what it was (v_c = q' (R v_s) q'^-1 = q v_s
q^-1). Misorientations between pixels are unchanged (q1' q2'^-1 = q1 q2^-1), only the
frame moves: habit-plane traces and the crystal directions along them turn together.

Each of the 6 rotations (identity included) also has a 2x coarser copy keeping the
top-left pixel of each 2 x 2 block (an incomplete last block row/column is dropped):
12 maps per source map, the original plus the paper's 11 extra ones (its Fig. 3a).
Derived channels (KAM, grains) are never transformed: the augmented map has an empty
``cache`` so the channel recipe recomputes them on the new grid and step.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ebsdphase.core.ebsdmap import EBSDMap

_AXES = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}
#: (axis, angle in degrees) of the rotations of the paper, identity first
ROTATIONS: tuple[tuple[str, int], ...] = (("z", 0), ("x", 180), ("y", 180), ("z", 180),
                                          ("z", 90), ("z", 270))


@dataclass(frozen=True)
class Augmentation:
    """One sample rotation (``axis``, ``angle`` degrees) followed by a ``coarse`` subsampling."""

    axis: str = "z"
    angle: int = 0
    coarse: int = 1

    def __post_init__(self) -> None:
        if (self.axis, self.angle) not in ROTATIONS:
            raise ValueError(f"unsupported augmentation rotation {self.angle} deg about {self.axis}")
        if self.coarse not in (1, 2):
            raise ValueError(f"coarse factor must be 1 or 2, got {self.coarse}")

    @property
    def name(self) -> str:
        """'identity', 'x180', 'z90', ..., with '+coarse2' for the coarser copies."""
        rot = "identity" if self.angle == 0 else f"{self.axis}{self.angle}"
        if self.coarse == 1:
            return rot
        return "coarse2" if self.angle == 0 else f"{rot}+coarse2"

    @property
    def quaternion(self) -> np.ndarray:
        """The active sample rotation r as (w, x, y, z) float64."""
        half = np.deg2rad(self.angle) / 2
        return np.array([np.cos(half), *(np.sin(half) * np.array(_AXES[self.axis]))])

    @property
    def matrix(self) -> np.ndarray:
        """The active sample rotation R as a 3 x 3 matrix (exact entries)."""
        a = np.deg2rad(self.angle)
        c, s = np.rint(np.cos(a)), np.rint(np.sin(a))
        i = "xyz".index(self.axis)
        j, k = (i + 1) % 3, (i + 2) % 3
        m = np.eye(3)
        m[j, j], m[j, k], m[k, j], m[k, k] = c, -s, s, c
        return m

    @property
    def swaps_axes(self) -> bool:
        return self.angle in (90, 270)

    # -- grid ---------------------------------------------------------------------------------
    def rotate_grid(self, arr: np.ndarray) -> np.ndarray:
        """Move a per-pixel array (rows, cols, ...) as the rotation moves the sample."""
        if self.angle == 0:
            out = arr
        elif self.axis == "x":
            out = arr[::-1]
        elif self.axis == "y":
            out = arr[:, ::-1]
        elif self.angle == 180:
            out = arr[::-1, ::-1]
        else:
            # +90 about z (z into the sample) turns the image clockwise on screen
            out = np.rot90(arr, k=-1 if self.angle == 90 else 1, axes=(0, 1))
        return np.ascontiguousarray(out)

    def coarse_slices(self, shape: tuple[int, ...]) -> tuple[slice, slice]:
        """The slices keeping the top-left pixel of each complete coarse block."""
        f = self.coarse
        return (slice(0, shape[0] // f * f, f), slice(0, shape[1] // f * f, f))

    def apply_grid(self, arr: np.ndarray) -> np.ndarray:
        """Rotation then subsampling of a per-pixel array (labels, channels, ...)."""
        out = self.rotate_grid(arr)
        if self.coarse == 1:
            return out
        return np.ascontiguousarray(out[self.coarse_slices(out.shape)])

    def output_shape(self, shape: tuple[int, int]) -> tuple[int, int]:
        rows, cols = (shape[1], shape[0]) if self.swaps_axes else (shape[0], shape[1])
        f = self.coarse
        return (rows // f, cols // f)

    # -- map ----------------------------------------------------------------------------------
    def apply(self, ebsd: EBSDMap) -> EBSDMap:
        """The map of the rotated (and subsampled) sample; derived data are not carried over."""
        if self.angle == 0:
            q = ebsd.quaternions
        else:
            q = rotate_orientations(ebsd.quaternions, self.quaternion)
        step = (ebsd.step[1], ebsd.step[0]) if self.swaps_axes else ebsd.step
        metadata = dict(ebsd.metadata)
        metadata["augmentation"] = self.name
        rotated = dataclasses.replace(
            ebsd,
            quaternions=self.rotate_grid(q),
            phase_id=self.rotate_grid(ebsd.phase_id),
            channels={k: self.rotate_grid(v) for k, v in ebsd.channels.items()},
            step=step,
            phases=dict(ebsd.phases),
            metadata=metadata,
            cache={},
        )
        if self.coarse == 1:
            return rotated
        return rotated[self.coarse_slices(rotated.shape)]


def rotate_orientations(quaternions: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Orientations (sample -> crystal) seen after the sample rotation r: q' = q r^-1.

    Zero quaternions (non-indexed pixels) stay zero.
    """
    from ebsdphase.crystal.quaternion import qinv, qmul

    # right-multiplication by a fixed quaternion is linear in q: row i of m is e_i r^-1,
    # so q' = q @ m, one small matmul instead of a per-component product on every pixel
    m = qmul(np.eye(4), qinv(np.asarray(r, np.float64))).astype(np.float32)
    q = np.asarray(quaternions, np.float32)
    return (q.reshape(-1, 4) @ m).reshape(q.shape)


#: the 12 maps made from each source map, the original first, each rotation followed by
#: its coarser copy
AUGMENTATIONS: tuple[Augmentation, ...] = tuple(
    Augmentation(axis, angle, coarse) for axis, angle in ROTATIONS for coarse in (1, 2)
)
IDENTITY = AUGMENTATIONS[0]


def augmentations(enabled: bool = True) -> tuple[Augmentation, ...]:
    """All 12 augmentations (identity first), or only the identity when disabled."""
    return AUGMENTATIONS if enabled else (IDENTITY,)


def by_name(name: str) -> Augmentation:
    for aug in AUGMENTATIONS:
        if aug.name == name:
            return aug
    raise KeyError(f"unknown augmentation {name!r}; known: {', '.join(a.name for a in AUGMENTATIONS)}")


def augmented(ebsd: EBSDMap, labels: np.ndarray | None = None,
              enabled: bool = True) -> Iterator[tuple[Augmentation, EBSDMap, np.ndarray | None]]:
    """Yield (augmentation, map, labels) in the order of :func:`augmentations`, one at a time.

    Only the current rotated map (and its coarse copy) live at once; the coarse copy is
    sliced from the rotated map instead of rotating the source again.
    """
    for aug in augmentations(enabled):
        if aug.coarse == 1:
            rotated = aug.apply(ebsd)
            rot_labels = None if labels is None else aug.apply_grid(labels)
            yield aug, rotated, rot_labels
            continue
        sl = aug.coarse_slices(rotated.shape)
        coarse = rotated[sl]
        coarse.metadata["augmentation"] = aug.name
        yield aug, coarse, (None if rot_labels is None else np.ascontiguousarray(rot_labels[sl]))
        del rotated, rot_labels
