"""``predict --stack``: serial sections into one volume whose slices are the single-map predictions."""

from __future__ import annotations

import csv
import json

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from _tinymodel import blob_map
from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.io import write_map



@pytest.fixture()
def slices(tmp_path):
    folder = tmp_path / "serial"
    folder.mkdir()
    for z in (1, 2, 10):  # natural order: 2 before 10
        write_map(blob_map(120 + z, shape=(36, 44))[0], folder / f"slice_{z}.ebsd.h5")
    return folder


def test_the_volume_slices_are_the_single_map_predictions(card, slices, tmp_path):
    from ebsdphase.prediction.folder import predict_paths
    from ebsdphase.prediction.stack import predict_stack

    run = predict_stack([slices], card, tmp_path / "vol", z_spacing=0.05)
    assert run.volume.name == "serial.phases.h5" and run.shape == (3, 36, 44)
    assert [p.name for p in run.slices] == ["slice_1.ebsd.h5", "slice_2.ebsd.h5", "slice_10.ebsd.h5"]
    # each slice predicted on its own, as `predict slice.ctf` does
    single = {stem: predict_paths([slices / f"{stem}.ebsd.h5"], card, tmp_path / "single").fractions[stem]
              for stem in ("slice_1", "slice_2", "slice_10")}
    with h5py.File(run.volume) as f:
        assert f.attrs["z_spacing_um"] == 0.05 and f.attrs["z_spacing_from"] == "option"
        assert f["classes"].shape == (3, 36, 44) and f["probabilities"].shape == (3, 36, 44, 2)
        assert json.loads(f.attrs["classes"])["classes"] == ["ferrite", "martensite"]
        for z, stem in enumerate(("slice_1", "slice_2", "slice_10")):
            with h5py.File(tmp_path / "single" / f"{stem}.phases.h5") as g:
                for key in ("classes", "probabilities", "entropy", "indexed"):
                    np.testing.assert_array_equal(f[key][z], g[key][()], err_msg=f"{stem} {key}")
        volume_classes = f["classes"][()]
    # fractions per slice as predict reports them, and for the whole volume
    with open(run.fractions_file) as fh:
        rows = {r["slice"]: r for r in csv.DictReader(fh)}
    for stem, fr in single.items():
        assert float(rows[stem]["martensite_all"]) == pytest.approx(fr["all"]["martensite"], abs=1e-6)
    assert float(rows["volume"]["martensite_all"]) == pytest.approx(np.mean(volume_classes == 1), abs=1e-6)
    assert int(rows["volume"]["pixels"]) == 3 * 36 * 44


def test_a_slice_of_another_size_fails_the_stack_in_one_line(card, slices, tmp_path):
    from ebsdphase.prediction.stack import predict_stack

    write_map(blob_map(130, shape=(36, 40))[0], slices / "slice_11.ebsd.h5")
    with pytest.raises(EbsdphaseError, match=r"slice_11.ebsd.h5: slice 3 is 36 x 40, the stack's slices are 36 x 44"):
        predict_stack([slices], card, tmp_path / "vol")
    assert not list((tmp_path / "vol").glob("*.h5")) and not list((tmp_path / "vol").glob(".*part*"))


def test_cli_stack(card, slices, tmp_path):
    from ebsdphase.cli.main import app

    r = CliRunner().invoke(app, ["predict", str(slices), "--model", str(card), "-o", str(tmp_path / "o"),
                                 "--stack"], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    assert "volume 3 x 36 x 44" in r.output and "slice_10" in r.output
    with h5py.File(tmp_path / "o" / "serial.phases.h5") as f:
        assert f.attrs["z_spacing_from"] == "x step" and f.attrs["z_spacing_um"] == pytest.approx(0.1)


def test_a_stack_with_a_duplex_slice_gives_fractions_of_its_bcc_iron(card, slices, tmp_path):
    """A slice that indexes austenite: the volume keeps which voxels are iron, and the
    fractions file gives each slice's and the volume's classes over the iron alone."""
    from ebsdphase.core.ebsdmap import Phase
    from ebsdphase.prediction.stack import predict_stack

    m = blob_map(122, shape=(36, 44))[0]
    m.phases = {**m.phases, 2: Phase("Austenite", "m-3m", (3.59, 3.59, 3.59, 90, 90, 90), 225)}
    m.phase_id[:, :15][m.phase_id[:, :15] > 0] = 2
    write_map(m, slices / "slice_2.ebsd.h5")
    run = predict_stack([slices], card, tmp_path / "vol")
    with h5py.File(run.volume) as f:
        iron, indexed, classes = f["iron"][()], f["indexed"][()], f["classes"][()]
    np.testing.assert_array_equal(iron[1], m.phase_id == 1)
    np.testing.assert_array_equal(iron[[0, 2]], indexed[[0, 2]])  # the other slices: all their indexed voxels
    with open(run.fractions_file) as fh:
        rows = {r["slice"]: r for r in csv.DictReader(fh)}
    assert int(rows["slice_2"]["bcc_iron_pixels"]) == (m.phase_id == 1).sum()
    assert float(rows["slice_2"]["ferrite_bcc_iron"]) == pytest.approx(np.mean(classes[1][iron[1]] == 0), abs=1e-6)
    assert float(rows["volume"]["ferrite_bcc_iron"]) == pytest.approx(np.mean(classes[iron] == 0), abs=1e-6)
    assert rows["slice_1"]["ferrite_bcc_iron"] == rows["slice_1"]["ferrite_indexed"]
