"""The channel recipe: parsing, round trips, per-map standardisation, derived channels."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ebsdphase import EBSDMap, EbsdphaseError, Phase
from ebsdphase.features import ChannelRecipe

PHASES = {1: Phase("Iron bcc", "m-3m")}


def _map(rows=6, cols=7, seed=0, unindexed=((0, 0), (2, 3))):
    rng = np.random.default_rng(seed)
    euler = rng.uniform(0, 1, (rows, cols, 3))
    pid = np.ones((rows, cols), np.int16)
    for r, c in unindexed:
        pid[r, c] = 0
    bs = rng.normal(50, 7, (rows, cols)).astype(np.float32)
    bc = rng.normal(120, 30, (rows, cols)).astype(np.float32)
    return EBSDMap.from_euler(euler, pid, PHASES, (0.1, 0.1), {"bs": bs, "BC": bc},
                              source="tiny.ctf")


# -- recipe as a value ------------------------------------------------------------------------
def test_parse_accepts_commas_plus_and_aliases():
    assert ChannelRecipe.parse("bs,kam").names == ("bs", "kam")
    assert ChannelRecipe.parse(" BS + KAM ").names == ("bs", "kam")
    assert ChannelRecipe.parse("quaternions,bs").names == ("quat", "bs")


@pytest.mark.parametrize("text", ["", " , ", "bs,bs", "bs,BS"])
def test_parse_rejects_empty_and_duplicates(text):
    with pytest.raises(EbsdphaseError):
        ChannelRecipe.parse(text)


def test_channel_counts_and_labels():
    r = ChannelRecipe.parse("quat,bs,kam")
    assert r.n_channels == 6
    assert r.channel_labels() == ["q0", "q1", "q2", "q3", "bs", "kam"]
    assert ChannelRecipe(("bs",)).n_channels == 1


def test_dict_round_trip_through_json():
    r = ChannelRecipe(("quat", "bs"), kam_order=2, kam_threshold=5.0, grain_angle=2.0,
                      unindexed_value=-3.0)
    back = ChannelRecipe.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back == r
    assert hash(back) == hash(r)


def test_from_dict_rejects_unknown_fields_and_bad_values():
    with pytest.raises(EbsdphaseError, match="unknown fields"):
        ChannelRecipe.from_dict({"names": ["bs"], "mean": 3.0})
    with pytest.raises(EbsdphaseError, match="normalisation"):
        ChannelRecipe(("bs",), normalisation="minmax")
    with pytest.raises(EbsdphaseError):
        ChannelRecipe(("bs",), kam_order=0)


# -- building inputs from scalar channels -----------------------------------------------------
Z = "zscore-per-map"  # recipe version 1, the paper's normalisation

def test_zscore_uses_indexed_pixels_and_sets_unindexed_value():
    m = _map()
    # junk on non-indexed pixels must not leak into the statistics
    m.channels["bs"][~m.indexed] = 1e6
    x = ChannelRecipe(("bs", "bc"), unindexed_value=-2.5, normalisation=Z).build(m)
    assert x.shape == (6, 7, 2) and x.dtype == np.float32
    idx = m.indexed
    for k in range(2):
        assert abs(x[..., k][idx].mean()) < 1e-5
        assert abs(x[..., k][idx].std() - 1) < 1e-4
        assert np.all(x[..., k][~idx] == -2.5)
    # standardisation is affine in the raw values
    raw = m.channels["bs"][idx]
    expected = (raw - raw.mean()) / raw.std()
    np.testing.assert_allclose(x[..., 0][idx], expected, atol=1e-5)


def test_per_map_statistics_make_gain_and_offset_irrelevant():
    a = _map()
    b = _map()
    b.channels["bs"] = b.channels["bs"] * 3.0 + 40.0
    r = ChannelRecipe(("bs",), normalisation=Z)
    np.testing.assert_allclose(r.build(a), r.build(b), atol=1e-5)


def test_constant_channel_and_non_finite_values():
    m = _map()
    m.channels["bs"][:] = 7.0
    m.channels["bc"][1, 1] = np.nan
    x = ChannelRecipe(("bs", "bc"), normalisation=Z).build(m)
    assert np.all(x[..., 0] == 0.0)
    assert x[1, 1, 1] == 0.0 and np.isfinite(x).all()


def test_no_normalisation_keeps_raw_values():
    m = _map()
    x = ChannelRecipe(("bs",), normalisation="none", unindexed_value=0.0).build(m)
    np.testing.assert_array_equal(x[..., 0][m.indexed], m.channels["bs"][m.indexed])


def test_missing_channel_is_named_with_the_file():
    m = _map()
    r = ChannelRecipe(("bs", "iq", "kam"))
    assert r.missing(m) == ["iq"]
    with pytest.raises(EbsdphaseError, match=r"tiny\.ctf.*iq"):
        r.build(m)


# -- derived channels (need the crystal kernels) ----------------------------------------------
def test_kam_channel_is_standardised_crystal_kam():
    from ebsdphase.crystal import kam

    m = _map(12, 13, seed=3)
    x = ChannelRecipe(("kam",), kam_order=1, kam_threshold=5.0, normalisation=Z).build(m)
    raw = kam(m.copy(), 1, 5.0)
    idx = m.indexed
    v = raw[idx].astype(np.float64)
    np.testing.assert_allclose(x[..., 0][idx], (v - v.mean()) / v.std(), atol=1e-4)
    assert np.all(x[..., 0][~idx] == 0.0)


def test_quat_channels_are_unit_on_indexed_and_zero_elsewhere():
    m = _map(10, 10, seed=4)
    x = ChannelRecipe(("quat", "bs")).build(m)
    assert x.shape == (10, 10, 5)
    idx = m.indexed
    np.testing.assert_allclose(np.linalg.norm(x[..., :4][idx], axis=-1), 1.0, atol=1e-5)
    assert np.all(x[..., :4][~idx] == 0.0)


def test_quat_channels_are_homogenised_within_a_grain():
    from ebsdphase.crystal.quaternion import cubic_symmetry, qmul

    # one grain: the same orientation written with different cubic symmetry equivalents
    rows, cols = 4, 5
    base = np.array([0.9, 0.1, 0.3, 0.2])
    base /= np.linalg.norm(base)
    sym = cubic_symmetry()
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(sym), rows * cols)
    q = qmul(sym[pick], np.broadcast_to(base, (rows * cols, 4))).reshape(rows, cols, 4)
    m = EBSDMap(q.astype(np.float32), np.ones((rows, cols), np.int16), PHASES, (1, 1))
    x = ChannelRecipe(("quat",)).build(m)
    flat = x.reshape(-1, 4)
    # all pixels now carry one representative (up to the q == -q sign)
    same = np.abs(flat @ flat[0])
    np.testing.assert_allclose(same, 1.0, atol=1e-5)


# -- recipe version 2: inputs that mean the same on every map ---------------------------------
def test_invariant_is_the_default_and_old_dicts_keep_the_zscore():
    assert ChannelRecipe(("bs",)).normalisation == "invariant"
    assert ChannelRecipe(("bs",)).version == 2
    # a recipe dict without a normalisation was written by version 1: it stays a z-score
    old = ChannelRecipe.from_dict({"names": ["bs"]})
    assert old.normalisation == Z and old.version == 1


def test_invariant_kam_is_in_degrees_and_quality_is_scaled_by_its_98th_percentile():
    from ebsdphase.crystal import kam

    m = _map(12, 13, seed=3)
    x = ChannelRecipe(("kam", "bs")).build(m)
    idx = m.indexed
    np.testing.assert_allclose(x[..., 0][idx], kam(m.copy(), 1, 3.0)[idx], atol=1e-6)
    p98 = np.percentile(m.channels["bs"][idx].astype(np.float64), 98)
    np.testing.assert_allclose(x[..., 1][idx], m.channels["bs"][idx] / p98, rtol=1e-5)
    assert np.all(x[~idx] == 0.0)


def test_invariant_inputs_ignore_the_camera_gain():
    a = _map(20, 20, seed=5)
    b = _map(20, 20, seed=5)
    b.channels["bs"] = b.channels["bs"] * 0.6
    r = ChannelRecipe(("bs", "kam"))
    np.testing.assert_allclose(r.build(a), r.build(b), rtol=1e-5, atol=1e-6)


def test_invariant_inputs_of_a_pixel_do_not_depend_on_the_rest_of_the_map():
    """KAM of an inner pixel is the same in a crop; quality moves only with the crop's 98th
    percentile (a common factor, no shift)."""
    m = _map(30, 30, seed=6)
    crop = m[5:25, 5:25]
    r = ChannelRecipe(("kam", "bs"))
    whole, part = r.build(m)[5:25, 5:25], r.build(crop)
    inner = (slice(1, -1), slice(1, -1))
    np.testing.assert_allclose(part[inner][..., 0], whole[inner][..., 0], atol=1e-6)
    ratio = part[..., 1][crop.indexed] / whole[..., 1][crop.indexed]
    assert np.ptp(ratio) < 1e-5


def test_quality_is_bs_then_iq_then_bc():
    from ebsdphase.features import quality_source

    m = _map()
    assert quality_source(m) == "bs"
    del m.channels["bs"]
    assert quality_source(m) == "bc"
    m.channels["iq"] = m.channels["bc"] * 1000.0
    assert quality_source(m) == "iq"
    r = ChannelRecipe.parse("quality,kam")
    assert r.missing(m) == []
    x = r.build(m)
    idx = m.indexed
    np.testing.assert_allclose(np.percentile(x[..., 0][idx], 98), 1.0, rtol=1e-4)
    del m.channels["iq"], m.channels["bc"]
    assert r.missing(m) == ["quality"]
    with pytest.raises(EbsdphaseError, match="quality"):
        r.build(m)


def test_relative_jitter_scales_only_quality_channels_and_keeps_non_indexed_zero():
    from ebsdphase.features import relative_jitter

    r = ChannelRecipe(("kam", "bs"))
    assert r.relative_labels() == ["bs"]
    assert ChannelRecipe(("kam", "bs"), normalisation=Z).relative_labels() == []
    x = np.ones((16, 4, 4, 2), np.float32)
    x[:, 0, 0, 1] = 0.0
    y = relative_jitter(x.copy(), [1], np.random.default_rng(0))
    np.testing.assert_array_equal(y[..., 0], 1.0)
    assert np.all(y[:, 0, 0, 1] == 0.0)
    g = y[:, 1, 1, 1]
    assert g.min() >= 1 / 1.25 - 0.05 - 1e-6 and g.max() <= 1.25 + 0.05 + 1e-6 and np.ptp(g) > 0.1


def test_own_scale_makes_a_training_crop_what_the_cropped_map_gives_at_prediction():
    # the whole map's inputs, cropped and re-scaled, must equal the inputs built on the
    # cropped map itself: that is what a user's crop (or a one-phase map) is fed
    from ebsdphase.features import own_scale

    m = _map(rows=24, cols=20, seed=3, unindexed=((1, 1), (5, 7), (12, 3)))
    m.channels["bs"][:12] *= 0.7  # a darker half: its crop's percentile sits lower
    r = ChannelRecipe.parse("bs,kam,step")
    whole = r.build(m)
    boxes = [(0, 0), (12, 0), (4, 6)]
    x = np.stack([whole[a:a + 12, b:b + 12] for a, b in boxes])
    y = own_scale(x.copy(), [0], np.random.default_rng(0), share=1.0)
    for (a, b), got in zip(boxes, y):
        want = r.build(m[a:a + 12, b:b + 12])
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7)
    assert not np.allclose(y[0, ..., 0], x[0, ..., 0])  # the darker crop did move
    np.testing.assert_array_equal(own_scale(x.copy(), [0], np.random.default_rng(0), share=0.0), x)
    half = own_scale(np.repeat(x[:1], 200, axis=0), [0], np.random.default_rng(1), share=0.5)
    moved = np.mean([not np.array_equal(h, x[0]) for h in half])
    assert 0.35 < moved < 0.65


def test_flatten_quality_keeps_the_level_and_the_unindexed_pixels_and_drops_the_pattern():
    from ebsdphase.features import flatten_quality

    m = _map(rows=24, cols=20, seed=5, unindexed=((1, 1), (5, 7), (12, 3)))
    x = np.stack([ChannelRecipe.parse("bs,kam,step").build(m)] * 3)
    y = flatten_quality(x.copy(), [0], np.random.default_rng(0), share=1.0)
    for got, was in zip(y, x):
        on = was[..., 0] != 0
        assert np.count_nonzero(~on) == 3 and np.all(got[~on, 0] == 0)  # non-indexed stay 0
        assert np.all(got[on, 0] == np.median(was[on, 0])) and np.ptp(was[on, 0]) > 0.1
        np.testing.assert_array_equal(got[..., 1:], was[..., 1:])  # KAM and step untouched
    np.testing.assert_array_equal(flatten_quality(x.copy(), [0], np.random.default_rng(0), share=0.0), x)
    some = flatten_quality(np.repeat(x[:1], 200, axis=0), [0], np.random.default_rng(1), share=0.3)
    flat = np.mean([np.ptp(c[c[..., 0] != 0, 0]) == 0 for c in some])
    assert 0.2 < flat < 0.4


def test_step_channel_is_log2_of_the_step_everywhere_even_on_non_indexed_pixels():
    m = _map()
    m.step = (0.4, 0.4)
    x = ChannelRecipe.parse("bs,step").build(m)
    assert np.all(x[..., 1] == 2.0)  # log2(0.4 / 0.1), non-indexed pixels included
    assert ChannelRecipe.parse("bs,step").relative_labels() == ["bs"]
    m.step = (0.1, 0.1)
    assert np.all(ChannelRecipe.parse("step").build(m) == 0.0)
