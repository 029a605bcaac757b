"""Maps finer than a card's ``finest_step_um`` are predicted on their f x f sub-lattices."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from _tinymodel import blob_map, tiny_bundle


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """(the tiny bundle as trained, the same weights with ``finest_step_um`` = 0.085)."""
    from ebsdphase.models.bundle import load_bundle

    card = tiny_bundle(tmp_path_factory)
    folder = tmp_path_factory.mktemp("fine") / "model"
    shutil.copytree(card.parent, folder)
    c = json.loads((folder / card.name).read_text())
    c["finest_step_um"] = 0.085
    (folder / card.name).write_text(json.dumps(c))
    return load_bundle(card), load_bundle(folder / card.name)


@pytest.mark.parametrize(("step", "f"), [(0.1, 1), (0.085, 1), (0.084, 2), (0.05, 2), (0.0425, 2),
                                         (0.042, 3), (0.03, 3), (0.02, 5)])
def test_the_factor_brings_the_step_to_the_card_s_finest(bundles, step, f):
    from ebsdphase.prediction.engine import sublattice_factor

    plain, fine = bundles
    m, _ = blob_map(1, shape=(20, 24))
    m.step = (step, step)
    assert sublattice_factor(fine, m) == f
    assert step * f >= 0.085 - 1e-12 and (f == 1 or step * (f - 1) < 0.085)
    assert sublattice_factor(plain, m) == 1  # a card without the field: always whole


def _by_hand(bundle, m, f):
    """Each sub-lattice predicted as a map of its own, put back pixel by pixel."""
    from ebsdphase.prediction.engine import predict_probabilities

    out = np.full(m.shape + (2,), np.nan, np.float32)
    for r in range(f):
        for c in range(f):
            sub = m[r::f, c::f]
            assert sub.step == (m.step[0] * f, m.step[1] * f)
            out[r::f, c::f] = predict_probabilities(bundle, bundle.recipe.build(sub))
    return out


@pytest.mark.parametrize("shape", [(50, 70), (51, 69)])  # sub-lattices of equal and unequal sizes
def test_a_fine_map_is_predicted_on_its_sub_lattices(bundles, shape):
    from ebsdphase.prediction.engine import predict, predict_many

    plain, fine = bundles
    m, _ = blob_map(3, shape=shape)
    m.step = (0.05, 0.05)
    ref = _by_hand(plain, m, 2)
    assert not np.isnan(ref).any()
    got = predict(m, fine, smooth="none")
    assert np.array_equal(got.probabilities, ref)
    assert np.array_equal(got.classes, ref.argmax(-1))
    # not the whole-map answer: the sub-lattice path really ran
    assert not np.array_equal(predict(m, plain, smooth="none").probabilities, ref)
    # batched with a coarse map of the same size, each map keeps its own answer
    coarse, _ = blob_map(4, shape=shape)
    many = predict_many([m, coarse], fine)
    assert np.allclose(many[0].probabilities, ref, atol=1e-5)
    assert np.allclose(many[1].probabilities, predict(coarse, plain, smooth="none").probabilities, atol=1e-5)
    # tiles of each sub-lattice, as a tiled whole map would be
    tiled = predict(m, fine, tile=16, overlap=8, smooth="none")
    assert np.mean(tiled.classes == got.classes) >= 0.99


def test_predict_writes_the_sub_lattice_answer(bundles, tmp_path):
    from ebsdphase.io import write_map
    from ebsdphase.prediction.engine import predict
    from ebsdphase.prediction.folder import predict_paths
    from ebsdphase.prediction.result import read_prediction

    _, fine = bundles
    m, _ = blob_map(5, shape=(45, 61))
    m.step = (0.05, 0.05)
    src = write_map(m, tmp_path / "fine.ebsd.h5")
    run = predict_paths([src], fine, tmp_path / "out")
    assert not run.failed
    written = read_prediction(tmp_path / "out" / "fine.phases.h5")
    ref = predict(src, fine, smooth="none")
    assert np.array_equal(written.probabilities, ref.probabilities)
    assert np.array_equal(written.classes, ref.classes)


def test_the_training_range_check_looks_at_the_step_the_model_works_at(bundles, tmp_path):
    """A 0.05 um map predicted on 2 x 2 sub-lattices is seen at 0.1 um: inside a card whose
    steps are 0.08-0.5 um; predicted whole it lies outside, and is said to."""
    from ebsdphase.models.bundle import load_bundle
    from ebsdphase.prediction.engine import predict

    plain, fine = bundles
    m, _ = blob_map(4, shape=(40, 48))
    m.step = (0.05, 0.05)
    ranged = []
    for b in (plain, fine):
        folder = tmp_path / ("fine" if b.finest_step_um else "plain")
        shutil.copytree(b.folder, folder)
        card = folder / b.card_path.name
        c = json.loads(card.read_text())
        c["training_ranges"] = {"step_um": [0.08, 0.5]}
        card.write_text(json.dumps(c))
        ranged.append(load_bundle(card))
    assert any("step 0.05 um" in why for why in predict(m, ranged[0]).outside_training)
    assert predict(m, ranged[1]).outside_training == []
