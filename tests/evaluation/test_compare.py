"""``compare``: the same metrics for a model and the baselines on the same labelled maps."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from _tinymodel import blob_map
from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.io import read_map, write_map
from ebsdphase.core.classes import write_labels
from ebsdphase.evaluation.metrics import evaluate



@pytest.fixture()
def maps(tmp_path):
    folder = tmp_path / "maps"
    labels = tmp_path / "labels"
    for name, seed in (("T1_a", 31), ("T1_b", 32), ("T2_a", 33)):
        ebsd, lab = blob_map(seed, shape=(40, 56))
        write_map(ebsd, folder / f"{name}.ebsd.h5")
        lab = lab.copy()
        lab[:3, :] = 255  # an unlabelled band
        write_labels(labels / f"{name}.labels.png", lab)
    return folder, labels


def test_compare_scores_each_method_like_evaluate(card, maps, tmp_path):
    from ebsdphase.evaluation.baselines import run_baseline
    from ebsdphase.evaluation.compare import compare_maps
    from ebsdphase.prediction.engine import predict
    from ebsdphase.core.classes import read_labels

    folder, labels = maps
    out = tmp_path / "cmp"
    res = compare_maps([folder], f"unet:{card},grain-threshold:bs,forest:bs", labels=labels, out_dir=out,
                       group_by=r"^(T\d)_")
    assert list(res.per_map) == ["unet:tiny", "grain-threshold:bs", "forest:bs"]
    assert res.maps == ["T1_a", "T1_b", "T2_a"]
    data = json.loads((out / "metrics.json").read_text())
    ebsd = read_map(folder / "T1_b.ebsd.h5")
    truth = read_labels(labels / "T1_b.labels.png")
    # the same numbers evaluate gives for the same predictions
    unet = evaluate(predict(ebsd, card), truth, indexed=ebsd.indexed)
    assert data["methods"]["unet:tiny"]["per_map"]["T1_b"]["confusion_matrix"] == unet.confusion_matrix.tolist()
    gt = evaluate(run_baseline("grain-threshold:bs", ebsd, truth), truth)
    assert data["methods"]["grain-threshold:bs"]["per_map"]["T1_b"]["confusion_matrix"] == \
        gt.confusion_matrix.tolist()
    for label, m in data["methods"].items():
        assert m["n_unlabelled"] == 3 * 3 * 56
        assert m["n_labelled"] == 3 * 37 * 56
        assert all(v["seconds"] > 0 for v in m["per_map"].values())
        assert set(m["groups"]) == {"T1", "T2"}
        pooled = np.sum([v["confusion_matrix"] for v in m["per_map"].values()], axis=0)
        assert m["confusion_matrix"] == pooled.tolist()
        assert data["accuracy"][label]["all"] == pytest.approx(np.trace(pooled) / pooled.sum())
    assert data["methods"]["unet:tiny"]["accuracy"] > 0.9
    for name in ("accuracy.png", "confusion_unet_tiny.png", "confusion_forest_bs.png",
                 "T2_a.grain-threshold_bs.accuracy.png"):
        assert (out / name).stat().st_size > 0
    # the Fig. 7 chart carries the methods' times (the panel beside the CA bars)
    from PIL import Image

    times = json.loads(Image.open(out / "accuracy.png").text["ebsdphase:seconds"])
    assert list(times) == list(res.per_map)
    for label, t in times.items():
        assert t == pytest.approx(np.mean(list(res.seconds[label].values())))
        assert t == pytest.approx(data["methods"][label]["seconds_per_map"])


def test_compare_cli_table_and_partial_failure(card, maps, tmp_path):
    from ebsdphase.cli.main import app

    folder, labels = maps
    ebsd, _ = blob_map(34, shape=(40, 56))
    write_map(ebsd, folder / "nolabels.ebsd.h5")
    out = tmp_path / "cli"
    r = CliRunner().invoke(app, ["compare", str(folder), "--labels", str(labels), "--methods",
                                 f"{card},grain-threshold:bs", "-o", str(out)], env={"COLUMNS": "200"})
    assert r.exit_code == 3, r.output
    assert "unet:" in r.output and "tiny" in r.output and "grain-threshold:" in r.output and "T2_a" in r.output
    assert "nolabels" in r.output
    data = json.loads((out / "metrics.json").read_text())
    assert "nolabels" in data["skipped"] and data["maps"] == ["T1_a", "T1_b", "T2_a"]
    # the report page names every map and inlines each map's accuracy figure per method
    page = (out / "report.html").read_text()
    assert all(m in page for m in ("T1_a", "T1_b", "T2_a")) and page.count("data:image/png;base64,") >= 6 + 3
    from PIL import Image

    fig = Image.open(out / "T1_a.grain-threshold_bs.accuracy.figure.png")
    assert "correct" in json.loads(fig.text["ebsdphase:legend"]) and "CA " in fig.text["ebsdphase:title"]


def test_bad_method_specs_fail_before_any_work(card, tmp_path):
    from ebsdphase.evaluation.compare import parse_methods

    with pytest.raises(EbsdphaseError, match="no such model"):
        parse_methods("unet:/nowhere/model.json")
    with pytest.raises(EbsdphaseError, match="threshold"):
        parse_methods("grain-threshold:bs=abc")
    with pytest.raises(EbsdphaseError, match="empty"):
        parse_methods(" , ")
    twice = parse_methods([f"unet:{card}", str(card)])
    assert [m.label for m in twice] == ["unet:tiny", "unet:tiny#2"]
