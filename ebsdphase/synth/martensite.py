"""Lath martensite in the austenite left untransformed by the ferrite.

Hierarchy (Morito et al., Acta Mater. 51 (2003) 1789; Kitahara et al., Acta Mater. 54
(2006) 1279): each prior austenite grain (PAG) splits into packets (one {111}γ habit
plane, so 6 KS variants), packets into blocks (one low-misorientation variant pair, V1/V4
at 10.5 deg), blocks into sub-blocks (one variant) made of laths 0.1-0.5 um wide that run
along the habit-plane trace. Laths differ by a degree or so. Coarse auto-tempered laths
(convex, recovered, one orientation) and the martensite that grows beside Widmanstatten
plates with nearly their orientation are the confounders the paper names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ebsdphase.crystal.quaternion import from_rotvec, qmul
from ebsdphase.crystal.relationships import ks_variants
from ebsdphase.synth._kernels import lath_indices, paint_ellipses, weighted_voronoi
from ebsdphase.synth.ferrite import Ferrite, trace_directions
from ebsdphase.synth.presets import Preset
from ebsdphase.synth.tessellation import grid, smooth_noise

#: spread of lath orientations about their variant (deg per rotation-vector component)
LATH_SPREAD_DEG = 0.28


@dataclass
class Martensite:
    orientation: np.ndarray  # (rows, cols, 4) float64 unit orientation per pixel (0 in ferrite)
    unit: np.ndarray         # (rows, cols) int64: same value = same crystal (variant) region
    lath: np.ndarray         # (rows, cols) int64: lath segment id (-1 in ferrite)
    tempered: np.ndarray     # (rows, cols) bool: coarse auto-tempered lath
    beside_plate: np.ndarray  # (rows, cols) bool: takes the orientation of a Widmanstatten plate


def _cumulative(rng, mean_px, n):
    """Random boundaries 0 < b_1 < b_2 ... with lognormal gaps of mean ``mean_px`` (>= 1 px)."""
    gaps = np.maximum(rng.lognormal(np.log(mean_px) - 0.08, 0.4, n), 1.0)
    return np.cumsum(gaps)


def form_martensite(rng: np.random.Generator, pag: np.ndarray, parent_q: np.ndarray,
                    ferrite: Ferrite, preset: Preset, step: float) -> Martensite:
    shape = pag.shape
    rows, cols = shape
    px = 1.0 / step
    mart = ferrite.grain < 0
    if not mart.any():  # a fully ferritic map
        none = np.zeros(shape, bool)
        return Martensite(orientation=np.zeros(shape + (4,)), unit=np.full(shape, -1, np.int64),
                          lath=np.full(shape, -1, np.int64), tempered=none, beside_plate=none.copy())

    # -- packets: a Voronoi tessellation cut by the PAG boundaries --------------------------
    size = preset.packet_size_um * px
    n_cells = max(1, int(round(rows * cols / (0.8 * size * size))))
    sy = rng.uniform(0, rows, n_cells).astype(np.float32)
    sx = rng.uniform(0, cols, n_cells).astype(np.float32)
    yy, xx = grid(shape)
    yy += 0.15 * size * smooth_noise(rng, shape, 0.6 * size)
    xx += 0.15 * size * smooth_noise(rng, shape, 0.6 * size)
    cell, _ = weighted_voronoi(yy, xx, sy, sx, rng.uniform(0.7, 1.3, n_cells).astype(np.float32), mart)
    key = pag.astype(np.int64) * n_cells + cell
    packet = np.full(shape, -1, np.int32)
    keys, inv = np.unique(key[mart], return_inverse=True)
    packet[mart] = inv
    n_packets = len(keys)
    packet_pag = (keys // n_cells).astype(np.int64)
    plane = rng.integers(0, 4, n_packets)
    nrm = trace_directions(parent_q[packet_pag], plane)
    # planes nearly parallel to the section would give laths of unbounded apparent width
    norm = np.linalg.norm(nrm, axis=1, keepdims=True)
    nrm = nrm / np.maximum(norm, 1e-9) * np.maximum(norm, 0.45)

    # u = row n_y + col n_x + offset must stay positive (|n| <= 1) so that every pixel
    # falls inside the random width tables, which cover [0, span)
    offset = rng.uniform(rows + cols + 2.0, rows + cols + 1000.0, n_packets)
    span = 2.0 * (rows + cols) + 1100.0
    cum_block = _cumulative(rng, preset.block_width_um * px, int(span / (preset.block_width_um * px) * 1.3) + 10)
    cum_sub = _cumulative(rng, preset.subblock_width_um * px, int(span / (preset.subblock_width_um * px) * 1.3) + 10)
    cum_lath = _cumulative(rng, preset.lath_width_um * px, int(span / max(preset.lath_width_um * px, 1.0) * 1.3) + 10)
    warp = (1.2 * smooth_noise(rng, shape, 1.5 * px)).astype(np.float64)
    salt = int(rng.integers(0, 2**62))
    pair, member, lath, seg = lath_indices(packet, warp, nrm[:, 0].copy(), nrm[:, 1].copy(), offset,
                                           cum_block, cum_sub, cum_lath, preset.lath_length_um * px, salt)
    variant = np.where(mart, 6 * plane[np.maximum(packet, 0)] + 2 * pair + member, -1)

    # -- one orientation per lath segment: its variant of the parent plus a small spread ---
    seg_keys, first, seg_inv = np.unique(seg[mart], return_index=True, return_inverse=True)
    mflat = np.flatnonzero(mart.ravel())
    seg_px = mflat[first]
    seg_variant = variant.ravel()[seg_px]
    seg_pag = pag.ravel()[seg_px]
    ks = ks_variants()
    q_seg = qmul(ks[seg_variant], parent_q[seg_pag])
    dev = rng.normal(0.0, np.radians(LATH_SPREAD_DEG * preset.martensite_spread), (len(seg_keys), 3))
    q_seg = qmul(from_rotvec(dev), q_seg)
    q = np.zeros(shape + (4,))
    q.reshape(-1, 4)[mflat] = q_seg[seg_inv]
    unit = np.where(mart, packet.astype(np.int64) * 24 + variant, -1)
    lath_id = np.full(shape, -1, np.int64)
    lath_id.ravel()[mflat] = seg_inv

    # -- coarse auto-tempered laths: convex, one orientation, recovered ------------------
    tempered_id = np.full(shape, -1, np.int32)
    n_mart = int(np.count_nonzero(mart))
    a_mean, b_mean = 1.8 * px, 0.6 * px
    n_t = int(round(preset.tempered_fraction * n_mart / (np.pi * a_mean * b_mean)))
    n_t = min(n_t, n_mart)
    if n_t > 0:
        cen = np.sort(rng.choice(mflat, n_t, replace=False))
        cy, cx = np.divmod(cen, cols)
        k = packet.ravel()[cen]
        d = nrm[k] / np.linalg.norm(nrm[k], axis=1, keepdims=True)
        a = a_mean * rng.uniform(0.6, 1.4, n_t)
        b = b_mean * rng.uniform(0.7, 1.3, n_t)
        value = np.stack([np.arange(n_t), k], axis=1).astype(np.int32)
        rough = 0.3 * smooth_noise(rng, shape, 0.3 * px)
        paint_ellipses(tempered_id, packet, cy.astype(np.float64), cx.astype(np.float64),
                       -d[:, 1].copy(), d[:, 0].copy(), a, b, value, rough)
        tsel = tempered_id >= 0
        # a coarse lath is its own crystal: another variant of the packet (so it is a
        # separate grain at 3 deg, as in the paper where such laths were taken for ferrite)
        # (a variant pair other than the surrounding block's, or it would merge with it)
        other_pair = (pair.ravel()[cen].astype(np.int64) + rng.integers(1, 3, n_t)) % 3
        t_var = 6 * plane[k] + 2 * other_pair + rng.integers(0, 2, n_t)
        t_q = qmul(ks[t_var], parent_q[packet_pag[k]])
        t_q = qmul(from_rotvec(rng.normal(0.0, np.radians(0.5), (n_t, 3))), t_q)
        q[tsel] = t_q[tempered_id[tsel]]
        unit[tsel] = 10**12 + tempered_id[tsel].astype(np.int64)
        lath_id[tsel] = len(seg_keys) + tempered_id[tsel]
    tempered = tempered_id >= 0

    # -- martensite beside Widmanstatten plates inherits their orientation -----------------
    beside = np.zeros(shape, bool)
    if ferrite.plate.any():
        dist, (iy, ix) = ndimage.distance_transform_edt(~ferrite.plate, return_indices=True)
        src = ferrite.grain[iy, ix]
        beside = mart & ~tempered & (dist <= preset.wid_martensite_um * px) & (pag == pag[iy, ix])
        if beside.any():
            # one orientation per (plate grain, lath): near, not equal to, the plate's
            bkey = src[beside].astype(np.int64) * (len(seg_keys) + n_t + 1) + lath_id[beside]
            bk, binv = np.unique(bkey, return_inverse=True)
            bgrain = (bk // (len(seg_keys) + n_t + 1)).astype(np.int64)
            bdev = rng.normal(0.0, np.radians(1.5), (len(bk), 3))
            q_b = qmul(from_rotvec(bdev), ferrite.orientation[bgrain])
            q[beside] = q_b[binv]
            unit[beside] = 2 * 10**12 + bgrain[binv]
    return Martensite(orientation=q, unit=unit, lath=lath_id, tempered=tempered, beside_plate=beside)
