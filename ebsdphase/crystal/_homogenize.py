"""Per-grain symmetry homogenisation of quaternions (paper, section 3.2) and per-grain
statistics."""

from __future__ import annotations

import numpy as np
from numba import njit

from ebsdphase.crystal._disorientation import mis_quat, phase_tables


#: |(S m)_0| above cos(15 deg): S m turns by under 30 deg, and every other equivalent
#: S' m = (S' S^-1)(S m) by over 60 - 30 = 30 deg (no supported Laue group has a non-identity
#: rotation under 60 deg, the 6-fold axis), so S is the closest equivalent, the one the full
#: search would pick. Set a hair above cos(15 deg) = 0.965926 for rounding.
_UNIQUE_DOT = 0.96594


@njit(cache=True, inline="always")
def _left_product(s0, s1, s2, s3, x0, x1, x2, x3):
    """S x: a crystal-symmetry operator S applied to the orientation x (from the left)."""
    y0 = s0 * x0 - s1 * x1 - s2 * x2 - s3 * x3
    y1 = s0 * x1 + s1 * x0 + s2 * x3 - s3 * x2
    y2 = s0 * x2 - s1 * x3 + s2 * x0 + s3 * x1
    y3 = s0 * x3 + s1 * x2 - s2 * x1 + s3 * x0
    return y0, y1, y2, y3


@njit(cache=True, inline="always")
def _closest_equivalent(q, i, j, r0, r1, r2, r3, ops, nops, hint, out):
    """out[i, j] = the equivalent S q[i, j] (and sign) closest to the reference r; returns
    the index of S. ``hint`` (an operator index, or -1) is tried first: inside a grain the
    neighbour's operator nearly always fits, and then the search over the group is skipped."""
    x0 = np.float64(q[i, j, 0])
    x1 = np.float64(q[i, j, 1])
    x2 = np.float64(q[i, j, 2])
    x3 = np.float64(q[i, j, 3])
    # (S x) . r = S . (r x*): one product, then a 4-vector dot per operator.
    m0, m1, m2, m3 = mis_quat(x0, x1, x2, x3, r0, r1, r2, r3)
    kb = -1
    if hint >= 0:
        if abs(ops[hint, 0] * m0 + ops[hint, 1] * m1 + ops[hint, 2] * m2 + ops[hint, 3] * m3) > _UNIQUE_DOT:
            kb = hint
    if kb < 0:
        best = -1.0
        kb = 0
        for k in range(nops):
            d = abs(ops[k, 0] * m0 + ops[k, 1] * m1 + ops[k, 2] * m2 + ops[k, 3] * m3)
            if d > best:
                best = d
                kb = k
    y0, y1, y2, y3 = _left_product(ops[kb, 0], ops[kb, 1], ops[kb, 2], ops[kb, 3], x0, x1, x2, x3)
    if y0 * r0 + y1 * r1 + y2 * r2 + y3 * r3 < 0.0:
        y0, y1, y2, y3 = -y0, -y1, -y2, -y3
    out[i, j, 0] = y0
    out[i, j, 1] = y1
    out[i, j, 2] = y2
    out[i, j, 3] = y3
    return kb


@njit(cache=True)
def _homogenize(q, gid, phase, ops, nops, out):
    """Breadth-first walk of each grain from its first pixel: the seed takes its equivalent
    closest to the identity (largest |w|, w > 0); every other pixel the equivalent closest
    to the already-homogenised neighbour it was reached from."""
    rows, cols = gid.shape
    visited = np.zeros(rows * cols, dtype=np.bool_)
    queue = np.empty(rows * cols, dtype=np.int64)
    chosen = np.empty(rows * cols, dtype=np.int8)  # operator each pixel took: its neighbours' hint
    di = (0, 1, 0, -1)
    dj = (1, 0, -1, 0)
    for start in range(rows * cols):
        i0 = start // cols
        j0 = start % cols
        p = phase[i0, j0]
        if p <= 0:
            for c in range(4):
                out[i0, j0, c] = 0.0
            continue
        if visited[start]:
            continue
        visited[start] = True
        ops_p = ops[p]
        n_p = nops[p]
        chosen[start] = _closest_equivalent(q, i0, j0, 1.0, 0.0, 0.0, 0.0, ops_p, n_p, -1, out)
        g = gid[i0, j0]
        if g < 0:
            continue
        head = 0
        tail = 1
        queue[0] = start
        while head < tail:
            cur = queue[head]
            head += 1
            i = cur // cols
            j = cur % cols
            r0 = np.float64(out[i, j, 0])
            r1 = np.float64(out[i, j, 1])
            r2 = np.float64(out[i, j, 2])
            r3 = np.float64(out[i, j, 3])
            hint = chosen[cur]
            for d in range(4):
                ii = i + di[d]
                jj = j + dj[d]
                if ii < 0 or ii >= rows or jj < 0 or jj >= cols:
                    continue
                nxt = ii * cols + jj
                if visited[nxt] or gid[ii, jj] != g or phase[ii, jj] != p:
                    continue
                visited[nxt] = True
                chosen[nxt] = _closest_equivalent(q, ii, jj, r0, r1, r2, r3, ops_p, n_p, hint, out)
                queue[tail] = nxt
                tail += 1


