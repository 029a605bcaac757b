"""scripts/average_epochs.py: the mean of several bundles' weights, written as one bundle."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from _tinymodel import blob_map, train_tiny_bundle

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "average_epochs.py"


def test_averaged_bundle_holds_the_mean_weights_and_predicts(tmp_path):
    from ebsdphase.models.bundle import load_bundle
    from ebsdphase.prediction.engine import predict

    a = train_tiny_bundle(tmp_path / "a", epochs=1, seed=1).parent
    b = train_tiny_bundle(tmp_path / "b", epochs=1, seed=2).parent
    out = tmp_path / "mean"
    r = subprocess.run([sys.executable, str(SCRIPT), str(out), str(a), str(b)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    wa, wb, wm = (load_bundle(p).model.get_weights() for p in (a, b, out))
    assert len(wm) == len(wa)
    assert any(not np.allclose(x, y) for x, y in zip(wa, wb))  # two different models
    for x, y, m in zip(wa, wb, wm):
        np.testing.assert_allclose(m, (x + y) / 2, rtol=1e-6, atol=1e-7)
    card = json.loads((out / "tiny.json").read_text())
    assert card["averaged_from"] == [str(a), str(b)] and "finest_step_um" not in card
    assert not (tmp_path / "mean.part").exists()
    ebsd, _ = blob_map(7)
    assert predict(ebsd, load_bundle(out)).classes.shape == ebsd.shape
