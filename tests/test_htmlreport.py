"""report.html of a predict and of an evaluate run, rendered by headless Chromium: the page
is not blank, every image decoded (naturalWidth > 0) and every map is named."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from _tinymodel import blob_map, tiny_bundle
from ebsdphase.io import write_map

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


def _browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium found (Debian: apt-get install chromium; .ci/run installs it when it can)")


def _render(html_file: Path, tmp_path: Path) -> tuple[str, np.ndarray]:
    from PIL import Image

    exe = _browser()
    common = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
              "--virtual-time-budget=5000"]
    dom = subprocess.run(common + ["--dump-dom", html_file.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    shot = tmp_path / "shot.png"
    subprocess.run(common + [f"--screenshot={shot}", "--window-size=1200,900", html_file.as_uri()],
                   capture_output=True, timeout=120)
    return dom.stdout, np.asarray(Image.open(shot).convert("L"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from ebsdphase.core.classes import write_labels
    from ebsdphase.evaluation.run import evaluate_predictions
    from ebsdphase.prediction.folder import predict_paths

    card = tiny_bundle(tmp_path_factory)
    base = tmp_path_factory.mktemp("report")
    maps, labels = base / "maps", base / "labels"
    maps.mkdir()
    for i, name in enumerate(("alpha_map", "beta_map")):
        m, lab = blob_map(80 + i, shape=(40, 48))
        write_map(m, maps / f"{name}.ebsd.h5")
        write_labels(labels / f"{name}.labels.png", lab)
    run = predict_paths(maps, card, base / "pred", figures=True)
    evaluate_predictions(base / "pred", labels, base / "eval")
    return run, base


def test_report_files_are_written_and_self_contained(runs):
    run, base = runs
    for page in (base / "pred" / "report.html", base / "eval" / "report.html"):
        text = page.read_text()
        assert "alpha_map" in text and "beta_map" in text and "data:image/png;base64," in text
        assert "src=\"http" not in text and "src='http" not in text  # nothing fetched from a network


@pytest.mark.parametrize("which", ["pred", "eval"])
def test_report_renders_in_headless_chromium(runs, tmp_path, which):
    _, base = runs
    dom, shot = _render(base / which / "report.html", tmp_path)
    import re

    m = re.search(r'data-images="(\d+)/(\d+)"', dom)
    assert m, "the page's load script did not run"
    loaded, total = int(m.group(1)), int(m.group(2))
    assert total >= 2 and loaded == total
    assert "alpha_map" in dom and "beta_map" in dom
    assert shot.std() > 5  # not a blank page
