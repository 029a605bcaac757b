"""``train --distribute``: Keras 3 data parallelism, checked on two virtual CPU devices.

XLA must be told how many host devices to make before JAX starts, so each run is its own
process with ``XLA_FLAGS=--xla_force_host_platform_device_count=2``. Both runs see two
devices; the single-device run simply does not distribute. Same seed, same global batch,
same crops in the same order: the loss curves must agree to ``RTOL`` (the two runs add up
the batch's gradients in a different order, float32; measured 1e-7 relative per epoch, 3 epochs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_training import make_dataset

RTOL = 1e-3
SCRIPT = r"""
import json, sys
import keras
from ebsdphase.training.loop import train
ds, out, distribute = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
r = train(ds, out, params={"depth": 3, "filters": 8}, epochs=3, batch_size=4, seed=5, patience=0,
          distribute=distribute, dihedral=True)
print("RESULT " + json.dumps({"devices": len(keras.distribution.list_devices()),
                              "loss": [row["loss"] for row in r.history],
                              "val_loss": [row["val_loss"] for row in r.history]}))
"""


def _run(ds: Path, out: Path, distribute: bool) -> dict:
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "KERAS_BACKEND": "jax"}
    p = subprocess.run([sys.executable, "-c", SCRIPT, str(ds), str(out), "1" if distribute else "0"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    line = next(x for x in p.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_two_devices_give_the_loss_curve_of_one(tmp_path):
    pytest.importorskip("jax")
    ds = make_dataset(tmp_path / "ds.h5", n_train=16, n_val=8)  # 4 full batches of 4: no short batch
    one = _run(ds, tmp_path / "one", distribute=False)
    two = _run(ds, tmp_path / "two", distribute=True)
    assert one["devices"] == two["devices"] == 2
    assert len(two["loss"]) == 3
    assert two["loss"] == pytest.approx(one["loss"], rel=RTOL)
    assert two["val_loss"] == pytest.approx(one["val_loss"], rel=RTOL)
    assert two["loss"][-1] < two["loss"][0]  # it learns
    config = json.loads((tmp_path / "two" / "train.json").read_text())
    assert config["distribute"] is True and config["devices"] == 2
    # the model it keeps loads and predicts like any other
    from ebsdphase.models.bundle import load_bundle

    assert load_bundle(tmp_path / "two").n_classes == 2


def test_a_global_batch_that_does_not_split_evenly_is_refused(tmp_path):
    ds = make_dataset(tmp_path / "ds.h5", n_train=8, n_val=4)
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "KERAS_BACKEND": "jax"}
    p = subprocess.run([sys.executable, "-m", "ebsdphase.cli.main", "train", str(ds), "-o", str(tmp_path / "r"),
                        "--batch", "3", "--distribute", "--epochs", "1", "-q"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "--batch 3: must be a multiple of the 2 devices" in p.stdout + p.stderr
    assert "Traceback" not in p.stdout + p.stderr


def test_a_short_last_batch_is_padded_for_the_devices_with_crops_that_weigh_nothing():
    import numpy as np

    import ebsdphase.models  # noqa: F401 - the keras backend
    from ebsdphase.training.loop import _make_batches

    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 8, 8, 2)).astype(np.float32)
    y = rng.integers(0, 2, (5, 8, 8)).astype(np.uint8)
    plain = _make_batches(x, y, 2, 4, seed=1, shuffle=False)
    split = _make_batches(x, y, 2, 4, seed=1, shuffle=False, devices=3)
    xs, ys, ws = split[1]  # the 5th crop alone, padded to 3
    xp, yp, wp = plain[1]
    assert xs.shape[0] == 3 and xp.shape[0] == 1
    np.testing.assert_array_equal(xs[:1], xp)
    np.testing.assert_array_equal(ws[:1], wp)
    assert not ws[1:].any()  # the padding carries no loss and no metric
    assert split[0][0].shape[0] == 6 and not split[0][2][4:].any()  # 4 crops -> 6 for 3 devices
