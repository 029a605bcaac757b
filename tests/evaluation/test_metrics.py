"""Metrics against hand-computed counts, accuracy-map colours, unlabelled pixels, reports."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.core.classes import ClassSet, write_labels
from ebsdphase.evaluation.metrics import (
    CORRECT_COLOUR,
    UNLABELLED_COLOUR,
    Metrics,
    accuracy_map,
    aggregate,
    confusion_matrix,
    error_colours,
    evaluate,
    group_key,
    group_metrics,
)
from ebsdphase.prediction.result import from_probabilities, read_prediction, write_prediction

F, M, U = 0, 1, 255  # ferrite, martensite, unlabelled

# A 3 x 4 case counted by hand:
#   truth        pred
#   F F M M      F M M F
#   F U M M      F F M M
#   M M U F      F M M F
TRUTH = np.array([[F, F, M, M], [F, U, M, M], [M, M, U, F]], np.uint8)
PRED = np.array([[F, M, M, F], [F, F, M, M], [F, M, M, F]], np.uint8)
# labelled pixels: 10. TF: (0,0) (1,0) (2,3) = 3; FM (true F, pred M): (0,1) = 1
# FF (true M, pred F): (0,3) (2,0) = 2; TM: (0,2) (1,2) (1,3) (2,1) = 4
HAND_CM = [[3, 1], [2, 4]]


def test_confusion_matrix_matches_hand_count():
    cm, n_unl = confusion_matrix(TRUTH, PRED, 2)
    assert cm.tolist() == HAND_CM
    assert n_unl == 2


def test_scores_match_hand_computation():
    m = evaluate(PRED, TRUTH)
    assert m.accuracy == pytest.approx(7 / 10)
    assert m.precision.tolist() == pytest.approx([3 / 5, 4 / 5])
    assert m.recall.tolist() == pytest.approx([3 / 4, 4 / 6])
    fr = m.fractions
    assert fr["true"] == pytest.approx({"ferrite": 4 / 10, "martensite": 6 / 10})
    assert fr["predicted"] == pytest.approx({"ferrite": 5 / 10, "martensite": 5 / 10})
    # over all 12 pixels (the two unlabelled ones were predicted F and M)
    assert fr["all"] == pytest.approx({"ferrite": 6 / 12, "martensite": 6 / 12})
    assert fr["indexed"] is None
    d = m.to_dict()
    assert d["confusion_matrix"] == HAND_CM and d["n_unlabelled"] == 2 and d["n_labelled"] == 10
    json.dumps(d)  # JSON-ready


def test_fractions_over_indexed_pixels():
    indexed = np.ones_like(TRUTH, bool)
    indexed[0, :] = False  # drop the first row: predictions F M M F
    m = evaluate(PRED, TRUTH, indexed=indexed)
    # remaining predictions: F F M M / F M M F -> 4 F, 4 M
    assert m.fractions["indexed"] == pytest.approx({"ferrite": 0.5, "martensite": 0.5})
    indexed[1, :] = False  # leaves F M M F -> 2 F of 4
    indexed[2, 1] = False  # leaves F M F -> 2 F of 3
    m = evaluate(PRED, TRUTH, indexed=indexed)
    assert m.fractions["indexed"]["ferrite"] == pytest.approx(2 / 3)
    assert m.n_indexed == 3


def test_all_unlabelled_gives_nan_not_crash():
    m = evaluate(PRED, np.full_like(TRUTH, U))
    assert math.isnan(m.accuracy)
    assert m.n_unlabelled == TRUTH.size
    assert m.to_dict()["accuracy"] is None


def test_bad_label_value_and_shape_are_clear_errors():
    bad = TRUTH.copy()
    bad[0, 0] = 7
    with pytest.raises(EbsdphaseError, match="class 7"):
        evaluate(PRED, bad)
    with pytest.raises(EbsdphaseError, match="3 x 3"):
        evaluate(PRED[:, :3], TRUTH)


def test_aggregation_sums_counts_and_is_pixel_weighted():
    rng = np.random.default_rng(0)
    maps = []
    for n in (30, 300):
        t = rng.integers(0, 2, (n, 7)).astype(np.uint8)
        p = np.where(rng.random((n, 7)) < 0.9, t, 1 - t).astype(np.uint8)
        maps.append((t, p))
    per = [evaluate(p, t) for t, p in maps]
    pooled = aggregate(per)
    whole = evaluate(np.concatenate([p for _, p in maps]), np.concatenate([t for t, _ in maps]))
    assert pooled.confusion_matrix.tolist() == whole.confusion_matrix.tolist()
    assert pooled.accuracy == pytest.approx(whole.accuracy)
    assert pooled.n_maps == 2
    assert sum(per).accuracy == pytest.approx(whole.accuracy)


def test_group_key_and_groups():
    assert group_key("T2_map03", r"^(T\d)_") == "T2"
    assert group_key("T2_map03", r"T\d") == "T2"
    assert group_key("other", r"^(T\d)_") is None
    per = {"T1_a": evaluate(PRED, TRUTH), "T1_b": evaluate(PRED, TRUTH), "X": evaluate(TRUTH, TRUTH)}
    g = group_metrics(per, r"^(T\d)_")
    assert set(g) == {"T1", "(other)"}
    assert g["T1"].confusion_matrix.tolist() == (2 * np.array(HAND_CM)).tolist()
    assert g["(other)"].accuracy == 1.0
    with pytest.raises(EbsdphaseError, match="regular expression"):
        group_metrics(per, "(")


def test_accuracy_map_colours_follow_the_paper():
    cs = ClassSet()
    rgb = accuracy_map(PRED, TRUTH, cs)
    assert rgb.shape == (3, 4, 3) and rgb.dtype == np.uint8
    white, grey = list(CORRECT_COLOUR), list(UNLABELLED_COLOUR)
    blue, red = [0, 0, 255], [255, 0, 0]
    assert rgb[0, 0].tolist() == white            # true ferrite
    assert rgb[0, 2].tolist() == white            # true martensite
    assert rgb[0, 3].tolist() == blue             # false ferrite (paper: blue)
    assert rgb[0, 1].tolist() == red              # false martensite (paper: red)
    assert rgb[1, 1].tolist() == grey             # unlabelled
    n_err = int(((rgb != 255).any(-1) & (TRUTH != U)).sum())
    assert n_err == 3


def test_error_colours_distinct_for_three_classes():
    cs = ClassSet(("ferrite", "martensite", "bainite"))
    cols = error_colours(cs)
    assert len(cols) == 6 and len(set(cols.values())) == 6
    assert CORRECT_COLOUR not in cols.values() and UNLABELLED_COLOUR not in cols.values()
    truth = np.array([[0, 1, 2, 2]], np.uint8)
    pred = np.array([[0, 2, 1, 0]], np.uint8)
    rgb = accuracy_map(pred, truth, cs)
    assert rgb[0, 0].tolist() == list(CORRECT_COLOUR)
    assert rgb[0, 1].tolist() == list(cols[(1, 2)])
    assert rgb[0, 2].tolist() == list(cols[(2, 1)])
    assert rgb[0, 3].tolist() == list(cols[(2, 0)])


def test_prediction_entropy_and_file_round_trip(tmp_path):
    probs = np.array([[[1.0, 0.0], [0.5, 0.5], [0.2, 0.8]]], np.float32)
    pred = from_probabilities(probs, model="m", indexed=np.array([[True, False, True]]))
    assert pred.classes.tolist() == [[0, 0, 1]]  # ties go to the first class
    assert pred.entropy[0, 0] == pytest.approx(0, abs=1e-6)
    assert pred.entropy[0, 1] == pytest.approx(1, abs=1e-6)
    h = -(0.2 * np.log(0.2) + 0.8 * np.log(0.8)) / np.log(2)
    assert pred.entropy[0, 2] == pytest.approx(h, rel=1e-5)
    f = write_prediction(tmp_path / "a.phases.h5", pred)
    back = read_prediction(f)
    assert np.array_equal(back.classes, pred.classes)
    assert np.allclose(back.probabilities, probs)
    assert back.indexed.tolist() == [[True, False, True]]
    assert back.model == "m" and back.class_set.names == ("ferrite", "martensite")


def _write_case(tmp_path, name, pred, truth, indexed=None):
    preds = tmp_path / "pred"
    labs = tmp_path / "labels"
    probs = np.eye(2, dtype=np.float32)[pred]
    write_prediction(preds / f"{name}.phases.h5", from_probabilities(probs, indexed=indexed))
    write_labels(labs / f"{name}.labels.png", truth, ClassSet())
    return preds, labs


def test_evaluate_folder_report(tmp_path):
    from ebsdphase.evaluation.run import evaluate_predictions

    preds, labs = _write_case(tmp_path, "T1_a", PRED, TRUTH)
    _write_case(tmp_path, "T1_b", np.where(TRUTH == U, 0, TRUTH), TRUTH)  # perfect
    _write_case(tmp_path, "T2_c", PRED, TRUTH)
    # a prediction with no labels is skipped and reported
    write_prediction(preds / "nolabels.phases.h5", from_probabilities(np.eye(2, dtype=np.float32)[PRED]))
    out = tmp_path / "report"
    res = evaluate_predictions(preds, labs, out, group_by=r"^(T\d)_")
    data = json.loads((out / "metrics.json").read_text())
    for key in ("accuracy", "confusion_matrix", "classes", "precision", "recall", "fractions", "per_map",
                "n_unlabelled", "groups"):
        assert key in data
    hand = np.array(HAND_CM) * 2 + np.diag([4, 6])
    assert data["confusion_matrix"] == hand.tolist()
    assert data["accuracy"] == pytest.approx(np.trace(hand) / hand.sum())
    assert data["n_unlabelled"] == 6
    assert data["per_map"]["T1_b"]["accuracy"] == 1.0
    assert data["groups"]["T2"]["confusion_matrix"] == HAND_CM
    assert "nolabels" in data["skipped"] and "no such label file" in data["skipped"]["nolabels"]
    assert data["accuracy_map_colours"]["false ferrite"] == [0, 0, 255]
    for name in ("T1_a.accuracy.png", "T2_c.accuracy.png", "confusion.png", "accuracy.png"):
        assert (out / name).stat().st_size > 0
    from PIL import Image

    acc = np.asarray(Image.open(out / "T1_a.accuracy.png"))
    assert np.array_equal(acc, accuracy_map(PRED, TRUTH, ClassSet()))
    assert res.skipped and res.accuracy == pytest.approx(data["accuracy"])


def test_evaluate_cli(tmp_path):
    from ebsdphase.cli.main import app

    preds, labs = _write_case(tmp_path, "a", PRED, TRUTH)
    out = tmp_path / "rep"
    r = CliRunner().invoke(app, ["evaluate", str(preds), "--labels", str(labs), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "70.00" in r.output
    assert json.loads((out / "metrics.json").read_text())["confusion_matrix"] == HAND_CM
    # a prediction without labels: the rest is scored, exit code 3
    write_prediction(preds / "b.phases.h5", from_probabilities(np.eye(2, dtype=np.float32)[PRED]))
    r = CliRunner().invoke(app, ["evaluate", str(preds), "--labels", str(labs), "-o", str(out)])
    assert r.exit_code == 3, r.output
    # nothing to score: one-line error, exit 2
    r = CliRunner().invoke(app, ["evaluate", str(tmp_path / "nowhere"), "--labels", str(labs), "-o", str(out)])
    assert r.exit_code == 2 and "no such file" in r.output


def test_plots_write_pngs(tmp_path):
    from ebsdphase import plots

    p = plots.accuracy_bars(tmp_path / "bars.png", {"unet": {"a": 0.98, "b": 0.97}, "forest": {"a": 0.95, "b": None}})
    assert p.stat().st_size > 1000
    p = plots.confusion_figure(tmp_path / "cm.png", Metrics(classes=ClassSet(), confusion_matrix=np.array(HAND_CM)))
    assert p.stat().st_size > 1000
    p = plots.save_phase_map(tmp_path / "ph.png", PRED, ClassSet())
    from PIL import Image

    img = np.asarray(Image.open(p))
    assert img[0, 0].tolist() == [255, 0, 0] and img[0, 1].tolist() == [0, 0, 255]


def test_scores_that_a_majority_class_model_cannot_win_match_hand_counts_and_sklearn():
    from sklearn.metrics import balanced_accuracy_score, cohen_kappa_score, f1_score, jaccard_score

    m = Metrics(classes=ClassSet(), confusion_matrix=np.array(HAND_CM))
    # by hand: recall 3/4, 4/6; precision 3/5, 4/5; chance agreement (4*5 + 6*5) / 100
    assert m.balanced_accuracy == pytest.approx((3 / 4 + 4 / 6) / 2)
    assert m.kappa == pytest.approx((0.7 - 0.5) / (1 - 0.5))
    np.testing.assert_allclose(m.f1, [6 / 9, 8 / 11])
    np.testing.assert_allclose(m.iou, [3 / 6, 4 / 7])
    # the same from scikit-learn, on the pixels behind the counts
    t = np.repeat([0, 0, 1, 1], [3, 1, 2, 4])
    p = np.repeat([0, 1, 0, 1], [3, 1, 2, 4])
    assert m.balanced_accuracy == pytest.approx(balanced_accuracy_score(t, p))
    assert m.kappa == pytest.approx(cohen_kappa_score(t, p))
    np.testing.assert_allclose(m.f1, f1_score(t, p, average=None))
    np.testing.assert_allclose(m.iou, jaccard_score(t, p, average=None))
    assert not m.majority_only


def test_a_majority_class_prediction_stands_out(tmp_path):
    from ebsdphase.cli.main import app

    truth = np.zeros((20, 20), np.uint8)
    truth[:3] = 1                                    # 15 % martensite
    m = evaluate(np.zeros_like(truth), truth, ClassSet())
    assert m.accuracy == pytest.approx(0.85)         # looks good ...
    assert m.balanced_accuracy == pytest.approx(0.5) and m.kappa == 0.0 and m.majority_only
    assert m.to_dict()["majority_only"] is True and m.to_dict()["iou"]["martensite"] == 0.0

    preds, labs = _write_case(tmp_path, "majority", np.zeros_like(truth), truth)
    r = CliRunner().invoke(app, ["evaluate", str(preds), "--labels", str(labs), "-o", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    assert "majority: one class predicted on every labelled pixel" in " ".join(r.output.split())
    assert "50.00" in r.output and "0.000" in r.output
    data = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert data["balanced_accuracy"] == 0.5 and data["kappa"] == 0.0
