"""Crystallography kernels: quaternions, disorientation, KAM, grains, homogenisation."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial.transform import Rotation

from conftest import shared_file
from ebsdphase import EBSDMap, EbsdphaseError, MapReadError, Phase, read_map
from ebsdphase.crystal import (
    disorientation,
    grain_average,
    grain_table,
    grains,
    homogenize,
    kam,
    kernel_offsets,
    merge_small_grains,
    rotate_homogenized,
)
from ebsdphase.crystal.quaternion import (
    cubic_symmetry,
    hexagonal_symmetry,
    qinv,
    qmul,
    qnormalize,
    qrotate,
    symmetry,
)
from ebsdphase.features import DERIVED_CHANNELS, ChannelRecipe

CUBIC = {1: Phase("ferrite", "m-3m")}


# -- helpers --------------------------------------------------------------------------------
def random_quats(rng: np.random.Generator, n: int) -> np.ndarray:
    return qnormalize(rng.normal(size=(n, 4)))


def axis_angle(axis, degrees: float) -> np.ndarray:
    a = np.asarray(axis, float)
    a = a / np.linalg.norm(a)
    h = np.radians(degrees) / 2
    return np.concatenate([[np.cos(h)], np.sin(h) * a])


def random_equivalents(rng, q: np.ndarray, ops: np.ndarray) -> np.ndarray:
    """Each quaternion rewritten as a random symmetry equivalent with a random sign."""
    s = ops[rng.integers(0, len(ops), size=q.shape[:-1])]
    sign = rng.choice([-1.0, 1.0], size=q.shape[:-1] + (1,))
    return qmul(s, q) * sign


def make_map(q, phase=None, phases=None) -> EBSDMap:
    q = np.asarray(q, np.float32)
    if phase is None:
        phase = np.ones(q.shape[:2], np.int16)
    q = q.copy()
    q[np.asarray(phase) <= 0] = 0.0
    return EBSDMap(quaternions=q, phase_id=phase, phases=phases or CUBIC, step=(1.0, 1.0))


def brute_force_angle(q1, q2, ops) -> np.ndarray:
    """min over S1, S2 of angle(S2 (q2 q1^-1) S1^-1), degrees (numpy, |ops|^2 products)."""
    m = qmul(q2, qinv(q1))
    m = m / np.linalg.norm(m, axis=-1, keepdims=True)
    # (S2 t)_w = s0 t0 - s . t_v, for every S2 at once
    w_rows = ops * np.array([1.0, -1.0, -1.0, -1.0])
    best = np.zeros(m.shape[:-1])
    for s1 in ops:
        t = qmul(m, qinv(s1))
        best = np.maximum(best, np.abs(t @ w_rows.T).max(axis=-1))
    return np.degrees(2 * np.arccos(np.clip(best, -1.0, 1.0)))


def reference_kam(ebsd: EBSDMap, order=1, threshold=3.0, ring_only=True) -> np.ndarray:
    """Slow, obvious KAM: one shifted copy of the map per kernel offset, brute-force
    disorientation over the phase's symmetry operators, numpy only."""
    q = ebsd.quaternions.astype(np.float64)
    ph = ebsd.phase_id
    rows, cols = ph.shape
    total = np.zeros((rows, cols))
    count = np.zeros((rows, cols))
    n = order
    for di in range(-n, n + 1):
        for dj in range(-n, n + 1):
            cheb = max(abs(di), abs(dj))
            if cheb == 0 or (ring_only and cheb != n):
                continue
            qn = np.zeros_like(q)
            pn = np.zeros_like(ph)
            rs = slice(max(0, -di), min(rows, rows - di))
            cs = slice(max(0, -dj), min(cols, cols - dj))
            rn = slice(max(0, di), min(rows, rows + di))
            cn = slice(max(0, dj), min(cols, cols + dj))
            qn[rs, cs] = q[rn, cn]
            pn[rs, cs] = ph[rn, cn]
            ok = (ph > 0) & (pn == ph)
            ang = np.full((rows, cols), np.inf)
            for pid in np.unique(ph[ok]):
                sel = ok & (ph == pid)
                ops = symmetry(ebsd.phases[int(pid)].laue)
                ang[sel] = brute_force_angle(q[sel], qn[sel], ops)
            use = ok & (ang <= threshold)
            total[use] += ang[use]
            count[use] += 1
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def voronoi_map(rng, shape=(90, 110), n_seeds=18, spread_deg=0.3, min_gap_deg=15.0,
                min_dist=14.0):
    """Voronoi grains: seeds at least ``min_dist`` px apart, each with a random orientation
    at least ``min_gap_deg`` from every other, small random in-grain scatter, and every
    pixel written as a random symmetry equivalent."""
    rows, cols = shape
    seeds = []
    while len(seeds) < n_seeds:
        p = rng.uniform((0, 0), (rows, cols))
        if all(np.hypot(*(p - s)) >= min_dist for s in seeds):
            seeds.append(p)
    seeds = np.array(seeds)
    oris = []
    while len(oris) < n_seeds:
        o = random_quats(rng, 1)[0]
        if all(disorientation(o, x) > min_gap_deg for x in oris):
            oris.append(o)
    oris = np.array(oris)
    ii, jj = np.mgrid[:rows, :cols]
    d = (ii[..., None] - seeds[:, 0]) ** 2 + (jj[..., None] - seeds[:, 1]) ** 2
    cell = d.argmin(axis=-1)
    noise = Rotation.from_rotvec(rng.normal(scale=np.radians(spread_deg), size=(rows * cols, 3)))
    qn = noise.as_quat(scalar_first=True).reshape(rows, cols, 4)
    q = qmul(qn, oris[cell])
    q = random_equivalents(rng, q, cubic_symmetry())
    return make_map(q), cell, oris


