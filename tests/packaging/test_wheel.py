"""What `pip install ebsdphase` gives a user: a wheel built from this tree, installed with
its dependencies into a fresh virtual environment (no source tree on the path), must list
the pretrained models and predict the packaged example map, with the weights fetched over
HTTP from 127.0.0.1 exactly as from the release location."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "registry" / "weights"


def _source_files() -> list[str]:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout: cannot tell which files a wheel is built from")
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split("\n")
    return [f for f in out if f and (ROOT / f).is_file()]


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory):
    """(python of a fresh venv with the wheel installed, folder to run in)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for f in _source_files():  # a clean copy: no build/ or egg-info of the checkout leaks in
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, src / f)
    dist = tmp / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                            "-q", "-w", str(dist)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(dist.glob("ebsdphase-*.whl"))
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=True)  # no system site-packages: dependencies come from the wheel's metadata
    py = env_dir / "bin" / "python"
    inst = subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True,
                          timeout=900)
    if inst.returncode != 0 and "No matching distribution" in inst.stderr:
        pytest.skip(f"the wheel's dependencies cannot be installed here (no package index): {inst.stderr[-300:]}")
    assert inst.returncode == 0, inst.stderr[-2000:]
    run_dir = tmp / "run"
    run_dir.mkdir()
    return py, run_dir


@pytest.fixture
def weights_server():
    if not (WEIGHTS / "dp-kam.weights.h5").exists():
        pytest.skip("registry/weights/ holds no weights")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(WEIGHTS)))
    server.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _run(py: Path, cwd: Path, args: list[str], url: str, cache: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EBSDPHASE_", "PYTHON"))}
    env.update(EBSDPHASE_MODELS_URL=url, EBSDPHASE_DATA_DIR=str(cache), COLUMNS="200")
    return subprocess.run([str(py.parent / "ebsdphase"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_the_installed_wheel_is_not_the_checkout(wheel_env):
    py, cwd = wheel_env
    where = subprocess.run([str(py), "-c", "import ebsdphase; print(ebsdphase.__file__)"], cwd=cwd,
                           capture_output=True, text=True, env={"PATH": os.environ.get("PATH", "")})
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(py.parents[1]), where.stdout


def test_the_wheel_lists_the_pretrained_models_and_predicts_the_example(wheel_env, weights_server, tmp_path):
    py, cwd = wheel_env
    listed = _run(py, cwd, ["models", "list", "--json"], weights_server, tmp_path / "cache")
    assert listed.returncode == 0, listed.stderr
    models = json.loads(listed.stdout)["pretrained"]
    assert len(models) >= 4 and "dp-kam" in models

    out = tmp_path / "out"
    pred = _run(py, cwd, ["predict", "--example", "-o", str(out)], weights_server, tmp_path / "cache")
    assert pred.returncode == 0, pred.stderr
    assert (out / "example_t2.phases.png").exists() and (out / "example_t2.phases.h5").exists()
    rows = (out / "fractions.csv").read_text().splitlines()
    assert rows[0].startswith("map,") and rows[1].startswith("example_t2,")
    assert (tmp_path / "cache" / "dp-kam.weights.h5").exists()  # fetched through pooch, hash-checked