def homogenize_array(quaternions, phase_id, phases, grain_ids, source=None) -> np.ndarray:
    """:func:`homogenize` on raw arrays."""
    q = np.ascontiguousarray(quaternions, dtype=np.float32)
    phase = np.ascontiguousarray(phase_id, dtype=np.int16)
    gid = np.ascontiguousarray(grain_ids, dtype=np.int32)
    if gid.shape != phase.shape:
        raise ValueError(f"grain_ids shape {gid.shape} != map grid {phase.shape}")
    _, ops, nops = phase_tables(phases, np.unique(phase), source)
    out = np.empty(q.shape, dtype=np.float32)
    _homogenize(q, gid, phase, ops, nops, out)
    return out


def homogenize(ebsd, grain_ids: np.ndarray) -> np.ndarray:
    """Quaternions (rows, cols, 4) float32 made continuous inside each grain (paper, 3.2).

    Each pixel keeps its orientation but is rewritten as the crystal-symmetry equivalent
    S q (and sign, q ~ -q) closest to the neighbour it is reached from in a breadth-first
    walk of its grain (edge neighbours with the same grain id and phase), starting from
    the grain's first pixel in raster order, which takes the equivalent closest to the
    identity with w > 0. Neighbours in a grain then have dot products near +1 and every
    disorientation is unchanged. Pixels with grain id -1 are reduced on their own;
    non-indexed pixels stay (0, 0, 0, 0).
    """
    return homogenize_array(ebsd.quaternions, ebsd.phase_id, ebsd.phases, grain_ids,
                            source=ebsd.source)