# -- import cost ----------------------------------------------------------------------------
def test_importing_the_package_does_not_load_numba():
    code = "import sys, ebsdphase, ebsdphase.crystal; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_lazy_names_are_the_functions_even_after_importing_the_modules():
    import ebsdphase.crystal as crystal
    import ebsdphase.crystal._kam  # noqa: F401

    assert callable(crystal.kam) and callable(crystal.grains) and callable(crystal.homogenize)


# -- quaternions and groups -----------------------------------------------------------------
def test_qmul_qinv_qrotate_match_scipy():
    rng = np.random.default_rng(0)
    a, b = random_quats(rng, 50), random_quats(rng, 50)
    ra = Rotation.from_quat(a, scalar_first=True)
    rb = Rotation.from_quat(b, scalar_first=True)
    ab = qmul(a, b)
    assert np.allclose(np.abs((ab * (ra * rb).as_quat(scalar_first=True)).sum(-1)), 1.0)
    assert np.allclose(qmul(a, qinv(a)), [1, 0, 0, 0])
    v = rng.normal(size=(50, 3))
    assert np.allclose(qrotate(a, v), ra.apply(v))


@pytest.mark.parametrize("ops, group, n", [(cubic_symmetry, "O", 24), (hexagonal_symmetry, "D6", 12)])
def test_symmetry_groups_match_scipy(ops, group, n):
    s = ops()
    assert s.shape == (n, 4)
    ref = Rotation.create_group(group).as_quat(scalar_first=True)
    # same set of rotations (q ~ -q)
    dots = np.abs(s @ ref.T)
    assert np.allclose(dots.max(axis=1), 1.0) and np.allclose(dots.max(axis=0), 1.0)


@pytest.mark.parametrize("laue", ["m-3m", "m-3", "6/mmm", "6/m", "-3m", "-3", "4/mmm", "4/m",
                                  "mmm", "2/m", "-1"])
def test_every_supported_group_is_closed(laue):
    s = symmetry(laue)
    prod = qmul(s[:, None], s[None]).reshape(-1, 4)
    assert np.allclose(np.abs(prod @ s.T).max(axis=1), 1.0)
    assert np.allclose(np.linalg.norm(s, axis=1), 1.0)


def test_unknown_laue_group_is_rejected():
    with pytest.raises(ValueError, match="unsupported Laue group"):
        symmetry("m-4")


