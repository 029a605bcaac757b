"""Nearest-neighbour clean-up (core.cleanup) and the recipe option that applies it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ebsdphase import EBSDMap, EbsdphaseError, Phase
from ebsdphase.core.cleanup import cleaned
from ebsdphase.features import ChannelRecipe

PHASES = {1: Phase("Iron bcc", "m-3m"), 2: Phase("Iron fcc", "m-3m")}


def _strip_map():
    """A 3 x 6 map: a bcc block on the left, an fcc block on the right, one non-indexed
    column beside each block and quality/score channels that say which pixel is which."""
    euler = np.zeros((3, 6, 3))
    euler[:, :3] = [0.1, 0.2, 0.3]
    euler[:, 3:] = [1.0, 0.5, 0.2]
    pid = np.array([[1, 1, 0, 0, 2, 2]] * 3, np.int16)
    bs = np.arange(18, dtype=np.float32).reshape(3, 6) + 10
    mad = np.array([[0.3, 0.4, 9, 9, 0.7, 0.8]] * 3, np.float32)
    return EBSDMap.from_euler(euler, pid, PHASES, (0.1, 0.1), {"bs": bs, "mad": mad}, source="strip.ctf")


def test_non_indexed_pixels_take_orientation_phase_and_scores_of_the_nearest_indexed_one():
    m = _strip_map()
    c = cleaned(m)
    assert c.indexed.all()
    # column 2 is nearest column 1 (bcc), column 3 nearest column 4 (fcc)
    np.testing.assert_array_equal(c.phase_id[:, 2], 1)
    np.testing.assert_array_equal(c.phase_id[:, 3], 2)
    np.testing.assert_array_equal(c.quaternions[:, 2], m.quaternions[:, 1])
    np.testing.assert_array_equal(c.quaternions[:, 3], m.quaternions[:, 4])
    np.testing.assert_array_equal(c.channels["mad"][:, 2], m.channels["mad"][:, 1])
    np.testing.assert_array_equal(c.channels["mad"][:, 3], m.channels["mad"][:, 4])
    # pattern quality is measured on every pixel: it stays the pixel's own
    np.testing.assert_array_equal(c.channels["bs"], m.channels["bs"])
    # indexed pixels are untouched; the original map is not modified
    ok = m.indexed
    np.testing.assert_array_equal(c.quaternions[ok], m.quaternions[ok])
    assert not m.indexed[:, 2:4].any()


@pytest.mark.parametrize("step, phase", [((0.1, 0.3), 1), ((0.3, 0.1), 2)])
def test_nearest_is_measured_in_micrometres_on_a_grid_whose_steps_differ(step, phase):
    """The centre pixel is one pixel from a bcc pixel on its left and one from an fcc pixel
    above it; the nearer in micrometres wins (x step, y step)."""
    pid = np.zeros((3, 3), np.int16)
    pid[1, 0], pid[0, 1] = 1, 2
    m = EBSDMap.from_euler(np.zeros((3, 3, 3)), pid, PHASES, step)
    assert cleaned(m).phase_id[1, 1] == phase


def test_a_map_with_nothing_to_fill_or_nothing_to_fill_from_is_returned_as_it_is():
    m = _strip_map()
    full = cleaned(m)
    assert cleaned(full) is full
    empty = EBSDMap(np.zeros((2, 2, 4), np.float32), np.zeros((2, 2), np.int16), PHASES, (0.1, 0.1))
    assert cleaned(empty) is empty


def test_synthetic_cleaned_maps_are_the_cleaned_raw_maps():
    """``synth``'s cleaned maps and the recipe option share one clean-up: the orientations of a
    cleaned preset are those of the same map cleaned afterwards."""
    from ebsdphase.synth import synthesize
    from ebsdphase.synth.presets import get_preset
    import dataclasses

    raw = synthesize("t2", 3, (48, 64), 0.1)
    assert not raw.map.indexed.all()
    p = dataclasses.replace(get_preset("t2", 3), cleaned=True)
    done = synthesize(p, 3, (48, 64), 0.1)
    after = cleaned(raw.map)
    np.testing.assert_array_equal(done.map.quaternions, after.quaternions)
    np.testing.assert_array_equal(done.map.phase_id, after.phase_id)
    assert set(done.map.channels) == set(after.channels) >= {"bs", "mad"}
    for name in done.map.channels:  # scores filled, quality kept as measured
        np.testing.assert_array_equal(done.map.channels[name], after.channels[name])
    filled = ~raw.map.indexed
    assert not np.array_equal(after.channels["mad"][filled], raw.map.channels["mad"][filled])


def test_fill_unindexed_recipe_gives_a_raw_and_a_cleaned_map_the_same_input():
    m = _strip_map()
    fill = ChannelRecipe(("quat", "bs", "mad"), fill_unindexed=True)
    plain = ChannelRecipe(("quat", "bs", "mad"))
    np.testing.assert_array_equal(fill.build(m), fill.build(cleaned(m)))
    np.testing.assert_array_equal(fill.build(m), plain.build(cleaned(m)))
    # without the option the non-indexed pixels are zeros: the model could read them
    assert not np.array_equal(plain.build(m), plain.build(cleaned(m)))
    assert (plain.build(m)[:, 2:4] == 0).all()


def test_fill_unindexed_is_recorded_only_when_set_and_round_trips():
    plain = ChannelRecipe(("quat", "step"))
    assert "fill_unindexed" not in plain.to_dict()  # old recipes read and compare as before
    fill = ChannelRecipe(("quat", "step"), fill_unindexed=True)
    d = json.loads(json.dumps(fill.to_dict()))
    assert d["fill_unindexed"] is True
    assert ChannelRecipe.from_dict(d) == fill != plain
    with pytest.raises(EbsdphaseError, match="fill_unindexed"):
        ChannelRecipe(("quat",), fill_unindexed="yes")


def test_a_model_that_cleans_its_maps_answers_a_raw_and_a_cleaned_map_alike(tmp_path):
    """With ``fill_unindexed`` the inputs and the grains that smooth the answer both come from
    the cleaned map: a raw map and the same map cleaned by nearest neighbour get the same
    probabilities, whole, under --tta and on sub-lattices."""
    from ebsdphase.core.classes import ClassSet
    from ebsdphase.evaluation import checks
    from ebsdphase.models.bundle import load_bundle, save_bundle
    from ebsdphase.models.unet import build_unet
    from ebsdphase.prediction.engine import predict
    from ebsdphase.synth import synthesize

    import keras  # after ebsdphase.models, which chooses the backend

    keras.utils.set_random_seed(0)
    params = {"depth": 3, "filters": 4}
    recipe = ChannelRecipe(("quat", "step"), fill_unindexed=True)
    card = save_bundle(build_unet(recipe.n_channels, 2, **params), tmp_path / "m", "fill", "unet", params,
                       recipe, ClassSet(), smooth="soft")
    bundle = load_bundle(card)
    m = synthesize("t2", 5, (48, 64), 0.1).map
    assert not m.indexed.all()
    assert checks.cleanup_agreement(bundle, m) == 1.0
    np.testing.assert_array_equal(predict(m, bundle).probabilities, predict(cleaned(m), bundle).probabilities)
    # under the 8 grid symmetries too: the map is cleaned once, before it is turned
    np.testing.assert_array_equal(predict(m, bundle, tta=True).probabilities,
                                  predict(cleaned(m), bundle, tta=True).probabilities)
    # on sub-lattices too: the whole map is cleaned before it is split
    d = json.loads(card.read_text())
    d["finest_step_um"] = 0.2
    card.write_text(json.dumps(d))
    bundle = load_bundle(card)
    assert checks.cleanup_agreement(bundle, m) == 1.0
