"""``predict --grains``: per-grain phases and fractions, and ``--smooth grains``."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from ebsdphase.core.classes import labels_path, read_labels
from ebsdphase.core.inputs import example_map
from ebsdphase.io import read_map


@pytest.fixture(scope="module")
def grains_run(tmp_path_factory):
    from ebsdphase.prediction.folder import predict_paths

    out = tmp_path_factory.mktemp("grains")
    run = predict_paths([example_map()], "dp-kam", out, grains=True)
    return run, out


def test_every_grain_takes_the_phase_of_most_of_its_true_labels(grains_run):
    from ebsdphase.crystal import grains

    run, out = grains_run
    ebsd = read_map(example_map())
    truth = read_labels(labels_path(example_map(), None), ebsd.shape)
    rows = list(csv.DictReader(open(out / "example_t2.grains.csv", newline="")))
    gid = np.asarray(grains(ebsd, 2.0, 5))
    assert len(rows) == gid.max() + 1
    area_ok = area = 0.0
    for r in rows:
        lab = truth[gid == int(r["grain"])]
        lab = lab[lab != 255]
        majority = ("ferrite", "martensite")[int(np.bincount(lab, minlength=2).argmax())]
        area += float(r["area_um2"])
        area_ok += float(r["area_um2"]) * (r["phase"] == majority)
    assert area_ok / area >= 0.97
    # the areas add up to the indexed area, and the fractions by area to 1
    assert area == pytest.approx(ebsd.indexed.sum() * ebsd.step[0] * ebsd.step[1], rel=1e-4)
    fr = run.fractions["example_t2"]["grains"]
    assert sum(fr["by_area"].values()) == pytest.approx(1.0) and sum(fr["by_count"].values()) == pytest.approx(1.0)
    header = (out / "fractions.csv").read_text().splitlines()[0].split(",")
    assert "ferrite_grain_area" in header and "martensite_grain_count" in header


def test_smoothing_by_grains_gives_each_grain_one_phase(tmp_path):
    from ebsdphase.crystal import grains
    from ebsdphase.prediction.result import read_prediction
    from ebsdphase.prediction.folder import predict_paths

    predict_paths([example_map()], "dp-kam", tmp_path, smooth="grains")
    pred = read_prediction(tmp_path / "example_t2.phases.h5")
    ebsd = read_map(example_map())
    gid = np.asarray(grains(ebsd, 2.0, 5))
    for g in np.unique(gid[gid >= 0])[:200]:
        assert len(np.unique(pred.classes[gid == g])) == 1


def _tiny_card_asking(smooth: str, tmp_path_factory, tmp_path):
    """(the tiny bundle's card, a copy of it whose card asks for ``smooth``)."""
    import json
    import shutil

    from _tinymodel import tiny_bundle

    card = tiny_bundle(tmp_path_factory)
    data = json.loads(card.read_text())
    data["smooth"] = smooth
    (tmp_path / "tiny.json").write_text(json.dumps(data))
    shutil.copy(card.parent / "tiny.weights.h5", tmp_path / "tiny.weights.h5")
    return card, tmp_path / "tiny.json"


def test_a_card_that_asks_for_grain_smoothing_gets_it_unless_told_otherwise(tmp_path_factory, tmp_path):
    from ebsdphase.crystal import grains
    from ebsdphase.prediction.engine import predict

    card, _ = _tiny_card_asking("grains", tmp_path_factory, tmp_path)
    ebsd = read_map(example_map())
    gid = np.asarray(grains(ebsd, 2.0, 5))
    multi = [g for g in np.unique(gid[gid >= 0]) if (gid == g).sum() > 20][:100]

    def phases_per_grain(classes):
        return max(len(np.unique(classes[gid == g])) for g in multi)

    assert phases_per_grain(predict(ebsd, tmp_path / "tiny.json").classes) == 1  # the card's choice
    pixels = predict(ebsd, tmp_path / "tiny.json", smooth="none").classes
    assert phases_per_grain(pixels) > 1
    np.testing.assert_array_equal(predict(ebsd, card).classes, pixels)  # no request in the card


def test_soft_smoothing_averages_each_pixel_with_its_grain_and_keeps_what_both_agree_on():
    """``--smooth soft``: probabilities = half the pixel's own + half its grain's mean (checked
    against a per-grain loop); where pixel and grain agree the class is theirs, fewer pixels
    change than under the hard vote, and non-indexed pixels keep their answer."""
    from ebsdphase.prediction.engine import predict
    from ebsdphase.prediction.grains import blend_with_grains, grain_table

    ebsd = read_map(example_map())
    pixels = predict(ebsd, "dp-kam", smooth="none")
    table = grain_table(pixels, ebsd)
    soft = blend_with_grains(pixels, table)
    gid = table.grain_ids
    p = pixels.probabilities.astype(np.float64)
    for g in np.unique(gid[gid >= 0])[::25]:
        sel = gid == g
        want = 0.5 * p[sel] + 0.5 * p[sel].mean(axis=0)
        np.testing.assert_allclose(soft.probabilities[sel], want, atol=1e-5)
    np.testing.assert_array_equal(soft.classes, soft.probabilities.argmax(-1))
    agree = (gid >= 0) & (pixels.classes == table.phase[np.maximum(gid, 0)])
    np.testing.assert_array_equal(soft.classes[agree], pixels.classes[agree])
    off = gid < 0
    np.testing.assert_array_equal(soft.classes[off], pixels.classes[off])
    np.testing.assert_array_equal(soft.probabilities[off], pixels.probabilities[off])
    hard = predict(ebsd, "dp-kam", smooth="grains").classes
    changed = (soft.classes != pixels.classes).sum()
    assert 0 < changed < (hard != pixels.classes).sum()  # between the pixel answers and the vote
    assert np.all((soft.entropy >= 0) & (soft.entropy <= 1))


def test_a_card_that_asks_for_soft_smoothing_gets_it_unless_told_otherwise(tmp_path_factory, tmp_path):
    from ebsdphase.prediction.engine import predict
    from ebsdphase.prediction.grains import blend_with_grains, grain_table

    card, _ = _tiny_card_asking("soft", tmp_path_factory, tmp_path)
    ebsd = read_map(example_map())
    pixels = predict(ebsd, tmp_path / "tiny.json", smooth="none")
    want = blend_with_grains(pixels, grain_table(pixels, ebsd))
    got = predict(ebsd, tmp_path / "tiny.json")
    np.testing.assert_array_equal(got.classes, want.classes)
    np.testing.assert_array_equal(got.probabilities, want.probabilities)
    assert not np.array_equal(got.classes, pixels.classes)
    np.testing.assert_array_equal(predict(ebsd, card).classes, pixels.classes)  # no request in the card