# -- disorientation -------------------------------------------------------------------------
def test_cubic_closed_form_equals_brute_force_on_100000_pairs():
    rng = np.random.default_rng(1)
    a = random_quats(rng, 100_000)
    b = random_quats(rng, 100_000)
    got = disorientation(a, b)
    want = brute_force_angle(a, b, cubic_symmetry())
    assert np.max(np.abs(got - want)) < 1e-6
    assert 62.0 < got.max() <= 62.81  # the cubic fundamental zone ends at 62.8 deg


def test_cubic_disorientation_matches_scipy_group():
    rng = np.random.default_rng(2)
    a, b = random_quats(rng, 2000), random_quats(rng, 2000)
    ra, rb = Rotation.from_quat(a, scalar_first=True), Rotation.from_quat(b, scalar_first=True)
    m = rb * ra.inv()
    want = np.min([(g * m).magnitude() for g in Rotation.create_group("O")], axis=0)
    assert np.allclose(disorientation(a, b), np.degrees(want), atol=1e-6)


@pytest.mark.parametrize("laue", ["6/mmm", "4/mmm", "m-3", "-3m"])
def test_general_path_equals_brute_force(laue):
    rng = np.random.default_rng(3)
    a, b = random_quats(rng, 20_000), random_quats(rng, 20_000)
    got = disorientation(a, b, laue=laue)
    assert np.max(np.abs(got - brute_force_angle(a, b, symmetry(laue)))) < 1e-6


def test_disorientation_ignores_symmetry_sign_and_norm_and_broadcasts():
    rng = np.random.default_rng(4)
    a, b = random_quats(rng, 500), random_quats(rng, 500)
    d = disorientation(a, b)
    a2 = random_equivalents(rng, a, cubic_symmetry()) * 0.9
    b2 = random_equivalents(rng, b, cubic_symmetry())
    assert np.allclose(disorientation(a2, b2), d, atol=1e-9)
    assert np.allclose(disorientation(b, a), d, atol=1e-9)
    assert disorientation(a[:3, None], b[None, :4]).shape == (3, 4)
    assert np.isnan(disorientation([0, 0, 0, 0], a[0]))
    assert disorientation(a[0], a[0]) < 1e-9


def test_small_angles_are_exact():
    rng = np.random.default_rng(5)
    q = random_quats(rng, 200)
    for deg in (1e-3, 0.1, 1.0, 2.999):
        step = qmul(axis_angle(rng.normal(size=3), deg), q)
        assert np.allclose(disorientation(q, step), deg, rtol=1e-7, atol=1e-9)


# -- KAM: hand-made cases ---------------------------------------------------------------------
def test_uniform_grain_has_zero_kam_even_with_mixed_equivalents():
    rng = np.random.default_rng(6)
    q = np.broadcast_to(random_quats(rng, 1)[0], (12, 15, 4))
    k = kam(make_map(q))
    assert k.dtype == np.float32 and k.shape == (12, 15)
    assert np.all(k < 1e-9)
    # equivalents differ by float32 rounding of S q only (~1e-6 deg)
    mixed = kam(make_map(random_equivalents(rng, q, cubic_symmetry())))
    assert np.all(mixed < 1e-4)


def test_one_degree_step_in_a_symmetry_equivalent_form_reads_one_degree():
    rng = np.random.default_rng(7)
    g = random_quats(rng, 1)[0]
    ops = cubic_symmetry()
    q = np.broadcast_to(g, (7, 7, 4)).copy()
    # centre: 1 deg away, written with a 120 deg <111> operator and a flipped sign
    q[3, 3] = -qmul(ops[20], qmul(axis_angle([1, 2, 3], 1.0), g))
    k = kam(make_map(q))
    assert k[3, 3] == pytest.approx(1.0, abs=1e-5)
    assert k[2, 2] == pytest.approx(1.0 / 8, abs=1e-5)
    assert k[0, 0] < 1e-9


