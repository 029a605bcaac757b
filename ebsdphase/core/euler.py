"""Bunge Euler angles <-> unit quaternions, vectorised with numpy.

Convention (Rowenhorst et al. 2015, Modelling Simul. Mater. Sci. Eng. 23 083501, P = +1),
the same as orix and EMsoft: the Bunge angles (phi1, Phi, phi2), rotations about Z, X', Z'',
describe the *passive* rotation that takes the sample reference frame onto the crystal
frame. The quaternion q = (w, x, y, z), scalar first, is that sample -> crystal rotation:
for a vector with sample-frame components v_s, its crystal-frame components are
v_c = q v_s q*. Equivalently q is the inverse of
``scipy.spatial.transform.Rotation.from_euler("ZXZ", [phi1, Phi, phi2])`` (an active
crystal -> sample rotation, the matrix whose columns are the crystal axes in the sample
frame), and MTEX's orientation is the inverse of q. Quaternions are returned with w >= 0.
"""

from __future__ import annotations

import numpy as np


def euler_to_quat(euler: np.ndarray) -> np.ndarray:
    """Bunge Euler angles in radians, shape (..., 3) -> unit quaternions (..., 4) float64."""
    e = np.asarray(euler, dtype=np.float64)
    phi1, Phi, phi2 = e[..., 0], e[..., 1], e[..., 2]
    sigma = 0.5 * (phi1 + phi2)
    delta = 0.5 * (phi1 - phi2)
    c = np.cos(0.5 * Phi)
    s = np.sin(0.5 * Phi)
    q = np.stack(
        [c * np.cos(sigma), -s * np.cos(delta), -s * np.sin(delta), -c * np.sin(sigma)], axis=-1
    )
    q *= np.where(q[..., :1] < 0, -1.0, 1.0)
    return q


def quat_to_euler(quat: np.ndarray) -> np.ndarray:
    """Unit quaternions (..., 4) -> Bunge Euler angles in radians (..., 3), each in [0, 2pi)
    (Phi in [0, pi]). The zero quaternion (non-indexed) maps to (0, 0, 0)."""
    q = np.asarray(quat, dtype=np.float64)
    q0, q1, q2, q3 = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    q03 = q0 * q0 + q3 * q3
    q12 = q1 * q1 + q2 * q2
    chi = np.sqrt(q03 * q12)
    eps = 1e-12
    with np.errstate(invalid="ignore", divide="ignore"):
        safe = np.where(chi > eps, chi, 1.0)
        phi1 = np.arctan2((q1 * q3 - q0 * q2) / safe, (-q0 * q1 - q2 * q3) / safe)
        Phi = np.arctan2(2.0 * chi, q03 - q12)
        phi2 = np.arctan2((q0 * q2 + q1 * q3) / safe, (q2 * q3 - q0 * q1) / safe)
    # Degenerate cases: Phi = 0 (only phi1 + phi2 defined) and Phi = pi.
    flat = chi <= eps
    zero_tilt = flat & (q12 <= eps)
    half_turn = flat & (q12 > eps)
    phi1 = np.where(zero_tilt, np.arctan2(-2.0 * q0 * q3, q0 * q0 - q3 * q3), phi1)
    phi1 = np.where(half_turn, np.arctan2(2.0 * q1 * q2, q1 * q1 - q2 * q2), phi1)
    Phi = np.where(zero_tilt, 0.0, np.where(half_turn, np.pi, Phi))
    phi2 = np.where(flat, 0.0, phi2)
    out = np.stack([phi1, Phi, phi2], axis=-1)
    out = np.mod(out, 2.0 * np.pi)
    out[..., 1] = np.where(out[..., 1] > np.pi + 1e-12, 2.0 * np.pi - out[..., 1], out[..., 1])
    null = (q0 == 0) & (q1 == 0) & (q2 == 0) & (q3 == 0)
    out[null] = 0.0
    return out
