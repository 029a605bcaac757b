"""Per-pixel numba kernels of the generator (no randomness inside: every random number
comes from the caller's ``numpy.random.Generator`` or from a salted integer hash)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, inline="always")
def _mix(h):
    # splitmix64 finaliser: a cheap, well-distributed integer hash
    h = (h ^ (h >> np.uint64(30))) * _M1
    h = (h ^ (h >> np.uint64(27))) * _M2
    return h ^ (h >> np.uint64(31))


@njit(cache=True, inline="always")
def hash3(salt, a, b, c):
    h = _mix(np.uint64(salt) + np.uint64(a) * _GOLD)
    h = _mix(h + np.uint64(b) * _GOLD)
    return _mix(h + np.uint64(c) * _GOLD)


@njit(cache=True, inline="always")
def _unit(h):
    return (h >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, parallel=True)
def weighted_voronoi(yy, xx, sy, sx, scale, mask):
    """Nearest seed under the multiplicatively weighted distance |p - s_i| / scale_i.

    yy, xx: (rows, cols) float32 (possibly warped) pixel coordinates; sy, sx, scale: (n,)
    seeds. Pixels where ``mask`` is False get label -1. Returns (label int32, dist float32).
    """
    rows, cols = yy.shape
    lab = np.full((rows, cols), -1, np.int32)
    dist = np.full((rows, cols), np.inf, np.float32)
    n = sy.shape[0]
    inv = 1.0 / scale
    for r in prange(rows):
        for c in range(cols):
            if not mask[r, c]:
                continue
            y = yy[r, c]
            x = xx[r, c]
            best = np.inf
            bi = -1
            for i in range(n):
                d2 = ((y - sy[i]) ** 2 + (x - sx[i]) ** 2) * inv[i] * inv[i]
                if d2 < best:
                    best = d2
                    bi = i
            lab[r, c] = bi
            dist[r, c] = np.sqrt(best)
    return lab, dist


@njit(cache=True)
def paint_plates(out, allowed, y0, x0, ty, tx, length, width, value):
    """Paint tapered plates (needles) into ``out``.

    Plate i starts at (y0, x0) and runs along the unit vector (ty, tx): a pixel at distance
    s along it and d across belongs to it when 0 <= s <= length_i and
    |d| <= width_i / 2 * (1 - 0.7 s / length_i). It is painted with value[i, 0], and only
    where ``allowed`` (a region map, e.g. the prior austenite grains) equals value[i, 1].
    """
    rows, cols = out.shape
    for i in range(y0.shape[0]):
        L = length[i]
        hw = 0.5 * width[i]
        r0 = max(0, int(min(y0[i], y0[i] + ty[i] * L) - hw - 1))
        r1 = min(rows, int(max(y0[i], y0[i] + ty[i] * L) + hw + 2))
        c0 = max(0, int(min(x0[i], x0[i] + tx[i] * L) - hw - 1))
        c1 = min(cols, int(max(x0[i], x0[i] + tx[i] * L) + hw + 2))
        for r in range(r0, r1):
            for c in range(c0, c1):
                if allowed[r, c] != value[i, 1]:
                    continue
                dy = r - y0[i]
                dx = c - x0[i]
                s = dy * ty[i] + dx * tx[i]
                if s < 0.0 or s > L:
                    continue
                d = abs(-dy * tx[i] + dx * ty[i])
                if d <= hw * (1.0 - 0.7 * s / L) + 0.25:
                    out[r, c] = value[i, 0]


@njit(cache=True)
def paint_ellipses(out, allowed, cy, cx, ty, tx, a, b, value, rough):
    """Ellipses centred (cy, cx), semi-axis a along unit (ty, tx) and b across; paints
    out = value[i, 0] where allowed == value[i, 1]. ``rough`` (rows, cols) perturbs the
    outline (a pixel is inside when its normalised radius^2 <= 1 + rough) so that the
    shapes are convex-ish blobs rather than perfect ellipses."""
    rows, cols = out.shape
    for i in range(cy.shape[0]):
        ext = max(a[i], b[i]) + 1.0
        r0 = max(0, int(cy[i] - ext))
        r1 = min(rows, int(cy[i] + ext) + 1)
        c0 = max(0, int(cx[i] - ext))
        c1 = min(cols, int(cx[i] + ext) + 1)
        for r in range(r0, r1):
            for c in range(c0, c1):
                if allowed[r, c] != value[i, 1]:
                    continue
                dy = r - cy[i]
                dx = c - cx[i]
                s = dy * ty[i] + dx * tx[i]
                d = -dy * tx[i] + dx * ty[i]
                if (s / a[i]) ** 2 + (d / b[i]) ** 2 <= 1.0 + rough[r, c]:
                    out[r, c] = value[i, 0]


@njit(cache=True, parallel=True)
def lath_indices(packet, warp, nrm_y, nrm_x, offset, cum_block, cum_sub, cum_lath,
                 lath_len, salt):
    """Assign every martensite pixel to a block, sub-block, lath and lath segment.

    packet: (rows, cols) int32 packet index (-1 outside martensite). Per packet, (nrm_y,
    nrm_x) is the in-plane projection of the habit-plane normal: u = y nrm_y + x nrm_x is
    the distance (pixels) from the habit plane through the origin, so stripes of constant
    u are laths seen on the section, with their true apparent width. Block, sub-block and
    lath widths come from the random cumulative tables (shared by all packets, each packet
    starting at its own ``offset``); laths are cut along their length into segments.

    Returns (pair 0..2, member 0..1, lath id, segment id), each (rows, cols) int64/int32,
    -1 outside martensite.
    """
    rows, cols = packet.shape
    pair = np.full((rows, cols), -1, np.int8)
    member = np.full((rows, cols), -1, np.int8)
    lath = np.full((rows, cols), -1, np.int64)
    seg = np.full((rows, cols), -1, np.int64)
    for r in prange(rows):
        for c in range(cols):
            k = packet[r, c]
            if k < 0:
                continue
            ny = nrm_y[k]
            nx = nrm_x[k]
            u = r * ny + c * nx + offset[k] + warp[r, c]
            b = np.searchsorted(cum_block, u)
            sb = np.searchsorted(cum_sub, u)
            j = np.searchsorted(cum_lath, u)
            pair[r, c] = hash3(salt, k, b, 1) % np.uint64(3)
            member[r, c] = hash3(salt, k, sb, 2) % np.uint64(2)
            # along the trace: unit direction (-nx, ny) / |n|
            norm = np.sqrt(ny * ny + nx * nx)
            v = (r * nx - c * ny) / norm
            L = lath_len * (0.5 + _unit(hash3(salt, k, j, 3)))
            ph = L * _unit(hash3(salt, k, j, 4))
            s = np.int64(np.floor((v + ph) / L)) + 100000
            lath[r, c] = np.int64(k) * 1000000 + j
            seg[r, c] = (np.int64(k) * 1000000 + j) * 1000000 + s
    return pair, member, lath, seg