def grain_average(values: np.ndarray, grain_ids: np.ndarray) -> np.ndarray:
    """Replace every pixel of ``values`` (rows, cols) or (rows, cols, k) by the mean over
    its grain; NaN values are left out of the means; pixels with grain id -1 (and grains
    with no finite value) get NaN. float32 input stays float32, anything else gives
    float64."""
    vals = np.asarray(values)
    gid = np.asarray(grain_ids)
    if vals.shape[:2] != gid.shape:
        raise ValueError(f"values shape {vals.shape} does not start with grain_ids shape {gid.shape}")
    dtype = np.float32 if vals.dtype == np.float32 else np.float64
    flat = vals.reshape(gid.size, int(np.prod(vals.shape[2:]))).astype(np.float64)
    g = gid.ravel()
    inside = g >= 0
    n = int(g.max()) + 1 if inside.any() else 0
    out = np.full(flat.shape, np.nan)
    for c in range(flat.shape[1]):
        v = flat[:, c]
        ok = inside & np.isfinite(v)
        s = np.bincount(g[ok], weights=v[ok], minlength=n)
        cnt = np.bincount(g[ok], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = s / cnt
        out[inside, c] = mean[g[inside]]
    return out.reshape(vals.shape).astype(dtype)


def grain_table(ebsd, grain_ids: np.ndarray, channels=()) -> dict[str, np.ndarray]:
    """Per-grain table as a dict of equal-length 1-D arrays (``pandas.DataFrame(table)``
    works): ``grain`` id, ``size`` (pixels), ``phase`` id, ``row``/``col`` centroid
    (pixels), mean orientation ``q0..q3`` and the mean of each name in ``channels``.

    The mean orientation is the normalised sum of the grain's homogenised quaternions (all
    on the same symmetry branch and hemisphere, so the sum does not cancel).
    ``channels`` may name map channels or ``"kam"`` (default KAM parameters).
    """
    gid = np.asarray(grain_ids)
    g = gid.ravel()
    inside = g >= 0
    n = int(g.max()) + 1 if inside.any() else 0
    gi = g[inside]
    size = np.bincount(gi, minlength=n)
    rows, cols = np.divmod(np.flatnonzero(inside), gid.shape[1])
    table: dict[str, np.ndarray] = {"grain": np.arange(n, dtype=np.int32), "size": size}
    phase = np.zeros(n, dtype=np.int16)
    phase[gi] = ebsd.phase_id.ravel()[inside]
    table["phase"] = phase
    with np.errstate(invalid="ignore", divide="ignore"):
        table["row"] = np.bincount(gi, weights=rows, minlength=n) / size
        table["col"] = np.bincount(gi, weights=cols, minlength=n) / size
    hq = homogenize(ebsd, gid).reshape(-1, 4)[inside].astype(np.float64)
    qsum = np.stack([np.bincount(gi, weights=hq[:, c], minlength=n) for c in range(4)],
                    axis=1).astype(np.float64)
    norm = np.linalg.norm(qsum, axis=1, keepdims=True)
    qmean = np.divide(qsum, norm, out=np.zeros_like(qsum), where=norm > 0)
    for c in range(4):
        table[f"q{c}"] = qmean[:, c]
    for name in channels:
        if name == "kam":
            from ebsdphase.crystal._kam import kam

            v = np.asarray(kam(ebsd), dtype=np.float64)
        elif name in ebsd.channels:
            v = ebsd.channels[name].astype(np.float64)
        else:
            from ebsdphase.core.errors import EbsdphaseError

            have = ", ".join(ebsd.channels) or "none"
            raise EbsdphaseError(f"{ebsd.source or 'map'}: no channel {name!r} (has: {have})")
        v = v.ravel()[inside]
        ok = np.isfinite(v)
        with np.errstate(invalid="ignore", divide="ignore"):
            table[name] = (np.bincount(gi[ok], weights=v[ok], minlength=n)
                           / np.bincount(gi[ok], minlength=n))
    return table


@njit(cache=True)
def _reseed(q, ops, nops, cos_tol):
    """In place: every connected region of ``q`` (rows, cols, 4) whose edge neighbours have
    dot products >= ``cos_tol`` (a homogenised grain) is rewritten with the one equivalent
    S (and sign) that takes its first pixel in raster order closest to the identity, as
    :func:`_homogenize` seeds a grain. All-zero pixels (non-indexed) are left alone."""
    rows, cols, _ = q.shape
    visited = np.zeros(rows * cols, dtype=np.bool_)
    queue = np.empty(rows * cols, dtype=np.int64)
    di = (0, 1, 0, -1)
    dj = (1, 0, -1, 0)
    for start in range(rows * cols):
        if visited[start]:
            continue
        visited[start] = True
        i0 = start // cols
        j0 = start % cols
        if q[i0, j0, 0] == 0.0 and q[i0, j0, 1] == 0.0 and q[i0, j0, 2] == 0.0 and q[i0, j0, 3] == 0.0:
            continue
        head = 0
        tail = 1
        queue[0] = start
        while head < tail:
            cur = queue[head]
            head += 1
            i = cur // cols
            j = cur % cols
            for d in range(4):
                ii = i + di[d]
                jj = j + dj[d]
                if ii < 0 or ii >= rows or jj < 0 or jj >= cols:
                    continue
                nxt = ii * cols + jj
                if visited[nxt]:
                    continue
                dot = (q[i, j, 0] * q[ii, jj, 0] + q[i, j, 1] * q[ii, jj, 1]
                       + q[i, j, 2] * q[ii, jj, 2] + q[i, j, 3] * q[ii, jj, 3])
                if dot >= cos_tol:
                    visited[nxt] = True
                    queue[tail] = nxt
                    tail += 1
        x0 = np.float64(q[i0, j0, 0])
        x1 = np.float64(q[i0, j0, 1])
        x2 = np.float64(q[i0, j0, 2])
        x3 = np.float64(q[i0, j0, 3])
        best = -1.0
        kb = 0
        for k in range(nops):
            w = ops[k, 0] * x0 - ops[k, 1] * x1 - ops[k, 2] * x2 - ops[k, 3] * x3
            if abs(w) > best:
                best = abs(w)
                kb = k
        s0 = ops[kb, 0]
        s1 = ops[kb, 1]
        s2 = ops[kb, 2]
        s3 = ops[kb, 3]
        if s0 * x0 - s1 * x1 - s2 * x2 - s3 * x3 < 0.0:
            s0, s1, s2, s3 = -s0, -s1, -s2, -s3
        for t in range(tail):
            i = queue[t] // cols
            j = queue[t] % cols
            y0, y1, y2, y3 = _left_product(s0, s1, s2, s3, np.float64(q[i, j, 0]), np.float64(q[i, j, 1]),
                                           np.float64(q[i, j, 2]), np.float64(q[i, j, 3]))
            q[i, j, 0] = y0
            q[i, j, 1] = y1
            q[i, j, 2] = y2
            q[i, j, 3] = y3


def rotate_homogenized(q: np.ndarray, r: np.ndarray, grain_angle: float = 3.0, laue: str = "m-3m") -> np.ndarray:
    """Homogenised quaternions (rows, cols, 4) as the same map would give after the sample
    rotation ``r`` (q' = q r^-1, then each grain re-seeded closest to the identity).

    A sample rotation leaves every misorientation unchanged and keeps a homogenised grain
    homogenised (crystal symmetry acts on the left, the sample frame on the right), so the
    grains are found again from the quaternions themselves (edge neighbours within
    ``grain_angle``) and only each grain's symmetry branch is chosen afresh, as
    :func:`homogenize` chooses it. Used to turn training crops of a quaternion model by
    random sample rotations, so that it cannot learn absolute orientations (texture) of
    its few training maps. Returns a new float32 array; all-zero pixels stay zero.
    """
    from ebsdphase.crystal.quaternion import qinv, qmul, symmetry

    # right-multiplication by r^-1 is linear in q: row i of m is e_i r^-1
    m = qmul(np.eye(4), qinv(np.asarray(r, np.float64)))
    q = np.asarray(q)
    out = np.ascontiguousarray((q.reshape(-1, 4).astype(np.float64) @ m).reshape(q.shape), dtype=np.float32)
    ops = np.ascontiguousarray(symmetry(laue), dtype=np.float64)
    _reseed(out, ops, len(ops), float(np.cos(np.radians(grain_angle) / 2.0)))
    return out
