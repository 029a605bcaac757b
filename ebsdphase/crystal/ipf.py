"""Inverse pole figure (IPF) colours for cubic crystals (Laue group m-3m).

The sample direction (default Z, the map normal) is expressed in each pixel's crystal frame
(orientations are sample -> crystal, so ``v_c = q v_s q*``), reduced into the standard
stereographic triangle [001]-[101]-[111] by the 48 symmetries (absolute values, sorted
``a <= b <= c``), and coloured as the standard key does: red = c - b, green = b - a,
blue = a, scaled so the largest component is 1. [001] is red, [101] green, [111] blue.
"""

from __future__ import annotations

import numpy as np


def ipf_colours(quaternions: np.ndarray, indexed: np.ndarray | None = None,
                direction: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    """(rows, cols, 3) float32 RGB in [0, 1] of the sample ``direction`` in the cubic IPF
    key; non-indexed pixels (or zero quaternions) are black."""
    from ebsdphase.crystal.quaternion import qrotate

    q = np.asarray(quaternions, np.float64)
    v = qrotate(q, np.broadcast_to(np.asarray(direction, np.float64), q.shape[:-1] + (3,)))
    return key_colours(v, indexed if indexed is not None else np.any(q != 0, axis=-1))


def key_colours(v: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Colours of crystal directions ``v`` (..., 3) in the cubic IPF key."""
    v = np.sort(np.abs(np.asarray(v, np.float64)), axis=-1)
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    v = np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)
    a, b, c = v[..., 0], v[..., 1], v[..., 2]
    rgb = np.stack([c - b, b - a, a], axis=-1)
    top = rgb.max(axis=-1, keepdims=True)
    rgb = np.divide(rgb, top, out=np.zeros_like(rgb), where=top > 0)
    rgb = np.sqrt(np.clip(rgb, 0.0, 1.0))  # the usual gamma: the key's middle is not muddy
    if valid is not None:
        rgb[~np.asarray(valid, bool)] = 0.0
    return rgb.astype(np.float32)


def key_triangle(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """(rgba image of the standard triangle in stereographic projection, extent) for a legend."""
    xs = np.linspace(0, 0.42, n)
    ys = np.linspace(0, 0.38, n)
    X, Y = np.meshgrid(xs, ys)
    r2 = X ** 2 + Y ** 2
    # inverse stereographic projection onto the upper hemisphere
    d = np.stack([2 * X, 2 * Y, 1 - r2], -1) / (1 + r2)[..., None]
    inside = (d[..., 1] <= d[..., 0]) & (d[..., 0] <= d[..., 2])  # 0 <= y <= x <= z
    rgba = np.zeros(X.shape + (4,), np.float32)
    rgba[..., :3] = key_colours(d)
    rgba[..., 3] = inside
    return rgba, (xs[0], xs[-1], ys[0], ys[-1])
