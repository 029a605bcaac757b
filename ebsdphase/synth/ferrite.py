"""Pro-eutectoid ferrite: grain-boundary allotriomorphs, Widmanstatten plates and small
intragranular grains.

Allotriomorphs nucleate on prior austenite grain (PAG) boundaries and grow into the
grains; each nucleus becomes one ferrite grain whose orientation is near a Kurdjumov-Sachs
variant of the PAG it nucleated in (not of the one it grows into). Widmanstatten plates
grow from an allotriomorph into the PAG with which it has the relationship, along the
trace of its habit plane. (Paper, section 2.1; Bhadeshia, "Bainite in steels", ch. 1.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ebsdphase.crystal.quaternion import from_rotvec, qmul, to_matrix
from ebsdphase.crystal.relationships import ks_packets, ks_planes, variant_orientations
from ebsdphase.synth._kernels import paint_ellipses, paint_plates, weighted_voronoi
from ebsdphase.synth.presets import Preset
from ebsdphase.synth.tessellation import boundaries, grid, smooth_noise


@dataclass
class Ferrite:
    grain: np.ndarray        # (rows, cols) int32 ferrite grain id, -1 in martensite
    orientation: np.ndarray  # (n_grains, 4) sample -> crystal quaternions
    parent: np.ndarray       # (n_grains,) PAG the grain is in KS relation with
    variant: np.ndarray      # (n_grains,) KS variant index
    plate: np.ndarray        # (rows, cols) bool: Widmanstatten plate pixels
    small: np.ndarray        # (n_grains,) bool: small intragranular grain


def _near_ks(rng, parent_q, n_dev_deg):
    """Random KS variant of each parent, rotated off the exact relationship."""
    n = len(parent_q)
    variant = rng.integers(0, 24, n)
    q = variant_orientations(parent_q)[np.arange(n), variant]
    axis = rng.standard_normal((n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    angle = np.radians(n_dev_deg * rng.uniform(0.5, 1.0, n))
    q = qmul(from_rotvec(axis * angle[:, None]), q)
    return q, variant


def trace_directions(parent_q: np.ndarray, plane_index: np.ndarray) -> np.ndarray:
    """In-plane (y, x) components of {111} habit-plane normals in the sample frame.

    Returns (n, 2) (n_y, n_x): a pixel at (row, col) lies at distance n_y row + n_x col from
    the plane through the origin, so the plane's trace runs along (-n_x, n_y).
    """
    normals_c = ks_planes()[plane_index]  # crystal (parent) frame
    mats = to_matrix(parent_q)       # v_c = M v_s  ->  v_s = M^T v_c
    n_s = np.einsum("nji,nj->ni", mats, normals_c)
    return np.stack([n_s[:, 1], n_s[:, 0]], axis=1)


def grow_ferrite(rng: np.random.Generator, pag: np.ndarray, parent_q: np.ndarray,
                 preset: Preset, step: float) -> Ferrite:
    """Place ferrite grains so that they cover ``preset.ferrite_fraction`` of the map."""
    shape = pag.shape
    rows, cols = shape
    n_px = rows * cols
    area_um2 = n_px * step * step
    px = 1.0 / step  # pixels per micrometre

    # -- allotriomorph nuclei on PAG boundaries ----------------------------------------
    bidx = np.flatnonzero(boundaries(pag))
    # both sides of a boundary are marked, so half the count is its length in pixels
    n_nuc = max(1, int(round(0.5 * len(bidx) / (preset.ferrite_spacing_um * px)))) if len(bidx) else 0
    if n_nuc:
        nuc = np.sort(rng.choice(bidx, n_nuc, replace=False))
    else:  # a single grain on the map: nucleate on its edges instead
        edge = np.flatnonzero(np.pad(np.zeros((rows - 2, cols - 2), bool), 1, constant_values=True))
        n_nuc = max(1, int(round(len(edge) / (preset.ferrite_spacing_um * px))))
        nuc = np.sort(rng.choice(edge, n_nuc, replace=False))
    ny, nx = np.divmod(nuc, cols)
    nuc_parent = pag.ravel()[nuc]
    growth = rng.lognormal(0.0, preset.ferrite_size_sigma, n_nuc)

    yy, xx = grid(shape)
    amp = preset.interface_roughness_um * px
    yy += amp * smooth_noise(rng, shape, 1.5 * px)
    xx += amp * smooth_noise(rng, shape, 1.5 * px)
    lab, dist = weighted_voronoi(yy, xx, ny.astype(np.float32), nx.astype(np.float32),
                                 growth.astype(np.float32), np.ones(shape, bool))
    n_target = int(round(preset.ferrite_fraction * n_px))
    flat = dist.ravel()
    t0 = np.partition(flat, n_target - 1)[n_target - 1] if n_target > 0 else -1.0
    ferrite0 = dist <= t0

    q_all, v_all = _near_ks(rng, parent_q[nuc_parent], preset.ferrite_ks_deviation_deg)
    parents = [nuc_parent]
    orients = [q_all]
    variants = [v_all]

    # -- Widmanstatten plates ---------------------------------------------------------
    plate_grain = np.full(shape, -1, np.int32)
    n_col = int(round(area_um2 / 100.0 * preset.wid_colonies_per_100um2))
    if preset.ferrite_fraction <= 0.0:  # a fully martensitic map: no plates either
        n_col = 0
    if n_col > 0 and n_nuc > 0:
        src = rng.choice(n_nuc, min(n_col, n_nuc), replace=False)
        packet = ks_packets()[v_all[src]]
        nrm = trace_directions(parent_q[nuc_parent[src]], packet)
        norm = np.maximum(np.linalg.norm(nrm, axis=1), 1e-6)
        ty, tx = -nrm[:, 1] / norm, nrm[:, 0] / norm
        # grow into the parent grain: point the trace towards the parent's centroid
        counts = np.bincount(pag.ravel(), minlength=len(parent_q)).astype(np.float64)
        ry, rx = np.divmod(np.arange(n_px, dtype=np.float64), cols)
        cy = np.bincount(pag.ravel(), weights=ry, minlength=len(parent_q)) / np.maximum(counts, 1)
        cx = np.bincount(pag.ravel(), weights=rx, minlength=len(parent_q)) / np.maximum(counts, 1)
        p = nuc_parent[src]
        sign = np.where((cy[p] - ny[src]) * ty + (cx[p] - nx[src]) * tx >= 0, 1.0, -1.0)
        ty, tx = ty * sign, tx * sign
        reach = t0 * growth[src]  # radius of the allotriomorph in pixels
        plates = []
        for i in range(len(src)):
            k = int(rng.integers(preset.wid_plates[0], preset.wid_plates[1] + 1))
            spacing = rng.uniform(0.8, 1.6) * px
            offs = (np.arange(k) - 0.5 * (k - 1)) * spacing + rng.normal(0, 0.2 * px, k)
            length = reach[i] + rng.uniform(*preset.wid_length_um, k) * px
            width = rng.uniform(*preset.wid_width_um, k) * px
            y0 = ny[src[i]] + offs * tx[i]
            x0 = nx[src[i]] - offs * ty[i]
            plates.append(np.stack([y0, x0, np.full(k, ty[i]), np.full(k, tx[i]), length, width,
                                    np.full(k, src[i]), np.full(k, p[i])], axis=1))
        pl = np.concatenate(plates)
        value = np.ascontiguousarray(pl[:, 6:8].astype(np.int32))
        paint_plates(plate_grain, pag, pl[:, 0].copy(), pl[:, 1].copy(), pl[:, 2].copy(),
                     pl[:, 3].copy(), pl[:, 4].copy(), pl[:, 5].copy(), value)

    # -- small intragranular ferrite grains (low BS, the paper's false martensite) -----
    small_grain = np.full(shape, -1, np.int32)
    n_small = int(round(area_um2 / 100.0 * preset.small_ferrite_per_100um2))
    if preset.ferrite_fraction <= 0.0:
        n_small = 0
    candidates = np.flatnonzero(~ferrite0.ravel() & (plate_grain.ravel() < 0))
    n_small = min(n_small, len(candidates))
    if n_small > 0:
        cen = np.sort(rng.choice(candidates, n_small, replace=False))
        sy_, sx_ = np.divmod(cen, cols)
        sp = pag.ravel()[cen]
        a = rng.uniform(0.4, 1.2, n_small) * px
        b = a * rng.uniform(0.5, 1.0, n_small)
        ang = rng.uniform(0, np.pi, n_small)
        value = np.stack([n_nuc + np.arange(n_small), sp], axis=1).astype(np.int32)
        rough = 0.4 * smooth_noise(rng, shape, 0.4 * px)
        paint_ellipses(small_grain, pag, sy_.astype(np.float64), sx_.astype(np.float64),
                       np.sin(ang), np.cos(ang), a, b, value, rough)
        q_s, v_s = _near_ks(rng, parent_q[sp], preset.ferrite_ks_deviation_deg)
        parents.append(sp)
        orients.append(q_s)
        variants.append(v_s)

    # -- re-solve the growth threshold so the total hits the target fraction ------------
    extra = ((plate_grain >= 0) | (small_grain >= 0)) & ~ferrite0
    n_left = max(n_target - int(np.count_nonzero(extra)), 0)
    rest = dist[~extra]
    t = np.partition(rest, n_left - 1)[n_left - 1] if n_left > 0 else -1.0
    allot = (dist <= t) & ~extra
    grain = np.full(shape, -1, np.int32)
    grain[allot] = lab[allot]
    sel = (grain < 0) & (plate_grain >= 0)
    grain[sel] = plate_grain[sel]
    sel = (grain < 0) & (small_grain >= 0)
    grain[sel] = small_grain[sel]

    n_grains = n_nuc + (n_small if n_small > 0 else 0)
    small = np.zeros(n_grains, bool)
    small[n_nuc:] = True
    return Ferrite(grain=grain, orientation=np.concatenate(orients), parent=np.concatenate(parents),
                   variant=np.concatenate(variants), plate=(plate_grain >= 0) & ~allot & (grain >= 0),
                   small=small)