def test_one_degree_step_between_halves_with_random_equivalents():
    rng = np.random.default_rng(8)
    g = random_quats(rng, 1)[0]
    left = np.arange(10) < 5
    q = np.where(left[None, :, None], g, qmul(axis_angle([0, 0, 1], 1.0), g))
    q = random_equivalents(rng, np.broadcast_to(q, (8, 10, 4)), cubic_symmetry())
    k = kam(make_map(q))
    # expected: the fraction of a pixel's neighbours that sit across the step
    side = np.broadcast_to(left, (8, 10)).astype(float)
    across = np.zeros((8, 10))
    total = np.zeros((8, 10))
    padded_side = np.pad(side, 1, constant_values=np.nan)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di == dj == 0:
                continue
            nb = padded_side[1 + di: 9 + di, 1 + dj: 11 + dj]
            total += ~np.isnan(nb)
            across += (~np.isnan(nb)) & (nb != side)
    assert np.allclose(k, across / total, atol=1e-5)
    assert k.max() > 0.3


def test_boundary_above_threshold_is_excluded():
    rng = np.random.default_rng(9)
    g = random_quats(rng, 1)[0]
    q = np.where((np.arange(10) < 5)[None, :, None], g, qmul(axis_angle([1, 1, 0], 5.0), g))
    ebsd = make_map(np.broadcast_to(q, (6, 10, 4)))
    assert np.all(kam(ebsd, threshold=3.0) < 1e-9)
    wide = kam(ebsd, threshold=10.0)
    assert wide[2, 4] == pytest.approx(5.0 * 3 / 8, abs=1e-4)


def test_non_indexed_holes_are_ignored():
    rng = np.random.default_rng(10)
    g = random_quats(rng, 1)[0]
    q = np.broadcast_to(g, (7, 7, 4)).copy()
    q[3, 3] = qmul(axis_angle([0, 1, 0], 1.0), g)
    phase = np.ones((7, 7), np.int16)
    phase[2, 2] = phase[2, 3] = phase[4, 4] = 0
    phase[0, 0] = 0
    k = kam(make_map(q, phase))
    assert k[3, 3] == pytest.approx(1.0, abs=1e-5)  # mean over the 5 indexed neighbours
    assert k[2, 4] == pytest.approx(1.0 / 7, abs=1e-5)  # 1 of its 8 neighbours is a hole
    assert np.all(k[phase == 0] == 0.0)


def test_neighbours_of_another_phase_are_excluded():
    rng = np.random.default_rng(11)
    g = random_quats(rng, 1)[0]
    q = np.broadcast_to(g, (5, 5, 4)).copy()
    q[2, 2] = qmul(axis_angle([0, 1, 0], 1.0), g)
    phase = np.ones((5, 5), np.int16)
    phase[2, 2] = 2
    phases = {1: Phase("ferrite", "m-3m"), 2: Phase("austenite", "m-3m")}
    k = kam(make_map(q, phase, phases))
    assert k[2, 2] == 0.0  # no same-phase neighbour
    assert np.all(k < 1e-9)  # the others only see 0 deg neighbours


def test_isolated_pixel_gets_zero():
    q = np.zeros((3, 3, 4))
    q[1, 1] = [1, 0, 0, 0]
    phase = np.zeros((3, 3), np.int16)
    phase[1, 1] = 1
    assert np.all(kam(make_map(q, phase)) == 0.0)


def test_kernel_offsets():
    assert len(kernel_offsets(1)) == 8 and len(kernel_offsets(1, ring_only=False)) == 8
    assert len(kernel_offsets(2)) == 16 and len(kernel_offsets(2, ring_only=False)) == 24
    assert np.all(np.abs(kernel_offsets(3)).max(axis=1) == 3)
    with pytest.raises(ValueError):
        kernel_offsets(0)


@pytest.mark.parametrize("order, ring_only", [(1, True), (2, True), (2, False), (3, True)])
def test_kam_matches_reference_on_a_noisy_voronoi_map(order, ring_only):
    rng = np.random.default_rng(12)
    ebsd, _, _ = voronoi_map(rng, shape=(40, 50), n_seeds=6, spread_deg=1.2, min_dist=10)
    ebsd.phase_id[rng.random(ebsd.shape) < 0.05] = 0
    ebsd.quaternions[ebsd.phase_id == 0] = 0
    got = kam(ebsd, order=order, threshold=3.0, ring_only=ring_only)
    want = reference_kam(ebsd, order, 3.0, ring_only)
    assert np.max(np.abs(got - want)) < 1e-4
    assert got.max() > 0.5


