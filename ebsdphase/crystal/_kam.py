"""Kernel average misorientation (KAM) on a square grid, numba-parallel over rows."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ebsdphase.crystal._disorientation import angle_to_pixel, phase_tables


def kernel_offsets(order: int = 1, ring_only: bool = True) -> np.ndarray:
    """(k, 2) int64 (drow, dcol) offsets of the KAM kernel, centre excluded.

    ``ring_only=True``: the pixels at Chebyshev distance exactly ``order`` (the perimeter
    of the (2n+1) x (2n+1) square, 8n pixels). ``ring_only=False``: every pixel of that
    square but the centre ((2n+1)^2 - 1 pixels). Order 1 is the 8 neighbours either way.
    """
    if int(order) != order or order < 1:
        raise ValueError(f"KAM order must be an integer >= 1, got {order!r}")
    n = int(order)
    r = np.arange(-n, n + 1)
    di, dj = np.meshgrid(r, r, indexing="ij")
    cheb = np.maximum(np.abs(di), np.abs(dj))
    keep = (cheb == n) if ring_only else (cheb > 0)
    return np.stack([di[keep], dj[keep]], axis=1).astype(np.int64)


def _forward_half(offsets: np.ndarray) -> np.ndarray:
    """One offset of each +-pair: the kernels are symmetric, so each pair angle is computed
    once and read by both pixels."""
    fwd = offsets[(offsets[:, 0] > 0) | ((offsets[:, 0] == 0) & (offsets[:, 1] > 0))]
    if 2 * len(fwd) != len(offsets):
        raise ValueError("KAM kernel offsets must be symmetric under (di, dj) -> (-di, -dj)")
    return np.ascontiguousarray(fwd)


@njit(cache=True, parallel=True, fastmath=True)
def _pair_angles(q, phase, fwd, closed, ops, nops, threshold_deg, out):
    """out[k, i, j] = disorientation (deg) between (i, j) and (i, j) + fwd[k], or -1 when the
    pair is excluded (outside the map, not indexed, different phases, above threshold)."""
    rows, cols = phase.shape
    to_deg = 180.0 / math.pi
    nk = fwd.shape[0]
    for i in prange(rows):
        for j in range(cols):
            p = phase[i, j]
            if p <= 0:
                for k in range(nk):
                    out[k, i, j] = -1.0
                continue
            a0 = np.float64(q[i, j, 0])
            a1 = np.float64(q[i, j, 1])
            a2 = np.float64(q[i, j, 2])
            a3 = np.float64(q[i, j, 3])
            for k in range(nk):
                out[k, i, j] = -1.0
                ii = i + fwd[k, 0]
                jj = j + fwd[k, 1]
                if ii >= rows or jj < 0 or jj >= cols or phase[ii, jj] != p:
                    continue
                a = angle_to_pixel(a0, a1, a2, a3, q, ii, jj, closed, ops, nops, p) * to_deg
                if a <= threshold_deg:
                    out[k, i, j] = a


@njit(cache=True, parallel=True)
def _accumulate(ang, fwd, phase, out):
    """Mean over the valid pair angles seen from each pixel (both directions of each pair)."""
    rows, cols = phase.shape
    for i in prange(rows):
        for j in range(cols):
            if phase[i, j] <= 0:
                out[i, j] = 0.0
                continue
            s = 0.0
            n = 0
            for k in range(fwd.shape[0]):
                a = ang[k, i, j]
                if a >= 0.0:
                    s += a
                    n += 1
                # The pixel that has (i, j) as its forward neighbour k.
                i2 = i - fwd[k, 0]
                j2 = j - fwd[k, 1]
                if i2 >= 0 and j2 >= 0 and j2 < cols:
                    a = ang[k, i2, j2]
                    if a >= 0.0:
                        s += a
                        n += 1
            out[i, j] = s / n if n > 0 else 0.0


def kam_array(
    quaternions: np.ndarray,
    phase_id: np.ndarray,
    phases: dict,
    order: int = 1,
    threshold: float = 3.0,
    ring_only: bool = True,
    source: str | None = None,
) -> np.ndarray:
    """KAM in degrees (rows, cols) float32 from raw arrays; see :func:`kam` for the definition."""
    threshold = float(threshold)
    if not threshold > 0:
        raise ValueError(f"KAM threshold must be > 0 degrees, got {threshold!r}")
    q = np.ascontiguousarray(quaternions, dtype=np.float32)
    phase = np.ascontiguousarray(phase_id, dtype=np.int16)
    fwd = _forward_half(kernel_offsets(order, ring_only))
    closed, ops, nops = phase_tables(phases, np.unique(phase), source)
    ang = np.empty((len(fwd), *phase.shape), dtype=np.float32)
    _pair_angles(q, phase, fwd, closed, ops, nops, threshold, ang)
    out = np.empty(phase.shape, dtype=np.float32)
    _accumulate(ang, fwd, phase, out)
    return out


def kam(ebsd, order: int = 1, threshold: float = 3.0, ring_only: bool = True) -> np.ndarray:
    """Kernel average misorientation in degrees, (rows, cols) float32.

    For each indexed pixel: the mean disorientation angle (crystal symmetry of its phase
    applied) to the neighbours of its kernel, counting only neighbours that are indexed,
    of the same phase, and disoriented by at most ``threshold`` degrees. A pixel with no
    such neighbour gets 0; non-indexed pixels get 0 (as in the paper).

    Kernel: ``order`` n with ``ring_only=True`` (default) takes the 8n pixels at
    Chebyshev distance exactly n (the perimeter of the (2n+1) x (2n+1) square);
    ``ring_only=False`` takes the whole square but the centre. Order 1 is the 3 x 3
    kernel of the paper (8 neighbours) either way.

    Relation to MTEX (``EBSDsquare/KAM.m``): ``KAM(ebsd, 'threshold', 3*degree,
    'weights', ones(3))`` is ``kam(ebsd, 1, 3.0)`` (8 neighbours, angles > threshold
    dropped, other phases and non-indexed neighbours dropped), except that MTEX returns
    NaN where we return 0 (no valid neighbour, non-indexed pixel) and MTEX returns
    radians. MTEX without ``weights`` uses the diamond |di| + |dj| <= order: its default
    first order is the 4 edge neighbours, not 8, and its default threshold is 10 deg.
    ``'weights', ones(2n+1)`` equals ``ring_only=False``. MTEX also drops neighbours of
    another grain when ``ebsd.grainId`` is set; we never look at grains.

    Relation to EDAX OIM: OIM's KAM averages the misorientation between the kernel
    centre and the points on the kernel perimeter (n-th nearest neighbours), ignoring
    misorientations above its "maximum misorientation" (default 5 deg); on a square grid
    that is ``ring_only=True`` with ``order`` = the neighbour order and ``threshold`` =
    the maximum misorientation.

    The result is cached in ``ebsd.cache`` under ``("kam", order, threshold,
    ring_only)`` and returned read-only; copy it before changing it.
    """
    key = ("kam", int(order), float(threshold), bool(ring_only))
    cached = ebsd.cache.get(key)
    if cached is not None:
        return cached
    out = kam_array(ebsd.quaternions, ebsd.phase_id, ebsd.phases, order, threshold, ring_only,
                    source=ebsd.source)
    out.flags.writeable = False
    ebsd.cache[key] = out
    return out
