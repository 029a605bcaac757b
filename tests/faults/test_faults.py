"""The faults a lab meets, one test per item of the faults issue; each reproduced the
fault on the main before the fix. Every failure must be one line naming the file and what
to do, never a traceback, and must leave nothing half-written."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from _tinymodel import blob_map
from ebsdphase import MapReadError, read_map, write_map
from ebsdphase.cli.main import app



@pytest.fixture
def maps(tmp_path) -> Path:
    folder = tmp_path / "maps"
    folder.mkdir()
    for i in range(3):
        m, _ = blob_map(40 + i, shape=(32, 40))
        write_map(m, folder / f"m{i}.ebsd.h5")
    return folder


def _invoke(args):
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in res.output, res.output
    return res


def _mount_tmpfs(where: Path, opts: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True).returncode == 0


def _umount(where: Path) -> None:
    subprocess.run(["umount", str(where)], capture_output=True)


def _copy_card(card: Path, folder: Path, edit) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = json.loads(card.read_text())
    shutil.copy(card.parent / f"{data['name']}.weights.h5", folder / f"{data['name']}.weights.h5")
    edit(data)
    out = folder / f"{data['name'] if isinstance(data['name'], str) and '/' not in data['name'] else 'tiny'}.json"
    out.write_text(json.dumps(data))
    return out


# 1 ---------------------------------------------------------------------------------------
def test_01_a_full_disk_stops_the_run_with_one_line_and_no_half_file(card, maps, tmp_path):
    mnt = tmp_path / "small"
    if not _mount_tmpfs(mnt, "size=200k"):
        pytest.skip("cannot mount a small tmpfs here (needs root and mount)")
    try:
        res = _invoke(["predict", maps, "--model", card, "--ctf", "-o", mnt / "out"])
        assert res.exit_code == 2, res.output
        errors = [line for line in res.output.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "no space left on device" in errors[0] and "free space" in errors[0]
        for f in (mnt / "out").iterdir():  # every file under a final name is whole
            assert not f.name.endswith(".part.h5") and ".part" not in f.name
            if f.name.endswith(".phases.h5"):
                from ebsdphase.prediction.result import read_prediction

                read_prediction(f)
    finally:
        _umount(mnt)


# 2 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("params, message", [({"filters": 1000000}, "must be in"), (None, "params must be"),
                                             ({"depth": "deep"}, "must be int")])
def test_02_absurd_card_parameters_are_refused_before_anything_is_built(card, maps, tmp_path, params, message):
    bad = _copy_card(card, tmp_path / "bad", lambda d: d.update(params=params))
    res = _invoke(["predict", maps, "--model", bad, "-o", tmp_path / "out"])
    assert res.exit_code == 2 and message in res.output and res.output.count("error:") == 1


# 3 ---------------------------------------------------------------------------------------
def test_03_a_run_killed_before_its_first_checkpoint_can_go_on(tmp_path):
    from ebsdphase.dataset.prepare import prepare
    from ebsdphase.core.classes import write_labels

    m, labels = blob_map(5, shape=(64, 64))
    write_map(m, tmp_path / "a.ebsd.h5")
    write_labels(tmp_path / "a.labels.png", labels)
    ds = tmp_path / "ds.h5"
    prepare([tmp_path / "a.ebsd.h5"], None, "bs", ds, crop=32, augment=False)
    run = tmp_path / "run"
    run.mkdir()
    # what a run killed during its first epoch leaves: its settings, no checkpoint
    (run / "train.json").write_text(json.dumps({
        "dataset": str(ds), "architecture": "unet", "params": {"depth": 3, "filters": 4, "dropout": 0.0,
                                                               "upsampling": "transpose"},
        "epochs": 1, "batch_size": 4, "optimizer": "adam", "learning_rate": 0.001, "seed": 0, "patience": 0,
        "monitor": "val_balanced_accuracy", "name": "run", "init": None, "class_weight": "balanced",
        "dihedral": True}))
    res = _invoke(["train", ds, "-o", run, "--resume", "-q"])
    assert res.exit_code == 0, res.output
    assert "no checkpoint yet" in res.output and (run / "run.json").exists()
    shutil.rmtree(run / "checkpoint")
    (run / "run.json").unlink()
    (run / "run.weights.h5").unlink()
    res = _invoke(["train", ds, "-o", run, "--epochs", "1", "--param", "depth=3", "--param", "filters=4", "-q"])
    assert res.exit_code == 0 and "starting afresh" in res.output, res.output


# 4 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("sidecar", ["not json {", '{"classes": 5}', '["ferrite"]'])
def test_04_a_bad_label_sidecar_is_one_line_naming_it(tmp_path, sidecar):
    from ebsdphase.core.classes import write_labels
    from ebsdphase.prediction.result import from_probabilities, write_prediction

    preds, labels = tmp_path / "pred", tmp_path / "labels"
    truth = np.zeros((8, 8), np.uint8)
    for stem in ("good", "bad"):
        write_prediction(preds / f"{stem}.phases.h5", from_probabilities(np.eye(2, dtype=np.float32)[truth]))
        write_labels(labels / f"{stem}.labels.png", truth)
    (labels / "bad.labels.json").write_text(sidecar)
    res = _invoke(["evaluate", preds, "--labels", labels, "-o", tmp_path / "rep"])
    assert res.exit_code == 3, res.output
    assert "bad.labels.json" in res.output and res.output.count("error:") == 1


# 5 ---------------------------------------------------------------------------------------
def test_05_an_output_folder_that_cannot_be_made_is_one_output_error(card, maps, tmp_path):
    (tmp_path / "file").write_text("x")
    res = _invoke(["predict", maps, "--model", card, "-o", tmp_path / "file" / "out"])
    assert res.exit_code == 2 and res.output.count("error:") == 1 and "file/out" in res.output
    mnt = tmp_path / "ro"
    if not _mount_tmpfs(mnt, "size=1m,ro"):
        pytest.skip("cannot mount a read-only tmpfs here (needs root and mount)")
    try:
        for target in (mnt, mnt / "new"):
            res = _invoke(["predict", maps, "--model", card, "-o", target])
            assert res.exit_code == 2, res.output
            assert res.output.count("error:") == 1 and "read-only file system" in res.output
    finally:
        _umount(mnt)


# 6 ---------------------------------------------------------------------------------------
def test_06_fractions_csv_lists_every_map_of_the_folder_after_several_runs(card, maps, tmp_path):
    out = tmp_path / "out"
    files = sorted(maps.iterdir())
    assert _invoke(["predict", files[0], "--model", card, "-o", out]).exit_code == 0
    assert _invoke(["predict", files[1], files[2], "--model", card, "-o", out]).exit_code == 0
    with open(out / "fractions.csv") as f:
        assert sorted(r["map"] for r in csv.DictReader(f)) == ["m0", "m1", "m2"]


def test_06_two_runs_at_once_lose_no_row(card, maps, tmp_path):
    import sys

    out = tmp_path / "out"
    files = sorted(maps.iterdir())
    env = dict(os.environ)
    procs = [subprocess.Popen([sys.executable, "-m", "ebsdphase.cli.main", "predict", str(f), "--model", str(card),
                               "-o", str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for f in files]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read().decode()[-2000:]
    with open(out / "fractions.csv") as f:
        assert sorted(r["map"] for r in csv.DictReader(f)) == ["m0", "m1", "m2"]


# 7 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(name="/etc/passwd"), "not a plain file name"),
    (lambda d: d.update(name="../up"), "not a plain file name"),
    (lambda d: d["classes"].update(classes=[f"c{i}" for i in range(40)]), "40 class names for a network with 2"),
    (lambda d: d["classes"].update(classes=[]), "at least two class names"),
])
def test_07_the_model_card_is_checked_once_before_any_map(card, maps, tmp_path, edit, message):
    data = json.loads(card.read_text())
    folder = tmp_path / "bad"
    folder.mkdir()
    shutil.copy(card.parent / f"{data['name']}.weights.h5", folder / "tiny.weights.h5")
    edit(data)
    (folder / "tiny.json").write_text(json.dumps(data))
    res = _invoke(["predict", maps, "--model", folder / "tiny.json", "-o", tmp_path / "out"])
    assert res.exit_code == 2 and message in res.output and res.output.count("error:") == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("*.phases.*"))


# 8 ---------------------------------------------------------------------------------------
def test_08_temp_files_left_by_a_killed_run_are_removed_by_the_next(card, maps, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".m0.phases.h5.abc123.part.h5"
    stale.write_bytes(b"half")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    assert _invoke(["predict", maps, "--model", card, "-o", out]).exit_code == 0
    assert not stale.exists() and not list(out.glob(".*.part*"))


# 9 ---------------------------------------------------------------------------------------
def test_09_links_that_lead_nowhere_and_sub_folders_are_said_and_do_not_stop_the_run(card, maps, tmp_path):
    (maps / "loop.ctf").symlink_to("loop.ctf")
    (maps / "sub").mkdir()
    res = _invoke(["predict", maps, "--model", card, "-o", tmp_path / "a"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "loop.ctf: skipped, a link that leads nowhere" in text and "sub: skipped, a sub-folder" in text
    res = _invoke(["predict", maps / "loop.ctf", maps / "m0.ebsd.h5", "--model", card, "-o", tmp_path / "b"])
    assert res.exit_code == 3, res.output  # the good map beside it is predicted
    assert (tmp_path / "b" / "m0.phases.h5").exists() and "symbolic link that leads nowhere" in res.output


# 10 --------------------------------------------------------------------------------------
def _native_with(tmp_path, name, **changes):
    import dataclasses

    m, _ = blob_map(3, shape=(8, 10))
    bad = dataclasses.replace(m, **changes)
    path = tmp_path / f"{name}.ebsd.h5"
    write_map(bad, path)
    return path


def test_10_impossible_values_are_refused_where_they_enter(tmp_path):
    m, _ = blob_map(3, shape=(8, 10))
    q = m.quaternions.copy()
    q[m.indexed] = np.nan
    q2 = m.quaternions.copy()
    q2[m.indexed] = 1e30
    for path, message in [(_native_with(tmp_path, "step", step=(-0.1, 0.1)), "positive finite length"),
                          (_native_with(tmp_path, "nan", quaternions=q), "not rotations"),
                          (_native_with(tmp_path, "huge", quaternions=q2), "not rotations")]:
        with pytest.raises(MapReadError, match=message):
            read_map(path)
    header = ("# TEM_PIXperUM 1.0\n# x-star 0\n# y-star 0\n# z-star 0\n# WorkingDistance 0\n#\n"
              "# Phase 1\n# MaterialName Iron\n# Formula Fe\n# Info\n# Symmetry 43\n"
              "# LatticeConstants 2.87 2.87 2.87 90 90 90\n# NumberFamilies 0\n#\n"
              "# GRID: SqrGrid\n# XSTEP: {step}\n# YSTEP: {step}\n# NCOLS_ODD: 2\n# NCOLS_EVEN: 2\n# NROWS: 2\n#\n")
    rows = "".join(f"{e} 0.5 0.5 {x} {y} 100 0.9 {ph} 0 1.0\n"
                   for (x, y), ph, e in zip([(0, 0), (1, 0), (0, 1), (1, 1)], (1, 1, -3, 1), (0.1, 0.2, 0.3, 0.4)))
    ang = tmp_path / "odd.ang"
    ang.write_text(header.format(step=1.0) + rows)
    with pytest.warns(Warning, match="negative phase number"):
        assert read_map(ang).indexed.sum() == 3
    ang.write_text(header.format(step=0) + rows)
    with pytest.warns(Warning, match="header step 0 x 0 is not a length"):
        assert read_map(ang).step == (1.0, 1.0)
    ang.write_text(header.format(step=1.0) + rows.replace("0.4 0.5 0.5", "-1e308 0.5 0.5"))
    with pytest.raises(MapReadError, match="Euler angles that are no angles"):
        read_map(ang)


# 11 --------------------------------------------------------------------------------------
def test_11_labels_with_a_class_too_many_name_the_label_file(tmp_path):
    from ebsdphase.prediction.result import from_probabilities, write_prediction

    truth = np.zeros((8, 8), np.uint8)
    write_prediction(tmp_path / "p" / "a.phases.h5", from_probabilities(np.eye(2, dtype=np.float32)[truth]))
    bad = truth.copy()
    bad[0, 0] = 7
    from PIL import Image

    (tmp_path / "l").mkdir()
    Image.fromarray(bad).save(tmp_path / "l" / "a.labels.png")
    res = _invoke(["evaluate", tmp_path / "p", "--labels", tmp_path / "l", "-o", tmp_path / "r"])
    assert res.exit_code == 2 and "a.labels.png" in res.output and "class 7" in res.output


# 12 --------------------------------------------------------------------------------------
def test_12_an_oxford_channel5_tab_separated_export_is_read(tmp_path):
    from ebsdphase.core.euler import euler_to_quat

    lines = ["Index\tPhase\tX\tY\tEuler1\tEuler2\tEuler3\tMAD\tBC\tBS\tBands\tError\tReliabilityIndex"]
    k = 0
    for y in range(3):
        for x in range(4):
            phase = 0 if (x, y) == (1, 1) else 1 + (x == 3)
            lines.append(f"{k}\t{phase}\t{x * 0.25}\t{y * 0.25}\t{10 + x}\t{40 + y}\t{300}\t0.4\t{100 + k}\t{150 + k}"
                         f"\t8\t{0 if phase else 3}\t0.9")
            k += 1
    path = tmp_path / "export.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(Warning, match="no phase table"):
        m = read_map(path)
    assert m.shape == (3, 4) and m.step == (0.25, 0.25) and m.format == "channel5-txt"
    assert m.indexed.sum() == 11 and set(m.phases) == {1, 2}
    assert m.channels["bs"][2, 3] == 161 and m.channels["bc"][0, 1] == 101
    expect = euler_to_quat(np.radians([12.0, 42.0, 300.0]))
    got = m.quaternions[2, 2].astype(np.float64)
    assert min(np.abs(got - expect).max(), np.abs(got + expect).max()) < 1e-5