def test_kam_hexagonal_phase_matches_reference():
    rng = np.random.default_rng(13)
    rows, cols = 20, 24
    g = random_quats(rng, 1)[0]
    noise = Rotation.from_rotvec(rng.normal(scale=np.radians(1.0), size=(rows * cols, 3)))
    q = qmul(noise.as_quat(scalar_first=True).reshape(rows, cols, 4), g)
    q = random_equivalents(rng, q, hexagonal_symmetry())
    ebsd = make_map(q, phases={1: Phase("titanium", "6/mmm")})
    got = kam(ebsd)
    assert np.max(np.abs(got - reference_kam(ebsd))) < 1e-4
    assert got.mean() > 0.5


def test_kam_is_cached_read_only_and_keyed_by_parameters():
    rng = np.random.default_rng(14)
    ebsd, _, _ = voronoi_map(rng, shape=(20, 20), n_seeds=3, min_dist=6)
    k1 = kam(ebsd)
    assert kam(ebsd) is k1
    assert DERIVED_CHANNELS["kam"].compute(ebsd, ChannelRecipe(("kam",))) is k1
    assert not k1.flags.writeable
    k2 = kam(ebsd, threshold=1.0)
    assert k2 is not k1 and k2.max() <= 1.0
    assert ("kam", 1, 3.0, True) in ebsd.cache


def test_kam_bad_parameters_and_unsupported_phase():
    ebsd = make_map(np.tile([1.0, 0, 0, 0], (4, 4, 1)))
    with pytest.raises(ValueError):
        kam(ebsd, threshold=0)
    bad = make_map(np.tile([1.0, 0, 0, 0], (4, 4, 1)), phases={1: Phase("odd", "")})
    bad.source = "odd.ctf"
    with pytest.raises(EbsdphaseError, match="odd.ctf: phase 1"):
        kam(bad)
    # a phase listed in the header but unused is no problem
    fine = make_map(np.tile([1.0, 0, 0, 0], (4, 4, 1)),
                    phases={1: Phase("iron", "m-3m"), 2: Phase("odd", "")})
    assert np.all(kam(fine) == 0.0)


# -- grains -----------------------------------------------------------------------------------
def test_voronoi_grains_equal_seeds():
    rng = np.random.default_rng(15)
    ebsd, cell, _ = voronoi_map(rng)
    ids = grains(ebsd)
    assert ids.dtype == np.int32
    assert ids.max() + 1 == cell.max() + 1 == 18
    # the same partition: one grain per cell
    pairs = np.unique(np.stack([ids.ravel(), cell.ravel()]), axis=1)
    assert pairs.shape[1] == 18
    # ids follow the raster order of each grain's first pixel
    _, first = np.unique(ids.ravel(), return_index=True)
    assert np.all(np.diff(first) > 0)
    assert grains(ebsd) is ids and not ids.flags.writeable


def test_grains_split_by_phase_and_skip_non_indexed():
    q = np.tile([1.0, 0, 0, 0], (6, 6, 1))
    phase = np.ones((6, 6), np.int16)
    phase[:, 3:] = 2
    phase[0, 0] = 0
    phases = {1: Phase("a", "m-3m"), 2: Phase("b", "m-3m")}
    ids = grains(make_map(q, phase, phases))
    assert ids[0, 0] == -1
    assert set(np.unique(ids)) == {-1, 0, 1}
    assert np.all(ids[:, 3:] == 1)


def test_grain_angle_is_strict_and_uses_edge_neighbours_only():
    rng = np.random.default_rng(16)
    g = random_quats(rng, 1)[0]
    q = np.broadcast_to(g, (4, 4, 4)).copy()
    q[:, 2:] = qmul(axis_angle([0, 0, 1], 2.0), g)
    ebsd = make_map(q)
    assert grains(ebsd, angle=3.0).max() == 0
    assert grains(ebsd, angle=1.5).max() == 1
    # two pixels touching only at a corner are two grains
    diag = np.zeros((2, 2), np.int16)
    diag[0, 0] = diag[1, 1] = 1
    assert grains(make_map(np.tile([1.0, 0, 0, 0], (2, 2, 1)), diag)).max() == 1


