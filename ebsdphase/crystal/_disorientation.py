"""Disorientation angles: numba scalar kernels shared by KAM, grains and homogenisation.

Convention: map orientations g are sample -> crystal quaternions; the misorientation from
pixel 1 to pixel 2 is m = g2 g1^-1 (crystal frame). With the same Laue group G on both
sides the disorientation angle is min over S1, S2 in G of angle(S2 m S1^-1). Because
angle(S2 m S1^-1) = angle(S1^-1 S2 m) (conjugation keeps the angle) and S1^-1 S2 runs over
G, the one-sided minimum over S of angle(S m) is the same number: one loop of |G|, not
|G|^2.

For m-3m the minimum has a closed form on the sorted absolute components a >= b >= c >= d
of m: the largest scalar part among the 24 equivalents is max(a, (a+b)/sqrt2,
(a+b+c+d)/2). The angle is taken as 2 atan2(|v|, w) with |v|^2 written as a sum of squares
of that same equivalent (no 1 - w^2 cancellation), and the norm of m is divided out, so
float32 input that is not exactly unit still gives 0 for equal orientations.

The kernels here are inlined into those of _kam, _grains and _homogenize. numba's disk
cache only checks the file of the function it compiled, so after editing this file
delete ``ebsdphase/crystal/__pycache__/*.nb[ic]`` or those modules keep the old code.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ebsdphase.crystal.quaternion import laue_name, symmetry

_SQRT_HALF = math.sqrt(0.5)
#: largest group order among the supported Laue classes (m-3m)
MAX_OPS = 24


@njit(cache=True, inline="always", fastmath=True)
def mis_quat(a0, a1, a2, a3, b0, b1, b2, b3):
    """m = b * conj(a): the misorientation from orientation a to orientation b."""
    m0 = b0 * a0 + b1 * a1 + b2 * a2 + b3 * a3
    m1 = -b0 * a1 + b1 * a0 - b2 * a3 + b3 * a2
    m2 = -b0 * a2 + b1 * a3 + b2 * a0 - b3 * a1
    m3 = -b0 * a3 - b1 * a2 + b2 * a1 + b3 * a0
    return m0, m1, m2, m3


@njit(cache=True, inline="always", fastmath=True)
def half_angle_to_angle(v, w):
    """Rotation angle 2 atan2(v, w) of a quaternion with vector norm v and scalar w > 0.

    KAM and grain angles are nearly all small: there an odd series of atan(t), t = v / w
    (truncation error < 1e-11 rad for t < 0.25) replaces the libm call, about 10 % of the
    KAM kernel time.
    """
    if v < 0.25 * w:
        t = v / w
        t2 = t * t
        p = -1.0 / 15
        p = 1.0 / 13 + t2 * p
        p = -1.0 / 11 + t2 * p
        p = 1.0 / 9 + t2 * p
        p = -1.0 / 7 + t2 * p
        p = 1.0 / 5 + t2 * p
        p = -1.0 / 3 + t2 * p
        return 2.0 * t * (1.0 + t2 * p)
    return 2.0 * math.atan2(v, w)


@njit(cache=True, inline="always", fastmath=True)
def cubic_angle(m0, m1, m2, m3):
    """Disorientation angle (radians) of misorientation m under 432, closed form."""
    a = abs(m0)
    b = abs(m1)
    c = abs(m2)
    d = abs(m3)
    # Five-comparator sorting network (min/max, no branches): a >= b >= c >= d afterwards.
    a, b = max(a, b), min(a, b)
    c, d = max(c, d), min(c, d)
    a, c = max(a, c), min(a, c)
    b, d = max(b, d), min(b, d)
    b, c = max(b, c), min(b, c)
    w1 = a
    w2 = (a + b) * _SQRT_HALF
    w3 = 0.5 * (a + b + c + d)
    if w1 >= w2 and w1 >= w3:
        w = w1
        v2 = b * b + c * c + d * d
    elif w2 >= w3:
        w = w2
        v2 = 0.5 * (a - b) * (a - b) + c * c + d * d
    else:
        w = w3
        # The other three rows of the 4x4 Hadamard matrix that gave w3.
        s1 = a - b + c - d
        s2 = a + b - c - d
        s3 = a - b - c + d
        v2 = 0.25 * (s1 * s1 + s2 * s2 + s3 * s3)
    return half_angle_to_angle(math.sqrt(v2), w)


@njit(cache=True, inline="always", fastmath=True)
def general_angle(m0, m1, m2, m3, ops, nops):
    """Disorientation angle (radians) of m: min over the first ``nops`` rows S of ``ops``."""
    best = -1.0
    k_best = 0
    for k in range(nops):
        w = abs(ops[k, 0] * m0 - ops[k, 1] * m1 - ops[k, 2] * m2 - ops[k, 3] * m3)
        if w > best:
            best = w
            k_best = k
    s0 = ops[k_best, 0]
    s1 = ops[k_best, 1]
    s2 = ops[k_best, 2]
    s3 = ops[k_best, 3]
    x = s0 * m1 + s1 * m0 + s2 * m3 - s3 * m2
    y = s0 * m2 - s1 * m3 + s2 * m0 + s3 * m1
    z = s0 * m3 + s1 * m2 - s2 * m1 + s3 * m0
    return half_angle_to_angle(math.sqrt(x * x + y * y + z * z), best)


@njit(cache=True, inline="always", fastmath=True)
def angle_to_pixel(a0, a1, a2, a3, q, ii, jj, closed, ops, nops, p):
    """Disorientation angle (radians) between orientation a and pixel (ii, jj), phase p."""
    m0, m1, m2, m3 = mis_quat(
        a0, a1, a2, a3,
        np.float64(q[ii, jj, 0]), np.float64(q[ii, jj, 1]), np.float64(q[ii, jj, 2]),
        np.float64(q[ii, jj, 3]),
    )
    if closed[p]:
        return cubic_angle(m0, m1, m2, m3)
    return general_angle(m0, m1, m2, m3, ops[p], nops[p])


@njit(cache=True, parallel=True)
def _disorientation_many(a, b, closed, ops, nops, out):
    for k in prange(a.shape[0]):
        na = a[k, 0] ** 2 + a[k, 1] ** 2 + a[k, 2] ** 2 + a[k, 3] ** 2
        nb = b[k, 0] ** 2 + b[k, 1] ** 2 + b[k, 2] ** 2 + b[k, 3] ** 2
        if na == 0.0 or nb == 0.0:
            out[k] = np.nan
            continue
        m0, m1, m2, m3 = mis_quat(a[k, 0], a[k, 1], a[k, 2], a[k, 3], b[k, 0], b[k, 1], b[k, 2], b[k, 3])
        if closed:
            out[k] = cubic_angle(m0, m1, m2, m3)
        else:
            out[k] = general_angle(m0, m1, m2, m3, ops, nops)


def disorientation(q1: np.ndarray, q2: np.ndarray, laue: str = "m-3m") -> np.ndarray:
    """Disorientation angle in degrees between orientations q1 and q2 (..., 4), broadcasting.

    Both orientations have the Laue class ``laue`` ('m-3m' uses the closed form; other
    classes loop over their proper rotations). The quaternions need not be exactly unit;
    a zero quaternion (non-indexed pixel) gives NaN. Returns float64 (a 0-d array for
    single quaternions).
    """
    a, b = np.broadcast_arrays(np.asarray(q1, dtype=np.float64), np.asarray(q2, dtype=np.float64))
    if a.shape[-1:] != (4,):
        raise ValueError(f"quaternions must have a last axis of 4, got {a.shape}")
    shape = a.shape[:-1]
    a = np.ascontiguousarray(a.reshape(-1, 4))
    b = np.ascontiguousarray(b.reshape(-1, 4))
    name = laue_name(laue)
    ops = symmetry(name)
    out = np.empty(a.shape[0], dtype=np.float64)
    _disorientation_many(a, b, name == "m-3m", ops, ops.shape[0], out)
    return np.degrees(out).reshape(shape)


def phase_tables(phases: dict, used_ids, source: str | None = None):
    """Per-phase-id symmetry tables for the kernels.

    Returns ``closed`` (uint8, 1 where the cubic closed form applies), ``ops``
    (float64, (P, 24, 4)) and ``nops`` (int64, (P,)), indexed by phase id. Raises
    :class:`~ebsdphase.core.errors.EbsdphaseError` for a phase present in the map whose Laue
    class is unknown or unsupported.
    """
    from ebsdphase.core.errors import EbsdphaseError

    used = [int(p) for p in used_ids if int(p) > 0]
    size = max([0, *used, *(int(k) for k in phases)]) + 1
    closed = np.zeros(size, dtype=np.uint8)
    ops = np.zeros((size, MAX_OPS, 4), dtype=np.float64)
    nops = np.zeros(size, dtype=np.int64)
    for pid in used:
        phase = phases.get(pid)
        where = f"{source}: " if source else ""
        if phase is None:
            raise EbsdphaseError(f"{where}phase id {pid} is used by pixels but missing from the phase table")
        try:
            name = laue_name(phase.laue)
        except ValueError as exc:
            raise EbsdphaseError(f"{where}phase {pid} ({phase.name}): {exc}") from None
        s = symmetry(name)
        ops[pid, : len(s)] = s
        nops[pid] = len(s)
        closed[pid] = name == "m-3m"
    return closed, ops, nops
