"""Prior austenite grains: a warped, weighted Voronoi tessellation, plus shared noise tools."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ebsdphase.synth._kernels import weighted_voronoi


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale_px: float) -> np.ndarray:
    """Zero-mean, unit-std random field with correlation length ~ ``scale_px`` (float32).

    Drawn on a coarse grid and upsampled with cubic splines: a Gaussian filter of the
    full-resolution field would cost O(scale) per pixel and dominate the run time.
    """
    rows, cols = shape
    scale = max(float(scale_px), 1.0)
    lr, lc = int(np.ceil(rows / scale)) + 4, int(np.ceil(cols / scale)) + 4
    low = ndimage.gaussian_filter(rng.standard_normal((lr, lc)), 0.7, mode="wrap")
    yy = (np.arange(rows, dtype=np.float32) / scale + 1.5)[:, None]
    xx = (np.arange(cols, dtype=np.float32) / scale + 1.5)[None, :]
    coords = np.broadcast_arrays(yy, xx)
    f = ndimage.map_coordinates(low, coords, order=3, mode="nearest").astype(np.float32)
    f -= f.mean()
    sd = f.std()
    return f / sd if sd > 0 else f


def grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates as float32 (rows, cols) arrays."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    return yy, xx


def random_orientations(rng: np.random.Generator, n: int) -> np.ndarray:
    """n uniformly random unit quaternions (Shoemake), w >= 0."""
    u1, u2, u3 = rng.random((3, n))
    q = np.stack([
        np.sqrt(1 - u1) * np.sin(2 * np.pi * u2), np.sqrt(1 - u1) * np.cos(2 * np.pi * u2),
        np.sqrt(u1) * np.sin(2 * np.pi * u3), np.sqrt(u1) * np.cos(2 * np.pi * u3),
    ], axis=-1)
    return q * np.where(q[:, :1] < 0, -1.0, 1.0)


def boundaries(labels: np.ndarray) -> np.ndarray:
    """Pixels with a 4-neighbour of another label (both sides of each boundary)."""
    b = np.zeros(labels.shape, bool)
    dv = labels[1:, :] != labels[:-1, :]
    dh = labels[:, 1:] != labels[:, :-1]
    b[1:, :] |= dv
    b[:-1, :] |= dv
    b[:, 1:] |= dh
    b[:, :-1] |= dh
    return b


def prior_austenite(rng: np.random.Generator, shape: tuple[int, int], size_px: float):
    """Prior austenite grain labels (rows, cols) int32 (0..n-1) and their count.

    Seeds are scattered over the map plus a margin (so edge grains are cut like in a real
    section), with +-20 % weights so grain sizes vary, and the coordinates are warped by a
    smooth field so boundaries curve instead of being straight Voronoi edges.
    """
    rows, cols = shape
    margin = size_px
    area = (rows + 2 * margin) * (cols + 2 * margin)
    n = max(2, int(round(area / (0.8 * size_px ** 2))))
    sy = rng.uniform(-margin, rows + margin, n).astype(np.float32)
    sx = rng.uniform(-margin, cols + margin, n).astype(np.float32)
    w = rng.uniform(0.8, 1.2, n).astype(np.float32)
    yy, xx = grid(shape)
    amp = 0.12 * size_px
    yy += amp * smooth_noise(rng, shape, 0.5 * size_px)
    xx += amp * smooth_noise(rng, shape, 0.5 * size_px)
    lab, _ = weighted_voronoi(yy, xx, sy, sx, w, np.ones(shape, bool))
    # relabel to the grains actually present, in first-seen order (deterministic)
    _, first, inv = np.unique(lab.ravel(), return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inv].reshape(shape).astype(np.int32), len(first)
