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


def test_a_card_that_asks_for_grain_smoothing_gets_it_unless_told_otherwise(tmp_path_factory, tmp_path):
    import json
    import shutil

    from _tinymodel import tiny_bundle
    from ebsdphase.crystal import grains
    from ebsdphase.prediction.engine import predict

    card = tiny_bundle(tmp_path_factory)
    data = json.loads(card.read_text())
    data["smooth"] = "grains"
    (tmp_path / "tiny.json").write_text(json.dumps(data))
    shutil.copy(card.parent / "tiny.weights.h5", tmp_path / "tiny.weights.h5")
    ebsd = read_map(example_map())
    gid = np.asarray(grains(ebsd, 2.0, 5))
    multi = [g for g in np.unique(gid[gid >= 0]) if (gid == g).sum() > 20][:100]

    def phases_per_grain(classes):
        return max(len(np.unique(classes[gid == g])) for g in multi)

    assert phases_per_grain(predict(ebsd, tmp_path / "tiny.json").classes) == 1  # the card's choice
    pixels = predict(ebsd, tmp_path / "tiny.json", smooth="none").classes
    assert phases_per_grain(pixels) > 1
    np.testing.assert_array_equal(predict(ebsd, card).classes, pixels)  # no request in the card
