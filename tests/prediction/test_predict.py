"""Prediction with a tiny trained U-Net: whole maps, tiles, batches, folders, .ctf output."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from _tinymodel import blob_map, tiny_bundle
from ebsdphase.io import read_map, write_map
from ebsdphase.evaluation.metrics import evaluate


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from ebsdphase.models.bundle import load_bundle

    return load_bundle(tiny_bundle(tmp_path_factory))


def test_whole_map_prediction_learns_and_is_consistent(bundle):
    from ebsdphase.prediction.engine import predict

    ebsd, labels = blob_map(1, shape=(50, 70))  # not a multiple of the model's 2
    ebsd.source = "blob1"
    pred = predict(ebsd, bundle)
    assert pred.classes.shape == (50, 70) and pred.classes.dtype == np.uint8
    assert pred.probabilities.shape == (50, 70, 2) and pred.probabilities.dtype == np.float32
    assert pred.entropy.shape == (50, 70) and pred.entropy.dtype == np.float32
    assert np.allclose(pred.probabilities.sum(-1), 1, atol=1e-4)
    assert np.array_equal(pred.classes, pred.probabilities.argmax(-1))
    assert 0 <= pred.entropy.min() and pred.entropy.max() <= 1
    # the model learnt the BS rule: far better than chance on a map it never saw
    assert evaluate(pred, labels).accuracy > 0.9
    # uncertainty is higher where it is wrong
    wrong = pred.classes != labels
    assert pred.entropy[wrong].mean() > pred.entropy[~wrong].mean()
    assert np.array_equal(pred.indexed, ebsd.indexed) and pred.model == "tiny"


def test_tiled_prediction_matches_whole_map(bundle):
    from ebsdphase.prediction.engine import predict

    ebsd, _ = blob_map(7, shape=(101, 133))
    whole = predict(ebsd, bundle)
    tiled = predict(ebsd, bundle, tile=32, overlap=16)
    agree = np.mean(tiled.classes == whole.classes)
    assert agree >= 0.999, agree
    # and the blending, not luck: without overlap the tile seams differ more
    seams = predict(ebsd, bundle, tile=32, overlap=0)
    assert np.abs(seams.probabilities - whole.probabilities).max() > \
        np.abs(tiled.probabilities - whole.probabilities).max()


def test_batched_maps_equal_single_predictions(bundle):
    from ebsdphase.prediction.engine import predict, predict_many

    maps = [blob_map(s, shape=(40, 48))[0] for s in (11, 12, 13)] + [blob_map(14, shape=(30, 52))[0]]
    many = predict_many(maps, bundle)
    for m, p in zip(maps, many):
        one = predict(m, bundle)
        assert p.classes.shape == m.shape
        assert np.allclose(p.probabilities, one.probabilities, atol=1e-5)


def test_missing_channel_is_a_clear_error(bundle):
    from ebsdphase.core.errors import EbsdphaseError
    from ebsdphase.prediction.engine import predict

    ebsd, _ = blob_map(2)
    del ebsd.channels["bs"]
    ebsd.source = "x.ctf"
    with pytest.raises(EbsdphaseError, match="x.ctf.*bs"):
        predict(ebsd, bundle)


@pytest.fixture()
def folder(tmp_path):
    maps = tmp_path / "maps"
    maps.mkdir()
    truth = {}
    for name, seed, shape in (("a", 21, (48, 64)), ("b", 22, (48, 64)), ("c", 23, (45, 77))):
        ebsd, lab = blob_map(seed, shape=shape)
        write_map(ebsd, maps / f"{name}.ebsd.h5")
        truth[name] = lab
    (maps / "broken.ebsd.h5").write_bytes(b"\x89HDF\r\n not really an hdf5 file" * 10)
    (maps / "notes.txt").write_text("not a map")  # not a map extension: ignored in folders
    return maps, truth


def test_predict_folder_with_a_bad_map(bundle, folder, tmp_path):
    from ebsdphase.prediction.folder import predict_paths
    from ebsdphase.prediction.result import read_prediction

    maps, truth = folder
    out = tmp_path / "out"
    run = predict_paths([maps], bundle, out)
    assert sorted(run.outputs) == ["a", "b", "c"]
    assert list(run.failed) == ["broken"]
    assert str(maps / "broken.ebsd.h5") in run.failed["broken"]
    assert run.exit_code == 3
    for stem in ("a", "b", "c"):
        pred = read_prediction(out / f"{stem}.phases.h5")
        assert pred.shape == truth[stem].shape
        assert evaluate(pred, truth[stem]).accuracy > 0.9
        assert (out / f"{stem}.phases.png").stat().st_size > 0
    rows = list(csv.DictReader((out / "fractions.csv").open()))
    assert [r["map"] for r in rows] == ["a", "b", "c"]
    pred_a = read_prediction(out / "a.phases.h5")
    f_all = np.mean(pred_a.classes == 0)
    f_idx = np.mean(pred_a.classes[pred_a.indexed] == 0)
    assert float(rows[0]["ferrite_all"]) == pytest.approx(f_all, abs=1e-6)
    assert float(rows[0]["ferrite_indexed"]) == pytest.approx(f_idx, abs=1e-6)
    assert float(rows[0]["ferrite_all"]) + float(rows[0]["martensite_all"]) == pytest.approx(1)
    assert not list(out.glob(".*"))  # no temporary files left behind

    # a second run skips the up-to-date maps but still lists them in fractions.csv
    before = (out / "a.phases.h5").stat().st_mtime_ns
    run2 = predict_paths([maps], bundle, out)
    assert sorted(run2.up_to_date) == ["a", "b", "c"] and not run2.outputs
    assert (out / "a.phases.h5").stat().st_mtime_ns == before
    assert len(list(csv.DictReader((out / "fractions.csv").open()))) == 3
    # a map newer than its outputs is predicted again; --force redoes everything
    st = (maps / "b.ebsd.h5").stat()
    os.utime(maps / "b.ebsd.h5", (st.st_atime, st.st_mtime + 1000))
    assert sorted(predict_paths([maps], bundle, out).outputs) == ["b"]
    assert sorted(predict_paths([maps], bundle, out, force=True).outputs) == ["a", "b", "c"]


def test_outputs_of_another_model_or_other_settings_are_not_up_to_date(bundle, folder, tmp_path):
    """A retrained model of the same name (other weights or card), or other settings, into
    the same folder: every map is predicted again, never the old answers kept."""
    import json
    import shutil

    import h5py

    from ebsdphase.models.bundle import load_bundle
    from ebsdphase.prediction.folder import predict_paths
    from ebsdphase.prediction.result import read_prediction

    maps, _ = folder
    out = tmp_path / "out"
    predict_paths([maps], bundle, out)
    assert read_prediction(out / "a.phases.h5").produced_by  # recorded
    assert sorted(predict_paths([maps], bundle, out).up_to_date) == ["a", "b", "c"]
    # other settings
    assert sorted(predict_paths([maps], bundle, out, smooth="grains").outputs) == ["a", "b", "c"]
    assert sorted(predict_paths([maps], bundle, out, smooth="grains").up_to_date) == ["a", "b", "c"]
    # the same name, retrained: other weights
    again = tmp_path / "retrained"
    shutil.copytree(bundle.folder, again)
    retrained = load_bundle(again / bundle.card_path.name)
    with h5py.File(retrained.weights_path, "r+") as f:
        name = []
        f.visititems(lambda k, o: name.append(k) if isinstance(o, h5py.Dataset) and o.ndim == 1 else None)
        f[name[0]][...] = f[name[0]][()] + 0.5
    retrained = load_bundle(again / bundle.card_path.name)
    assert retrained.name == bundle.name and retrained.digest != bundle.digest
    assert sorted(predict_paths([maps], retrained, out, smooth="grains").outputs) == ["a", "b", "c"]
    # ... or another card (a new finest_step_um, say)
    card = json.loads(retrained.card_path.read_text())
    card["finest_step_um"] = 0.01
    retrained.card_path.write_text(json.dumps(card))
    recarded = load_bundle(again / bundle.card_path.name)
    assert recarded.digest not in (bundle.digest, retrained.digest)
    assert sorted(predict_paths([maps], recarded, out, smooth="grains").outputs) == ["a", "b", "c"]
    # outputs of an older version, without the record: predicted again
    with h5py.File(out / "a.phases.h5", "r+") as f:
        del f.attrs["produced_by"]
    assert sorted(predict_paths([maps], recarded, out, smooth="grains").outputs) == ["a"]


def test_predict_cli_partial_failure_and_ctf(bundle, folder, tmp_path):
    from ebsdphase.cli.main import app
    from ebsdphase.prediction.result import read_prediction

    maps, truth = folder
    out = tmp_path / "cli"
    r = CliRunner().invoke(app, ["predict", str(maps), str(maps / "a.ebsd.h5"), "-m", str(bundle.card_path),
                                 "-o", str(out), "--ctf"])
    assert r.exit_code == 3, r.output
    assert "broken.ebsd.h5" in r.output and "3 predicted" in r.output and "1 failed" in r.output
    # the .ctf reads back with the predicted phases (non-indexed pixels keep phase 0)
    back = read_map(out / "c.phases.ctf")
    pred = read_prediction(out / "c.phases.h5")
    src = read_map(maps / "c.ebsd.h5")
    assert [p.name for _, p in sorted(back.phases.items())] == ["ferrite", "martensite"]
    expect = np.where(src.indexed, pred.classes.astype(np.int16) + 1, 0)
    assert np.array_equal(back.phase_id, expect)
    assert np.allclose(back.channels["bs"], np.rint(src.channels["bs"]), atol=0.5)
    assert back.shape == src.shape


def test_predict_cli_glob_and_missing_input(bundle, folder, tmp_path):
    from ebsdphase.cli.main import app

    maps, _ = folder
    r = CliRunner().invoke(app, ["predict", str(maps / "[ab].ebsd.h5"), "-m", str(bundle.card_path),
                                 "-o", str(tmp_path / "g")])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "g").glob("*.phases.h5")) == ["a.phases.h5", "b.phases.h5"]
    r = CliRunner().invoke(app, ["predict", str(maps / "zzz*.ctf"), "-m", str(bundle.card_path),
                                 "-o", str(tmp_path / "g")])
    assert r.exit_code == 2 and "matches no map" in r.output


def test_evaluate_with_model_predicts_then_scores(bundle, folder, tmp_path):
    import json

    from ebsdphase.cli.main import app
    from ebsdphase.core.classes import write_labels

    maps, truth = folder
    labels = tmp_path / "labels"
    for stem, lab in truth.items():
        write_labels(labels / f"{stem}.labels.png", lab)
    out = tmp_path / "rep"
    r = CliRunner().invoke(app, ["evaluate", str(maps / "a.ebsd.h5"), str(maps / "c.ebsd.h5"), "--model",
                                 str(bundle.card_path), "--labels", str(labels), "-o", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads((out / "metrics.json").read_text())
    assert set(data["per_map"]) == {"a", "c"} and data["accuracy"] > 0.9
    assert (out / "predictions" / "a.phases.h5").exists() and (out / "a.accuracy.png").exists()
    # without --labels, each prediction finds the labels beside the map it was made from
    write_labels(maps / "c.labels.png", truth["c"])
    r = CliRunner().invoke(app, ["evaluate", str(out / "predictions" / "c.phases.h5"), "-o", str(tmp_path / "r2")])
    assert r.exit_code == 0, r.output
    again = json.loads((tmp_path / "r2" / "metrics.json").read_text())
    assert again["per_map"]["c"] == data["per_map"]["c"]


def test_import_ebsdphase_stays_light():
    code = ("import sys, ebsdphase; assert callable(ebsdphase.evaluate); "
            "print(sorted(m for m in ('keras', 'jax', 'matplotlib', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_folder_expansion_keeps_maps_only(tmp_path):
    from ebsdphase.io.discover import expand_maps

    for name in ("a.cpr", "a.crc", "notes.txt", "model.weights.h5", "x.ebsd.h5", "x.phases.h5", "b.ctf"):
        (tmp_path / name).write_bytes(b"junk")
    # .crc is the second file of a .cpr map; .txt/.h5 need content a format recognises;
    # a corrupt file with a map-specific extension is kept so that reading reports it
    assert [p.name for p in expand_maps([tmp_path])] == ["a.cpr", "b.ctf", "x.ebsd.h5"]
    # a file named explicitly is always kept
    assert [p.name for p in expand_maps([tmp_path / "notes.txt"])] == ["notes.txt"]


def test_bad_tile_options_are_clear_errors(bundle):
    from ebsdphase.core.errors import EbsdphaseError
    from ebsdphase.prediction.engine import predict

    ebsd, _ = blob_map(3, shape=(40, 40))
    with pytest.raises(EbsdphaseError, match="overlap"):
        predict(ebsd, bundle, tile=16, overlap=16)
    with pytest.raises(EbsdphaseError, match="smaller than"):
        predict(ebsd, bundle, tile=1)


def _recarded(bundle, folder, **fields):
    """A copy of ``bundle`` in ``folder`` whose card has ``fields`` set."""
    import json
    import shutil

    shutil.copytree(bundle.folder, folder)
    card = json.loads((folder / "tiny.json").read_text())
    card.update(fields)
    (folder / "tiny.json").write_text(json.dumps(card))
    return folder


def test_a_map_outside_the_training_ranges_is_named_in_one_warning_csv_and_h5(bundle, tmp_path):
    """The card says what the model saw; a map at another step still gets its phase map,
    plus one warning line naming it and the reason, the same in fractions.csv and .phases.h5."""
    from ebsdphase.cli.main import app
    from ebsdphase.prediction.result import read_prediction

    model = _recarded(bundle, tmp_path / "model", training_ranges={"step_um": [0.05, 0.5],
                                                                    "indexed_fraction": [0.7, 1.0]})
    maps = tmp_path / "maps"
    maps.mkdir()
    inside, _ = blob_map(31)
    coarse, _ = blob_map(32)
    coarse.step = (1.5, 1.5)
    write_map(inside, maps / "inside.ebsd.h5")
    write_map(coarse, maps / "coarse.ebsd.h5")
    r = CliRunner().invoke(app, ["predict", str(maps), "-m", str(model), "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.output.splitlines() if "outside what tiny saw" in ln]
    assert len(lines) == 1 and "coarse.ebsd.h5" in lines[0] and "step 1.5 um" in lines[0]
    with open(tmp_path / "out" / "fractions.csv") as f:
        rows = {row["map"]: row for row in csv.DictReader(f)}
    assert rows["inside"]["outside_training"] == ""
    assert "step 1.5 um (trained on 0.05-0.5 um)" in rows["coarse"]["outside_training"]
    assert read_prediction(tmp_path / "out" / "coarse.phases.h5").outside_training == [
        "step 1.5 um (trained on 0.05-0.5 um)"]


def test_a_map_with_austenite_is_warned_about_by_name_in_the_line_csv_and_h5(bundle, tmp_path):
    """A model that saw body-centred iron only (the card's other_phase_fraction range 0-0)
    still classes a duplex map's austenite pixels as one of its classes; the user reads
    which phase and how much of the map, in the warning line, fractions.csv and .phases.h5."""
    from ebsdphase.cli.main import app
    from ebsdphase.core.ebsdmap import Phase
    from ebsdphase.prediction.result import read_prediction

    model = _recarded(bundle, tmp_path / "model", training_ranges={"step_um": [0.05, 0.5],
                                                                    "other_phase_fraction": [0.0, 0.0]})
    maps = tmp_path / "maps"
    maps.mkdir()
    steel, _ = blob_map(34)
    duplex, _ = blob_map(34)
    duplex.phases = {**duplex.phases, 2: Phase("Austenite", "m-3m", (3.59, 3.59, 3.59, 90, 90, 90), 225)}
    duplex.phase_id[:, :32][duplex.phase_id[:, :32] > 0] = 2  # the left half
    write_map(steel, maps / "steel.ebsd.h5")
    write_map(duplex, maps / "duplex.ebsd.h5")
    r = CliRunner().invoke(app, ["predict", str(maps), "-m", str(model), "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.output.splitlines() if "outside what tiny saw" in ln]
    assert len(lines) == 1 and "duplex.ebsd.h5" in lines[0] and "Austenite" in lines[0]
    with open(tmp_path / "out" / "fractions.csv") as f:
        rows = {row["map"]: row for row in csv.DictReader(f)}
    assert rows["steel"]["outside_training"] == ""
    why = read_prediction(tmp_path / "out" / "duplex.phases.h5").outside_training
    assert why == [rows["duplex"]["outside_training"]]
    assert why[0] == "indexed pixels not body-centred iron 50% (Austenite) (trained on 0% only)"


def test_a_duplex_maps_fractions_are_also_given_over_its_bcc_iron_and_its_austenite_is_set_apart(bundle, tmp_path):
    """The classes of a duplex map's austenite pixels mean nothing: fractions.csv gives the
    classes over the bcc-iron pixels as well (from the phase ids, not the classes), the
    .phases.h5 keeps which pixels those are, the phase picture shows the austenite grey, and
    the grain table names the austenite grains and leaves them out of the grain fractions.
    A pure-iron map in the same table gets its indexed figures there; alone, no such columns."""
    from PIL import Image

    from ebsdphase.cli.main import app
    from ebsdphase.core.classes import OTHER_PHASE_COLOUR, OTHER_PHASE_LABEL
    from ebsdphase.core.ebsdmap import Phase
    from ebsdphase.prediction.result import read_prediction

    maps = tmp_path / "maps"
    maps.mkdir()
    steel, _ = blob_map(34)
    duplex, _ = blob_map(35)
    duplex.phases = {**duplex.phases, 2: Phase("Austenite", "m-3m", (3.59, 3.59, 3.59, 90, 90, 90), 225)}
    duplex.phase_id[:, :20][duplex.phase_id[:, :20] > 0] = 2
    iron = duplex.phase_id == 1
    write_map(steel, maps / "steel.ebsd.h5")
    write_map(duplex, maps / "duplex.ebsd.h5")
    r = CliRunner().invoke(app, ["predict", str(maps), "-m", str(bundle.folder), "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert "of bcc" in r.output
    pred = read_prediction(tmp_path / "out" / "duplex.phases.h5")
    assert np.array_equal(pred.iron, iron)
    assert read_prediction(tmp_path / "out" / "steel.phases.h5").iron is None
    with open(tmp_path / "out" / "fractions.csv") as f:
        rows = {row["map"]: row for row in csv.DictReader(f)}
    assert int(rows["duplex"]["bcc_iron_pixels"]) == iron.sum() < int(rows["duplex"]["indexed_pixels"])
    for k, name in enumerate(pred.class_set.names):
        want = np.mean(pred.classes[iron] == k)
        assert float(rows["duplex"][f"{name}_bcc_iron"]) == pytest.approx(want, abs=1e-6)
        assert rows["steel"][f"{name}_bcc_iron"] == rows["steel"][f"{name}_indexed"]
    png = np.asarray(Image.open(tmp_path / "out" / "duplex.phases.png").convert("RGB"))
    assert (png[duplex.phase_id == 2] == OTHER_PHASE_COLOUR).all()
    assert not (png[iron] == OTHER_PHASE_COLOUR).all(axis=-1).any()
    assert "% of bcc" in (tmp_path / "out" / "report.html").read_text()
    # --ctf: the austenite keeps its own phase entry, the iron gets the classes
    ctf = CliRunner().invoke(app, ["predict", str(maps / "duplex.ebsd.h5"), "-m", str(bundle.folder),
                                   "-o", str(tmp_path / "ctf"), "--ctf"])
    assert ctf.exit_code == 0, ctf.output
    back = read_map(tmp_path / "ctf" / "duplex.phases.ctf")
    names = {i: p.name for i, p in back.phases.items()}
    assert {names[i] for i in np.unique(back.phase_id[duplex.phase_id == 2])} == {"Austenite"}
    assert back.phases[max(names)].lattice[0] == pytest.approx(3.59)
    np.testing.assert_array_equal(back.phase_id[iron] - 1, pred.classes[iron])
    # by grains: the austenite grains are named so and left out of the grain fractions
    grains = CliRunner().invoke(app, ["predict", str(maps / "duplex.ebsd.h5"), "-m", str(bundle.folder),
                                      "-o", str(tmp_path / "grains"), "--grains"])
    assert grains.exit_code == 0, grains.output
    with open(tmp_path / "grains" / "duplex.grains.csv") as f:
        table = list(csv.DictReader(f))
    other = [g for g in table if g["phase"] == OTHER_PHASE_LABEL]
    assert other and len(other) < len(table)
    other_area = sum(float(g["area_um2"]) for g in other)
    assert other_area == pytest.approx((duplex.phase_id == 2).sum() * duplex.step[0] * duplex.step[1], rel=0.1)
    with open(tmp_path / "grains" / "fractions.csv") as f:
        row = next(csv.DictReader(f))
    iron_area = sum(float(g["area_um2"]) for g in table if g["phase"] != OTHER_PHASE_LABEL)
    ferrite_area = sum(float(g["area_um2"]) for g in table if g["phase"] == "ferrite")
    assert float(row["ferrite_grain_area"]) == pytest.approx(ferrite_area / iron_area, abs=1e-5)
    assert sum(float(row[f"{n}_grain_area"]) for n in pred.class_set.names) == pytest.approx(1.0)
    alone = CliRunner().invoke(app, ["predict", str(maps / "steel.ebsd.h5"), "-m", str(bundle.folder),
                                     "-o", str(tmp_path / "alone")])
    assert alone.exit_code == 0, alone.output
    header = (tmp_path / "alone" / "fractions.csv").read_text().splitlines()[0]
    assert "bcc_iron" not in header


def test_only_a_model_of_bcc_iron_alone_sets_other_phases_apart(bundle, tmp_path):
    """A model with an austenite class, or whose card says it saw austenite, keeps its own
    answers on a duplex map's austenite; a map whose table lists fcc iron it never indexed
    has nothing set apart."""
    from ebsdphase.core.ebsdmap import Phase
    from ebsdphase.core.iron import iron_mask
    from ebsdphase.models.bundle import load_bundle
    from ebsdphase.prediction.engine import predict

    duplex, _ = blob_map(36)
    duplex.phases = {**duplex.phases, 2: Phase("Iron fcc", "m-3m", (3.59, 3.59, 3.59, 90, 90, 90), 225)}
    assert iron_mask(duplex) is None  # listed, never indexed
    duplex.phase_id[:, :20][duplex.phase_id[:, :20] > 0] = 2
    assert np.array_equal(iron_mask(duplex), duplex.phase_id == 1)
    assert bundle.sets_other_phases_apart and predict(duplex, bundle).iron is not None
    saw = load_bundle(_recarded(bundle, tmp_path / "saw", training_ranges={"other_phase_fraction": [0.0, 0.5]}))
    assert not saw.sets_other_phases_apart and predict(duplex, saw).iron is None
    card = dict(bundle.card)
    card["classes"] = {**card["classes"], "classes": ["ferrite", "austenite"]}
    knows = load_bundle(_recarded(bundle, tmp_path / "knows", classes=card["classes"]))
    assert not knows.sets_other_phases_apart


def test_a_map_smaller_than_the_cards_field_of_view_is_warned_about(bundle, tmp_path):
    """A card that says from what field of view its answers hold (min_extent_um): a crop
    below it is still predicted, with the reason in outside_training; the map it was cut
    from, and the same crop under a card without the field, are not warned about."""
    import json
    import shutil

    from ebsdphase.core.errors import EbsdphaseError
    from ebsdphase.models.bundle import load_bundle
    from ebsdphase.prediction.engine import predict

    model = tmp_path / "model"
    shutil.copytree(bundle.folder, model)
    card = json.loads((model / "tiny.json").read_text())
    card["min_extent_um"] = 4.0
    (model / "tiny.json").write_text(json.dumps(card))
    sized = load_bundle(model)
    ebsd, _ = blob_map(33)  # 48 x 64 at 0.1 um: 4.8 x 6.4 um
    crop = ebsd[:32, :64]   # 3.2 um high
    assert predict(ebsd, sized).outside_training == []
    why = predict(crop, sized).outside_training
    assert why == ["field of view 3.2 um (answers hold from 4 um: a smaller map holds too few grains)"]
    assert predict(crop, bundle).outside_training == []
    # the crop's phase map is the same as without the warning: a warning, not a refusal
    assert np.array_equal(predict(crop, sized).classes, predict(crop, bundle).classes)
    card["min_extent_um"] = -1
    (model / "tiny.json").write_text(json.dumps(card))
    with pytest.raises(EbsdphaseError, match="min_extent_um must be a positive length"):
        load_bundle(model)


def test_tta_is_equivariant_under_every_grid_symmetry(bundle):
    """Averaging over the 8 symmetries must make the answer turn with the map: predicting a
    turned map with --tta gives the turned --tta prediction of the map."""
    from ebsdphase.dataset.augment import by_name
    from ebsdphase.prediction.engine import TTA_TRANSFORMS, predict

    ebsd, _ = blob_map(21, shape=(40, 56))
    ref = predict(ebsd, bundle, tta=True).probabilities
    plain = predict(ebsd, bundle).probabilities
    assert not np.allclose(ref, plain, atol=1e-4)  # the average is not the plain answer
    grids = set()
    for chain in TTA_TRANSFORMS:
        m, expect = ebsd, ref
        for name in chain:
            m, expect = by_name(name).apply(m), by_name(name).rotate_grid(expect)
        got = predict(m, bundle, tta=True).probabilities
        np.testing.assert_allclose(got, expect, atol=2e-5)
        probe = np.arange(40 * 56).reshape(40, 56)
        for name in chain:
            probe = by_name(name).rotate_grid(probe)
        grids.add(probe.tobytes())
    assert len(grids) == 8  # the 8 distinct symmetries of the square


@pytest.mark.parametrize("duplex", [False, True])
def test_at_80_columns_the_table_has_one_row_per_map_and_whole_headers(bundle, tmp_path, duplex):
    """A folder with a duplex map shows "% of bcc" in place of "% indexed", in 80 columns too."""
    from typer.testing import CliRunner

    from ebsdphase.cli.main import app
    from ebsdphase.core.ebsdmap import Phase

    maps = tmp_path / "maps"
    maps.mkdir()
    names = ["Arcelor_M1700_CROPPED_gf1_with_a_name_far_too_long_for_a_column", "short"]
    for i, n in enumerate(names):
        m = blob_map(60 + i, shape=(24, 32))[0]
        if duplex and n == "short":
            m.phases = {**m.phases, 2: Phase("Austenite", "m-3m", (3.59, 3.59, 3.59, 90, 90, 90), 225)}
            m.phase_id[:, :8][m.phase_id[:, :8] > 0] = 2
        write_map(m, maps / f"{n}.ebsd.h5")
    res = CliRunner().invoke(app, ["predict", str(maps), "--model", str(bundle.card_path), "-o", str(tmp_path / "o")],
                             env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    body = [line for line in res.output.splitlines() if line.startswith("│")]
    assert len(body) == 2 and all(len(line) <= 80 for line in res.output.splitlines() if line[:1] in "┏┃│└")
    assert body[0].split("│")[1].strip().startswith("Arcelor_M") and "…" in body[0]
    head = " ".join(line for line in res.output.splitlines() if line.startswith("┃"))
    assert "martensite" in head and ("of bcc" if duplex else "indexed") in head and "…" not in head  # whole
    assert names[0] in (tmp_path / "o" / "fractions.csv").read_text()  # the full name stays in the CSV


def test_predict_figure_writes_one_figure_per_map(bundle, tmp_path):
    from PIL import Image
    from typer.testing import CliRunner

    from ebsdphase.cli.main import app

    m, _ = blob_map(70, shape=(24, 32))
    write_map(m, tmp_path / "a.ebsd.h5")
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "a.ebsd.h5"), "--model", str(bundle.card_path),
                                   "--figure", "-o", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    img = Image.open(tmp_path / "o" / "a.figure.png")
    assert "ebsdphase:legend" in img.text and (tmp_path / "o" / "a.phases.png").exists()
