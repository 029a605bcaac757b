"""The per-map figure: panels, legend and scale bar read from what matplotlib drew."""

from __future__ import annotations

import json

from PIL import Image

from ebsdphase.core.inputs import example_map
from ebsdphase.io import read_map


def _figure(ebsd, tmp_path, model):
    from ebsdphase.plots import map_figure
    from ebsdphase.prediction.engine import predict

    pred = predict(ebsd, model)
    path = map_figure(tmp_path / "m.figure.png", ebsd, pred, title="test")
    return pred, Image.open(path)


def test_the_example_map_figure_has_a_legend_and_a_scale_bar_in_um(tmp_path):
    ebsd = read_map(example_map())
    pred, img = _figure(ebsd, tmp_path, "dp-kam")
    legend = json.loads(img.text["ebsdphase:legend"])
    fr = pred.fractions()["all"]
    assert legend == [f"{n} ({100 * fr[n]:.1f} %)" for n in pred.class_set.names]
    length = float(img.text["ebsdphase:scalebar_um"])
    width = ebsd.cols * ebsd.step[0]
    assert width / 10 <= length <= width / 2 and f"{length:g}"[0] in "125"
    panels = json.loads(img.text["ebsdphase:panels"])
    assert panels[0] == "pattern quality (BS)" and panels[2] == "IPF-Z (cubic)" and len(panels) == 5
    assert img.size[0] > 1000


def test_a_duplex_figure_greys_out_the_austenite_and_gives_fractions_of_the_bcc_iron(tmp_path):
    from ebsdphase.core.classes import OTHER_PHASE_LABEL
    from ebsdphase.core.ebsdmap import Phase

    ebsd = read_map(example_map())
    ebsd.phases = {**ebsd.phases, 2: Phase("Austenite", "m-3m", (3.59, 3.59, 3.59, 90, 90, 90), 225)}
    ebsd.phase_id[: ebsd.rows // 2][ebsd.phase_id[: ebsd.rows // 2] > 0] = 2
    pred, img = _figure(ebsd, tmp_path, "dp-kam")
    iron = pred.fractions()["iron"]
    assert iron != pred.fractions()["all"]
    legend = json.loads(img.text["ebsdphase:legend"])
    assert legend == [f"{n} ({100 * iron[n]:.1f} % of bcc)" for n in pred.class_set.names] + [OTHER_PHASE_LABEL]
    assert json.loads(img.text["ebsdphase:panels"])[3].startswith("phases of the bcc iron: ")


def test_a_real_map_figure(tmp_path, shared_data):
    ebsd = read_map(shared_data / "ferrite_dc06" / "DC06_2uniax.ang")
    _, img = _figure(ebsd, tmp_path, "dp-quality-kam")
    assert json.loads(img.text["ebsdphase:panels"])[0] == "pattern quality (IQ)"
    assert float(img.text["ebsdphase:scalebar_um"]) in (10.0, 20.0)  # a 101 um wide map


def test_evaluate_writes_accuracy_figures_with_a_legend_a_scale_bar_and_the_ca(tmp_path):
    from ebsdphase.core.classes import labels_path
    from ebsdphase.evaluation.run import evaluate_predictions
    from ebsdphase.prediction.folder import predict_paths

    predict_paths([example_map()], "dp-kam", tmp_path / "pred")
    res = evaluate_predictions(tmp_path / "pred", labels_path(example_map(), None).parent, tmp_path / "eval")
    img = Image.open(tmp_path / "eval" / "example_t2.accuracy.figure.png")
    assert json.loads(img.text["ebsdphase:legend"]) == ["correct", "false martensite", "false ferrite", "unlabelled"]
    assert f"CA {100 * res.per_map['example_t2'].accuracy:.2f} %" in img.text["ebsdphase:title"]
    assert float(img.text["ebsdphase:scalebar_um"]) == 5.0  # 256 x 0.1 um wide