def test_min_size_merges_into_the_neighbour_with_the_longest_boundary():
    rng = np.random.default_rng(17)
    a, b, c = random_quats(rng, 3)
    q = np.empty((10, 10, 4))
    q[:, :5] = a
    q[:, 5:] = b
    q[4:6, 3:5] = c  # 2x2 grain: 6 edges with A, 2 with B
    q[1, 8] = c  # single pixel inside B
    ebsd = make_map(q)
    assert grains(ebsd).max() + 1 == 4
    ids = grains(ebsd, min_size=5)
    assert ids.max() + 1 == 2
    assert np.all(ids[:, :5] == ids[0, 0]) and np.all(ids[:, 5:] == ids[0, 9])


def test_min_size_keeps_a_small_grain_with_no_same_phase_neighbour():
    q = np.tile([1.0, 0, 0, 0], (5, 5, 1))
    phase = np.ones((5, 5), np.int16)
    phase[2, 2] = 2
    phases = {1: Phase("a", "m-3m"), 2: Phase("b", "m-3m")}
    ids = grains(make_map(q, phase, phases), min_size=3)
    assert ids.max() + 1 == 2


def test_merge_small_grains_chains_small_neighbours():
    labels = np.array([[0, 0, 0, 1, 2],
                       [0, 0, 0, 1, 2]], np.int32)
    phase = np.ones(labels.shape, np.int16)
    out = merge_small_grains(labels, phase, min_size=3)
    assert np.all(out == 0)
    labels2 = np.array([[0, 1, 1, 1, 1]], np.int32)
    assert np.all(merge_small_grains(labels2, np.ones((1, 5), np.int16), 2) == 0)


# -- homogenisation and grain averages ---------------------------------------------------------
def _neighbour_pairs(ids):
    a = (ids[:, :-1], ids[:, 1:], (slice(None), slice(None, -1)), (slice(None), slice(1, None)))
    b = (ids[:-1, :], ids[1:, :], (slice(None, -1), slice(None)), (slice(1, None), slice(None)))
    return a, b


def test_homogenize_makes_grains_continuous_and_keeps_orientations():
    rng = np.random.default_rng(18)
    ebsd, _, _ = voronoi_map(rng, shape=(50, 60), n_seeds=8, min_dist=12)
    ebsd.phase_id[rng.random(ebsd.shape) < 0.03] = 0
    ebsd.quaternions[ebsd.phase_id == 0] = 0
    ids = grains(ebsd)
    h = homogenize(ebsd, ids)
    assert h.dtype == np.float32 and h.shape == ebsd.quaternions.shape
    assert np.all(h[ebsd.phase_id == 0] == 0)
    ok = ebsd.phase_id > 0
    assert np.max(disorientation(h[ok], ebsd.quaternions[ok])) < 1e-3
    for ia, ib, sa, sb in _neighbour_pairs(ids):
        same = (ia == ib) & (ia >= 0)
        raw_dot = np.sum(ebsd.quaternions[sa] * ebsd.quaternions[sb], axis=-1)[same]
        dot = np.sum(h[sa] * h[sb], axis=-1)[same]
        assert raw_dot.min() < 0.5  # the input really is scrambled
        assert dot.min() > np.cos(np.radians(1.5))  # < 3 deg apart, same hemisphere
        before = disorientation(ebsd.quaternions[sa][same], ebsd.quaternions[sb][same])
        after = disorientation(h[sa][same], h[sb][same])
        assert np.allclose(before, after, atol=1e-3)


def test_homogenize_hexagonal_phase():
    rng = np.random.default_rng(19)
    g = random_quats(rng, 1)[0]
    noise = Rotation.from_rotvec(rng.normal(scale=np.radians(0.3), size=(100, 3)))
    q = qmul(noise.as_quat(scalar_first=True).reshape(10, 10, 4), g)
    q = random_equivalents(rng, q, hexagonal_symmetry())
    ebsd = make_map(q, phases={1: Phase("ti", "6/mmm")})
    h = homogenize(ebsd, grains(ebsd))
    close = np.cos(np.radians(1.5))
    assert np.sum(h[:, :-1] * h[:, 1:], axis=-1).min() > close
    assert np.sum(h[:-1] * h[1:], axis=-1).min() > close


