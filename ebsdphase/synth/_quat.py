"""Quaternion helpers the generator needs beyond :mod:`ebsdphase.crystal.quaternion`.

Convention as in :mod:`ebsdphase.crystal.euler`: (w, x, y, z), scalar first; an orientation
q is the sample -> crystal rotation, v_c = q v_s q*. Composing "first a, then b" is b * a.
"""

from __future__ import annotations

import numpy as np

from ebsdphase.crystal.quaternion import qmul  # noqa: F401  (one import place for synth)


def from_rotvec(v: np.ndarray) -> np.ndarray:
    """Rotation vectors (..., 3) in radians -> unit quaternions (..., 4)."""
    v = np.asarray(v, dtype=np.float64)
    angle = np.linalg.norm(v, axis=-1)
    half = 0.5 * angle
    # sin(x/2)/x -> 1/2 for small x; avoid 0/0
    k = np.where(angle > 1e-12, np.sin(half) / np.where(angle > 1e-12, angle, 1.0), 0.5)
    return np.concatenate([np.cos(half)[..., None], v * k[..., None]], axis=-1)


def to_matrix(q: np.ndarray) -> np.ndarray:
    """Unit quaternions (..., 4) -> passive rotation matrices (..., 3, 3)."""
    q = np.asarray(q, dtype=np.float64)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)
