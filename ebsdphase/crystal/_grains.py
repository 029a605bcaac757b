"""Grain reconstruction on a square grid: connected components of indexed pixels of one
phase whose edge neighbours are disoriented by less than an angle, then optional merging
of small grains."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ebsdphase.crystal._disorientation import angle_to_pixel, phase_tables


@njit(cache=True, parallel=True, fastmath=True)
def _links(q, phase, closed, ops, nops, angle_rad, right, down):
    """right[i, j] / down[i, j] = 1 when (i, j) joins its right / lower neighbour."""
    rows, cols = phase.shape
    for i in prange(rows):
        for j in range(cols):
            right[i, j] = 0
            down[i, j] = 0
            p = phase[i, j]
            if p <= 0:
                continue
            a0 = np.float64(q[i, j, 0])
            a1 = np.float64(q[i, j, 1])
            a2 = np.float64(q[i, j, 2])
            a3 = np.float64(q[i, j, 3])
            if j + 1 < cols and phase[i, j + 1] == p:
                if angle_to_pixel(a0, a1, a2, a3, q, i, j + 1, closed, ops, nops, p) < angle_rad:
                    right[i, j] = 1
            if i + 1 < rows and phase[i + 1, j] == p:
                if angle_to_pixel(a0, a1, a2, a3, q, i + 1, j, closed, ops, nops, p) < angle_rad:
                    down[i, j] = 1


@njit(cache=True, inline="always")
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]  # path halving
        x = parent[x]
    return x


@njit(cache=True, inline="always")
def _union(parent, a, b):
    ra = _find(parent, a)
    rb = _find(parent, b)
    # The smaller index becomes the root, so a component's root is its first pixel in
    # raster order and ids come out in raster order without a sort.
    if ra < rb:
        parent[rb] = ra
    elif rb < ra:
        parent[ra] = rb


@njit(cache=True)
def _label(right, down, phase, labels):
    """Union-find over the links; labels -1 for non-indexed pixels, else 0..n-1 in raster
    order of each grain's first pixel. Returns n."""
    rows, cols = phase.shape
    parent = np.arange(rows * cols)
    for i in range(rows):
        for j in range(cols):
            p = i * cols + j
            if right[i, j]:
                _union(parent, p, p + 1)
            if down[i, j]:
                _union(parent, p, p + cols)
    ids = np.full(rows * cols, -1, dtype=np.int32)
    n = 0
    for i in range(rows):
        for j in range(cols):
            if phase[i, j] <= 0:
                labels[i, j] = -1
                continue
            p = i * cols + j
            root = _find(parent, p)
            if root == p:
                ids[p] = n
                n += 1
            labels[i, j] = ids[root]
    return n


@njit(cache=True)
def _merge_roots(n, src, dst):
    """Union of grain pairs; returns each grain's root (its smallest id in the group)."""
    parent = np.arange(n)
    for k in range(src.shape[0]):
        _union(parent, src[k], dst[k])
    roots = np.empty(n, dtype=np.int64)
    for g in range(n):
        roots[g] = _find(parent, g)
    return roots


def _boundary_pairs(labels: np.ndarray, phase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grain ids on either side of every edge between two grains of the same phase."""
    a = np.concatenate([labels[:, :-1].ravel(), labels[:-1, :].ravel()])
    b = np.concatenate([labels[:, 1:].ravel(), labels[1:, :].ravel()])
    pa = np.concatenate([phase[:, :-1].ravel(), phase[:-1, :].ravel()])
    pb = np.concatenate([phase[:, 1:].ravel(), phase[1:, :].ravel()])
    keep = (a >= 0) & (b >= 0) & (a != b) & (pa == pb)
    return a[keep], b[keep]


def merge_small_grains(labels: np.ndarray, phase: np.ndarray, min_size: int) -> np.ndarray:
    """Merge grains smaller than ``min_size`` pixels into the same-phase neighbour grain they
    share the most edge length with (ties: the larger neighbour, then the lower id).

    Runs in passes until no small grain has a same-phase neighbour left; a small grain
    with none (an island in another phase or in non-indexed pixels) is kept. Ids are
    renumbered 0..n-1 in raster order of each grain's first pixel.
    """
    labels = labels.copy()
    while True:
        valid = labels >= 0
        n = int(labels.max()) + 1 if valid.any() else 0
        sizes = np.bincount(labels[valid], minlength=n)
        small = sizes < min_size
        if not small.any():
            break
        a, b = _boundary_pairs(labels, phase)
        src = np.concatenate([a, b]).astype(np.int64)
        dst = np.concatenate([b, a]).astype(np.int64)
        keep = small[src]
        src, dst = src[keep], dst[keep]
        if src.size == 0:
            break
        pair, count = np.unique(src * n + dst, return_counts=True)
        s, d = pair // n, pair % n
        order = np.lexsort((d, -sizes[d], -count, s))
        s, d = s[order], d[order]
        first = np.ones(s.size, dtype=bool)
        first[1:] = s[1:] != s[:-1]
        roots = _merge_roots(n, s[first], d[first])
        # A merged group's smallest id is its earliest grain, so ranking the roots keeps
        # the raster order of first pixels.
        uniq = np.unique(roots)
        lut = np.searchsorted(uniq, roots).astype(np.int32)
        labels = np.where(valid, lut[np.where(valid, labels, 0)], -1).astype(np.int32)
    return labels


def grain_labels(
    quaternions: np.ndarray,
    phase_id: np.ndarray,
    phases: dict,
    angle: float = 3.0,
    min_size: int = 1,
    source: str | None = None,
) -> np.ndarray:
    """Grain ids (rows, cols) int32 from raw arrays; see :func:`grains`."""
    angle = float(angle)
    if not 0 < angle <= 180:
        raise ValueError(f"grain angle must be in (0, 180] degrees, got {angle!r}")
    if int(min_size) != min_size or min_size < 1:
        raise ValueError(f"min_size must be an integer >= 1, got {min_size!r}")
    q = np.ascontiguousarray(quaternions, dtype=np.float32)
    phase = np.ascontiguousarray(phase_id, dtype=np.int16)
    closed, ops, nops = phase_tables(phases, np.unique(phase), source)
    right = np.empty(phase.shape, dtype=np.uint8)
    down = np.empty(phase.shape, dtype=np.uint8)
    _links(q, phase, closed, ops, nops, math.radians(angle), right, down)
    labels = np.empty(phase.shape, dtype=np.int32)
    _label(right, down, phase, labels)
    if min_size > 1:
        labels = merge_small_grains(labels, phase, int(min_size))
    return labels


def grains(ebsd, angle: float = 3.0, min_size: int = 1) -> np.ndarray:
    """Grain-id map (rows, cols) int32: -1 on non-indexed pixels, ids 0..n-1 elsewhere.

    A grain is a set of indexed pixels of one phase connected through edge neighbours
    (4-connectivity, as MTEX and OIM do on square grids) whose disorientation is below
    ``angle`` degrees. Grains smaller than ``min_size`` pixels are merged into the
    same-phase neighbour grain they share the longest boundary with (see
    :func:`merge_small_grains`). Ids follow the raster order of each grain's first pixel.

    Cached in ``ebsd.cache`` under ``("grains", angle, min_size)``; returned read-only.
    """
    key = ("grains", float(angle), int(min_size))
    cached = ebsd.cache.get(key)
    if cached is not None:
        return cached
    out = grain_labels(ebsd.quaternions, ebsd.phase_id, ebsd.phases, angle, min_size,
                       source=ebsd.source)
    out.flags.writeable = False
    ebsd.cache[key] = out
    return out