@pytest.mark.parametrize("laue", ["m-3m", "6/mmm"])
def test_homogenize_does_not_depend_on_how_the_input_is_written(laue):
    """Every pixel takes the equivalent closest to the pixel it is reached from, whatever
    equivalent the file wrote: the same map written consistently (the neighbour's operator
    fits, the shortcut), fully scrambled (it never fits, the search over the group) or half
    and half must give the same quaternions."""
    rng = np.random.default_rng(21)
    ops = cubic_symmetry() if laue == "m-3m" else hexagonal_symmetry()
    ebsd, _, _ = voronoi_map(rng, shape=(40, 50), n_seeds=6, min_dist=10)
    ebsd = make_map(ebsd.quaternions, phases={1: Phase("x", laue)})
    ids = grains(ebsd)
    consistent = homogenize(ebsd, ids)
    assert np.array_equal(homogenize(make_map(consistent, phases=ebsd.phases), ids), consistent)
    for share in (1.0, 0.5):
        q = consistent.copy()
        pick = rng.random(ebsd.shape) < share
        q[pick] = random_equivalents(rng, consistent, ops)[pick]
        np.testing.assert_allclose(homogenize(make_map(q, phases=ebsd.phases), ids), consistent, atol=2e-6)


def test_rotate_homogenized_is_homogenize_of_the_rotated_sample():
    """A training crop turned by a sample rotation r (q' = q r^-1) and re-seeded must give
    exactly what homogenising the rotated map gives (scipy composes the reference
    rotation), with every misorientation kept and non-indexed pixels still zero."""
    rng = np.random.default_rng(23)
    ebsd, _, _ = voronoi_map(rng, shape=(40, 50), n_seeds=7, min_dist=10)
    ebsd.phase_id[rng.random(ebsd.shape) < 0.03] = 0
    ebsd.quaternions[ebsd.phase_id == 0] = 0
    h = homogenize(ebsd, grains(ebsd))
    ok = ebsd.phase_id > 0
    for r in random_quats(rng, 4):
        turned = (Rotation.from_quat(ebsd.quaternions[ok], scalar_first=True)
                  * Rotation.from_quat(r, scalar_first=True).inv()).as_quat(scalar_first=True)
        q = np.zeros_like(ebsd.quaternions)
        q[ok] = turned
        rotated = make_map(q, phase=ebsd.phase_id, phases=ebsd.phases)
        reference = homogenize(rotated, grains(rotated))
        got = rotate_homogenized(h, r)
        assert got.dtype == np.float32 and np.all(got[~ok] == 0)
        assert not np.allclose(got[ok], h[ok], atol=0.1)  # it really turned
        np.testing.assert_allclose(got, reference, atol=2e-6)
        for sa, sb in ((np.s_[:, :-1], np.s_[:, 1:]), (np.s_[:-1], np.s_[1:])):
            both = ok[sa] & ok[sb]
            np.testing.assert_allclose(disorientation(got[sa][both], got[sb][both]),
                                       disorientation(h[sa][both], h[sb][both]), atol=1e-3)


def test_grain_average_matches_numpy_reference():
    rng = np.random.default_rng(20)
    ids = rng.integers(-1, 7, size=(15, 17)).astype(np.int32)
    vals = rng.normal(size=(15, 17)).astype(np.float32)
    vals[3, 4] = np.nan
    got = grain_average(vals, ids)
    want = np.full(vals.shape, np.nan)
    for g in range(7):
        sel = ids == g
        want[sel] = np.nanmean(vals[sel].astype(np.float64))
    assert got.dtype == np.float32
    assert np.allclose(got, want, equal_nan=True, atol=1e-6)
    assert np.all(np.isnan(got[ids == -1]))
    stacked = grain_average(np.stack([vals, 2 * vals], axis=-1).astype(np.float64), ids)
    assert stacked.shape == (15, 17, 2) and stacked.dtype == np.float64
    assert np.allclose(stacked[..., 1], 2 * want, equal_nan=True, atol=1e-5)


