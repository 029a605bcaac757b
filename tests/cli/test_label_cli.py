"""``ebsdphase label`` and the pipeline: hand-built maps, real maps, error handling."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from conftest import shared_file
from ebsdphase import EbsdphaseError, read_map, write_map
from ebsdphase.cli.main import app
from ebsdphase.labelling import label_map, strokes_from_labels, write_scribbles
from ebsdphase.core.classes import UNLABELLED, ClassSet, read_labels, write_labels
from _blockmap import as_edax, block_map

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["label", *map(str, args)])


@pytest.fixture()
def block_file(tmp_path):
    m, truth, _ = block_map(noise=40.0)
    p = tmp_path / "block.ebsd.h5"
    write_map(m, p)
    return p, truth


# -- pipeline -------------------------------------------------------------------------------
def test_pipeline_stages_improve_on_noisy_threshold():
    m, truth, _ = block_map(noise=40.0)
    res = label_map(m)
    acc = res.agreement(truth)
    assert list(res.stages) == ["prelabel", "majority", "unindexed"]
    assert acc["prelabel"] < 0.9 < acc["majority"] < acc["unindexed"] == 1.0
    assert res.info["changed"]["majority"] > 0.1
    assert np.array_equal(res.labels, res.stages["unindexed"])


def test_pipeline_stages_can_be_skipped_and_arrays_accepted():
    m, truth, _ = block_map()
    res = label_map(m, truth, grain_angle=None, unindexed=None)
    assert list(res.stages) == ["prelabel"] and np.array_equal(res.labels, truth)
    res = label_map(m, "file", from_labels=truth, unindexed="ignore")
    assert (res.labels[~m.indexed] == UNLABELLED).all()


def test_pipeline_option_errors():
    m, truth, _ = block_map()
    with pytest.raises(EbsdphaseError, match="classes are defined"):
        label_map(m, np.where(truth == 1, 2, 0).astype(np.uint8))
    with pytest.raises(EbsdphaseError, match="needs scribbles"):
        label_map(m, "forest")
    with pytest.raises(EbsdphaseError, match="one channel"):
        label_map(m, "threshold", channel="bs,kam")
    with pytest.raises(EbsdphaseError, match="unknown pre-labelling"):
        label_map(m, "magic")
    with pytest.raises(EbsdphaseError, match="class named 'martensite'"):
        label_map(m, classes=ClassSet(("ferrite", "austenite")))


# -- command --------------------------------------------------------------------------------
def test_label_threshold_writes_labels_sidecar_and_preview(block_file, tmp_path):
    path, truth = block_file
    out = tmp_path / "out"
    r = run(path, "-o", out, "--preview")
    assert r.exit_code == 0, r.output
    labels = read_labels(out / "block.labels.png", truth.shape)
    assert np.array_equal(labels, truth)
    side = json.loads((out / "block.labels.json").read_text())
    assert side["classes"] == ["ferrite", "martensite"]
    with Image.open(out / "block.labels.preview.png") as im:
        assert im.mode == "RGB" and im.size == (truth.shape[1], truth.shape[0])
        px = np.asarray(im).astype(int)
    # martensite pixels lean blue, ferrite pixels lean red
    assert (px[truth == 1, 2] > px[truth == 1, 0]).all() and (px[truth == 0, 0] > px[truth == 0, 2]).all()


def test_label_defaults_read_the_vendor_neutral_quality_on_edax_and_oxford_maps(tmp_path):
    # the default channel is `quality`: BS on an Oxford-like map, IQ on an EDAX-like one, so a
    # user's first `label` run works on either vendor's files and labels the same pixels alike
    m, truth, _ = block_map(noise=40.0)
    edax = as_edax(m)
    write_map(m, tmp_path / "oxford.ebsd.h5")
    write_map(edax, tmp_path / "edax.ebsd.h5")
    r = run(tmp_path / "oxford.ebsd.h5", tmp_path / "edax.ebsd.h5", "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    ox = read_labels(tmp_path / "out" / "oxford.labels.png", truth.shape)
    ed = read_labels(tmp_path / "out" / "edax.labels.png", truth.shape)
    assert np.array_equal(ox, truth) and np.array_equal(ed, ox)
    r = run(tmp_path / "oxford.ebsd.h5", "-o", tmp_path / "bs", "--channel", "bs")
    assert r.exit_code == 0, r.output
    assert np.array_equal(read_labels(tmp_path / "bs" / "oxford.labels.png", truth.shape), ox)
    # an explicit channel the map lacks is still one clear line naming the file
    r = run(tmp_path / "edax.ebsd.h5", "-o", tmp_path / "no", "--channel", "bs")
    assert r.exit_code != 0 and "edax.ebsd.h5" in r.output and "no channel 'bs'" in r.output


def test_label_forest_from_scribble_file(block_file, tmp_path):
    path, truth = block_file
    write_scribbles(tmp_path / "block.scribbles.png", strokes_from_labels(truth, 0.03, seed=1))
    r = run(path, "-o", tmp_path / "out", "--prelabel", "forest", "--scribbles",
            tmp_path / "block.scribbles.png", "--seed", "1")
    assert r.exit_code == 0, r.output
    labels = read_labels(tmp_path / "out" / "block.labels.png", truth.shape)
    assert (labels == truth).mean() > 0.98


def test_label_bad_scribbles_clear_error(block_file, tmp_path):
    path, truth = block_file
    wrong = tmp_path / "wrong.png"
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(wrong)
    r = run(path, "-o", tmp_path / "out", "--prelabel", "forest", "--scribbles", wrong)
    assert r.exit_code == 2
    assert "wrong.png: scribble image is 10 x 10" in r.output and "48 x 64" in r.output
    green = np.zeros(truth.shape + (3,), np.uint8)
    green[5:8, 5:20] = (0, 255, 0)
    Image.fromarray(green).save(tmp_path / "green.png")
    r = run(path, "-o", tmp_path / "out", "--prelabel", "forest", "--scribbles", tmp_path / "green.png")
    assert r.exit_code == 2
    assert "green.png: 45 pixels" in r.output and "(0, 255, 0)" in r.output
    assert not (tmp_path / "out" / "block.labels.png").exists()
    r = run(path, "-o", tmp_path / "out", "--prelabel", "forest")
    assert r.exit_code == 2 and "--scribbles" in r.output


def test_label_folder_with_a_bad_map_is_partial(block_file, tmp_path):
    path, truth = block_file
    folder = path.parent
    write_map(read_map(path), folder / "second.ebsd.h5")
    (folder / "broken.ebsd.h5").write_text("not hdf5")
    r = run(folder, "-o", tmp_path / "out")
    assert r.exit_code == 3, r.output
    assert "broken.ebsd.h5" in r.output
    for stem in ("block", "second"):
        assert read_labels(tmp_path / "out" / f"{stem}.labels.png", truth.shape).shape == truth.shape


def test_label_from_file_keeps_a_clean_labelling(block_file, tmp_path):
    path, truth = block_file
    write_labels(tmp_path / "given.png", truth)
    r = run(path, "-o", tmp_path / "out", "--prelabel", "file", "--from", tmp_path / "given.png")
    assert r.exit_code == 0, r.output
    assert np.array_equal(read_labels(tmp_path / "out" / "block.labels.png"), truth)
    r = run(path, "-o", tmp_path / "out2", "--prelabel", "file", "--from", tmp_path / "absent.png")
    assert r.exit_code == 2 and "absent.png" in r.output


# -- real maps ------------------------------------------------------------------------------
REAL = [
    # file, channel to threshold, {phase id: class}, class names
    (("sdss_ferrite_austenite", "sdss_ferrite_austenite.ang"), "iq", {2: 0, 1: 1}, "ferrite,austenite"),
    (("trip_steel_ctf", "test_ctfFile.ctf"), "bs", {2: 0, 1: 1}, "ferrite,austenite"),
]


@pytest.mark.parametrize("parts,channel,phase_class,classes", REAL, ids=["sdss-ang", "trip-ctf"])
def test_real_maps_threshold_and_phase_file(parts, channel, phase_class, classes, tmp_path):
    path = shared_file(*parts)
    ebsd = read_map(path)
    stem = path.stem
    r = run(path, "-o", tmp_path / "t", "--channel", channel, "--preview")
    assert r.exit_code == 0, r.output
    labels = read_labels(tmp_path / "t" / f"{stem}.labels.png", ebsd.shape)
    assert set(np.unique(labels)) <= {0, 1}
    assert (tmp_path / "t" / f"{stem}.labels.preview.png").exists()

    # the indexed phase as a labelling: the grain vote must hardly change it
    given = np.full(ebsd.shape, UNLABELLED, np.uint8)
    for pid, cls in phase_class.items():
        given[ebsd.phase_id == pid] = cls
    write_labels(tmp_path / "phase.png", given)
    r = run(path, "-o", tmp_path / "f", "--prelabel", "file", "--from", tmp_path / "phase.png",
            "--classes", classes, "--unindexed", "ignore", "--grain-angle", "2")
    assert r.exit_code == 0, r.output
    out = read_labels(tmp_path / "f" / f"{stem}.labels.png", ebsd.shape)
    changed = np.mean(out != given)
    assert changed < 0.05


def test_label_options_skip_vote_and_warn_on_unused(block_file, tmp_path):
    path, truth = block_file
    write_scribbles(tmp_path / "s.png", strokes_from_labels(truth, 0.03))
    r = run(path, "-o", tmp_path / "out", "--grain-angle", "0", "--unindexed", "ignore",
            "--scribbles", tmp_path / "s.png")
    assert r.exit_code == 0, r.output
    assert "--scribbles is ignored without --prelabel forest" in r.output
    labels = read_labels(tmp_path / "out" / "block.labels.png", truth.shape)
    ebsd = read_map(path)
    assert (labels[~ebsd.indexed] == UNLABELLED).all()
    # no grain vote: the noisy pixel threshold shows through
    assert 0.7 < (labels[ebsd.indexed] == truth[ebsd.indexed]).mean() < 0.95
