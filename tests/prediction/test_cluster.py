"""``predict --scheduler``: the same outputs on a Dask LocalCluster as in this process."""

from __future__ import annotations

import sys

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from _tinymodel import blob_map
from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.io import write_map

distributed = pytest.importorskip("distributed", reason="Dask's distributed is not installed (ebsdphase[dask])")



@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """6 small maps, two sizes, one corrupt."""
    maps = tmp_path_factory.mktemp("cluster") / "maps"
    maps.mkdir()
    for i in range(5):
        write_map(blob_map(110 + i, shape=(40 + 8 * (i % 2), 56))[0], maps / f"m{i}.ebsd.h5")
    (maps / "broken.ctf").write_text("Channel Text File\nnot a ctf at all\n")
    return maps


def _arrays(path):
    with h5py.File(path) as f:
        return {k: f[k][()] for k in f if isinstance(f[k], h5py.Dataset)}


def _same_outputs(a, b) -> None:
    for i in range(5):
        assert (a / f"m{i}.phases.png").read_bytes() == (b / f"m{i}.phases.png").read_bytes()
        xa, xb = _arrays(a / f"m{i}.phases.h5"), _arrays(b / f"m{i}.phases.h5")
        assert set(xa) == set(xb) and {"classes", "probabilities"} <= set(xa)
        for k in xa:
            np.testing.assert_array_equal(xa[k], xb[k], err_msg=k)
    assert (a / "fractions.csv").read_text() == (b / "fractions.csv").read_text()


def test_two_worker_processes_write_what_a_local_run_writes(card, folder, tmp_path):
    from ebsdphase.cli.main import app
    from ebsdphase.prediction.folder import predict_paths

    local = predict_paths([folder], card, tmp_path / "local")
    assert list(local.failed) == ["broken"]
    r = CliRunner().invoke(app, ["predict", str(folder), "--model", str(card), "-o", str(tmp_path / "dask"),
                                 "--scheduler", "processes:2"], env={"COLUMNS": "120"})
    assert r.exit_code == 3, r.output
    errors = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.ctf" in errors[0], r.output
    assert "Traceback" not in r.output
    _same_outputs(tmp_path / "local", tmp_path / "dask")

    # a re-run skips the finished maps and starts no cluster
    again = predict_paths([folder], card, tmp_path / "dask", scheduler="processes:2")
    assert sorted(again.up_to_date) == [f"m{i}" for i in range(5)] and again.workers == {}


def test_each_worker_loads_the_model_once(card, folder, tmp_path):
    from ebsdphase.prediction.folder import predict_paths

    # one map per forward pass, so that both workers get maps to predict
    small = 40 * 56
    run = predict_paths([folder], card, tmp_path / "dask", scheduler="processes:2", batch_pixels=small)
    local = predict_paths([folder], card, tmp_path / "local", batch_pixels=small)
    assert len(run.workers) == 2 and set(run.workers.values()) == {1}, run.workers
    assert sorted(run.outputs) == sorted(local.outputs) == [f"m{i}" for i in range(5)]
    _same_outputs(tmp_path / "local", tmp_path / "dask")


@pytest.mark.parametrize("spec, message", [("processes:0", "N >= 1"), ("processes:two", "N >= 1"),
                                           ("yarn", "expected local, processes:N or a scheduler address")])
def test_a_bad_scheduler_is_one_line_before_any_work(card, folder, tmp_path, spec, message):
    from ebsdphase.cli.main import app

    r = CliRunner().invoke(app, ["predict", str(folder), "--model", str(card), "-o", str(tmp_path / "o"),
                                 "--scheduler", spec])
    assert r.exit_code == 2 and message in r.output and "--scheduler" in r.output, r.output
    assert not (tmp_path / "o").exists()


def test_without_dask_the_scheduler_says_how_to_install_it(card, folder, tmp_path, monkeypatch):
    from ebsdphase.prediction.folder import predict_paths

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(EbsdphaseError, match=r'pip install "ebsdphase\[dask\]"'):
        predict_paths([folder], card, tmp_path / "o", scheduler="processes:2")


def test_workers_that_cannot_see_the_maps_are_one_line(tmp_path):
    """A worker without our file system is refused before any map is sent."""
    from pathlib import Path

    from ebsdphase.prediction import cluster

    class Client:  # what distributed.Client.run returns: {worker address: result}
        def run(self, func, *args):
            assert func is cluster._can_see
            return {"tcp://10.0.0.1:1": None, "tcp://10.0.0.2:1": func("/nowhere/m.ctf", str(tmp_path))}

    with pytest.raises(EbsdphaseError, match=r"^Dask worker tcp://10\.0\.0\.2:1 cannot read /nowhere/m\.ctf: "
                                             r"the workers need the maps and the output folder"):
        cluster._check_workers_see(Client(), [("m", Path("/nowhere/m.ctf"))], tmp_path)
    assert cluster._can_see(__file__, str(tmp_path)) is None


def test_as_many_workers_as_cores_compute_on_one_thread_each(monkeypatch):
    from ebsdphase.prediction.cluster import worker_env

    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    env = worker_env(2, cores=2)
    assert env["NUMBA_NUM_THREADS"] == "1" and env["OMP_NUM_THREADS"] == "1"
    assert env["XLA_FLAGS"].startswith("--xla_dump_to=/tmp/x ")  # the user's flags are kept
    assert "--xla_cpu_multi_thread_eigen=false" in env["XLA_FLAGS"]
    assert worker_env(2, cores=16) == {}  # fewer workers than cores: their own thread pools