def test_grain_table_sizes_orientations_and_channels():
    rng = np.random.default_rng(21)
    ebsd, cell, oris = voronoi_map(rng, shape=(40, 50), n_seeds=6, min_dist=10)
    ebsd.channels["bc"] = rng.random(ebsd.shape).astype(np.float32)
    ids = grains(ebsd)
    t = grain_table(ebsd, ids, channels=("bc", "kam"))
    n = ids.max() + 1
    assert all(len(v) == n for v in t.values())
    assert np.array_equal(t["size"], np.bincount(ids.ravel()))
    avg = grain_average(ebsd.channels["bc"], ids)
    first = np.unique(ids.ravel(), return_index=True)[1]
    assert np.allclose(t["bc"], avg.ravel()[first], atol=1e-6)
    mean_q = np.stack([t[f"q{c}"] for c in range(4)], axis=1)
    seed_of_grain = cell.ravel()[first]
    assert np.max(disorientation(mean_q, oris[seed_of_grain])) < 0.3
    with pytest.raises(EbsdphaseError, match="no channel 'nope'"):
        grain_table(ebsd, ids, channels=("nope",))


# -- real maps --------------------------------------------------------------------------------
def _read_or_skip(path):
    try:
        return read_map(path)
    except MapReadError as exc:
        if "unknown map format" in str(exc):
            pytest.skip(f"no reader for {path.suffix} yet: {exc}")
        raise


@pytest.mark.parametrize("parts", [("sdss_ferrite_austenite", "sdss_ferrite_austenite.ang"),
                                   ("trip_steel_ctf", "test_ctfFile.ctf")])
def test_kam_on_real_maps_matches_reference(parts):
    ebsd = _read_or_skip(shared_file(*parts))
    k = kam(ebsd, threshold=3.0)
    assert k.shape == ebsd.shape
    assert np.all(np.isfinite(k)) and k.min() >= 0.0 and k.max() <= 3.0
    assert np.all(k[~ebsd.indexed] == 0.0)
    assert k.max() > 0.1  # real maps have some orientation scatter
    assert np.max(np.abs(k - reference_kam(ebsd, 1, 3.0))) < 1e-4
    ids = grains(ebsd)
    assert np.array_equal(ids < 0, ~ebsd.indexed)
    assert np.array_equal(np.unique(ids[ids >= 0]), np.arange(ids.max() + 1))
    # each grain is one 4-connected region: components of the equal-id pixel graph
    n_pix = ids.size
    flat = np.arange(n_pix).reshape(ids.shape)
    src, dst = [], []
    for a, b in ((np.s_[:, :-1], np.s_[:, 1:]), (np.s_[:-1, :], np.s_[1:, :])):
        same = (ids[a] == ids[b]) & (ids[a] >= 0)
        src.append(flat[a][same])
        dst.append(flat[b][same])
    graph = coo_matrix((np.ones(sum(map(len, src))), (np.concatenate(src), np.concatenate(dst))),
                       shape=(n_pix, n_pix))
    n_comp, _ = connected_components(graph, directed=False)
    assert n_comp - np.count_nonzero(ids < 0) == ids.max() + 1


@pytest.mark.parametrize("shape", [(0, 5), (1, 1), (1, 7)])
def test_degenerate_grids(shape):
    ebsd = make_map(np.tile([1.0, 0, 0, 0], shape + (1,)).reshape(shape + (4,)))
    assert kam(ebsd).shape == shape and np.all(kam(ebsd) < 1e-9)
    ids = grains(ebsd, min_size=3)
    assert ids.shape == shape and np.all(ids == 0)
    assert homogenize(ebsd, ids).shape == shape + (4,)
    assert len(grain_table(ebsd, ids)["size"]) == (1 if ids.size else 0)


def test_map_without_indexed_pixels():
    ebsd = make_map(np.zeros((3, 3, 4)), np.zeros((3, 3), np.int16), phases={})
    assert np.all(kam(ebsd) == 0)
    ids = grains(ebsd, min_size=4)
    assert np.all(ids == -1)
    assert np.all(homogenize(ebsd, ids) == 0)
    assert np.all(np.isnan(grain_average(np.ones((3, 3)), ids)))
