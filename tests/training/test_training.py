"""Training: learning on a tiny synthetic dataset, exact resume, fine-tuning, CLI, plugin.

The dataset follows the dataset contract (CONTRACTS.md): each crop's class is whether a
blurred noise field is above 0; channel 0 is that field plus a little noise, channel 1 is
pure noise (a distractor), 5 % of the pixels are unlabelled (255). Networks are tiny
(depth-3 U-Net, 8 filters) and crops 32 x 32 so the whole file runs in about a minute.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy import ndimage
from typer.testing import CliRunner

import ebsdphase.models  # noqa: F401 - sets the keras backend before keras is imported
from ebsdphase.cli.main import app
from ebsdphase.core.errors import EbsdphaseError

ROOT = Path(__file__).resolve().parents[2]
TINY = {"depth": 3, "filters": 8}
EPOCHS = 20
RECIPE = {"names": ["bs", "kam"], "kam_order": 1, "kam_threshold": 3.0, "grain_angle": 3.0,
          "normalisation": "zscore-per-map", "unindexed_value": 0.0}
CLASSES = {"classes": ["ferrite", "martensite"], "colours": [[255, 0, 0], [0, 0, 255]], "unlabelled": 255}


def make_dataset(path: Path, n_train: int = 24, n_val: int = 8, crop: int = 32, seed: int = 0) -> Path:
    """A dataset file written directly with h5py, following the contract."""
    rng = np.random.default_rng(seed)
    prov_dtype = np.dtype([("map", h5py.string_dtype()), ("augmentation", h5py.string_dtype()),
                           ("row", np.int32), ("col", np.int32)])
    with h5py.File(path, "w") as f:
        f.attrs.update(format="ebsdphase-dataset", version=1, recipe=json.dumps(RECIPE),
                       classes=json.dumps(CLASSES), command="tests/test_training.py", crop=crop,
                       split_by="crop", seed=seed)
        for split, n in (("train", n_train), ("val", n_val)):
            field = ndimage.gaussian_filter(rng.standard_normal((n, crop, crop)), sigma=(0, 2, 2))
            field /= field.std()
            labels = (field > 0).astype(np.uint8)
            labels[rng.random(labels.shape) < 0.05] = 255
            inputs = np.stack([field + 0.1 * rng.standard_normal(field.shape),
                               rng.standard_normal(field.shape)], axis=-1).astype(np.float32)
            g = f.create_group(split)
            g.create_dataset("inputs", data=inputs, chunks=(1, crop, crop, 2), compression="gzip")
            g.create_dataset("labels", data=labels, chunks=(1, crop, crop), compression="gzip")
            prov = np.zeros(n, prov_dtype)
            prov["map"], prov["augmentation"] = "synthetic", "none"
            g.create_dataset("provenance", data=prov)
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data") / "tiny.h5")


@pytest.fixture(scope="module")
def reference_run(dataset, tmp_path_factory):
    """An uninterrupted run of EPOCHS epochs (shared by several tests)."""
    from ebsdphase.training.loop import train

    run_dir = tmp_path_factory.mktemp("runs") / "reference"
    result = train(dataset, run_dir, params=TINY, epochs=EPOCHS, seed=3, patience=0)
    return result


def _checkpoint(run_dir: Path) -> dict[str, np.ndarray]:
    with np.load(run_dir / "checkpoint" / "state.npz") as z:
        return {k: z[k] for k in z.files if k != "meta"}


def test_tiny_run_learns(reference_run):
    r = reference_run
    assert r.epochs_run == EPOCHS and not r.stopped_early
    losses = [row["loss"] for row in r.history]
    assert losses[-1] < 0.6 * losses[0], losses
    best = max(row["val_accuracy"] for row in r.history)
    assert best > 0.90, [row["val_accuracy"] for row in r.history]

    # outputs of the run
    with open(r.run_dir / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(x["epoch"]) for x in rows] == list(range(1, EPOCHS + 1))
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "val_balanced_accuracy", "seconds"} <= set(rows[0])
    assert (r.run_dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the kept model is the best-validation epoch, and its card says so
    from ebsdphase.models.bundle import load_bundle

    bundle = load_bundle(r.run_dir)
    assert bundle.card["provenance"]["epoch"] == r.best_epoch
    best_row = max(r.history, key=lambda row: row["val_balanced_accuracy"])  # the default monitor
    assert r.best_epoch == best_row["epoch"]
    assert bundle.metrics["val_balanced_accuracy"] == pytest.approx(best_row["val_balanced_accuracy"])
    assert bundle.smooth == "grains"  # predict will vote per grain, as the defaults were measured
    assert bundle.card["recipe"]["names"] == ["bs", "kam"]
    assert bundle.params["depth"] == 3 and bundle.multiple == 2


def test_the_run_report_has_every_epoch_the_curves_and_the_card(reference_run):
    import html
    import re

    r = reference_run
    page = (r.run_dir / "report.html").read_text()
    table = page.split("<table>", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table)[1:]
    assert len(rows) == EPOCHS
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in rows]
    assert [c[0] for c in cells] == [str(e) for e in range(1, EPOCHS + 1)]
    kept = [int(c[0]) for c in cells if c[-1] == "best"]
    assert kept == [r.best_epoch]
    # the inlined curves are the run's curves.png, byte for byte
    import base64

    inlined = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert base64.b64decode(inlined[0]) == (r.run_dir / "curves.png").read_bytes()
    card = json.loads(html.unescape(page.split("<pre>", 1)[1].split("</pre>", 1)[0]))
    assert card == json.loads((r.run_dir / f"{card['name']}.json").read_text())


def test_unlabelled_pixels_carry_no_loss(dataset):
    """Flipping the class of pixels marked 255 changes nothing: their weight is zero."""
    from ebsdphase.dataset.io import open_dataset
    from ebsdphase.training.loop import _make_batches

    ds = open_dataset(dataset)
    x, y = ds.split("train")
    batches = _make_batches(x, y, 2, 8, seed=0, shuffle=True)
    bx, onehot, weights = batches[0]
    labels = np.concatenate([y[i:i + 1] for i in np.sort(batches._order()[:8])])
    assert bx.shape == (8, 32, 32, 2) and onehot.shape == (8, 32, 32, 2)
    np.testing.assert_array_equal(weights == 0, labels == 255)
    np.testing.assert_array_equal(onehot[..., 1][labels != 255], labels[labels != 255])
    ds.close()


def test_resume_gives_the_same_weights(dataset, reference_run, tmp_path):
    import keras

    from ebsdphase.training.loop import train

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == 3:
                raise KeyboardInterrupt

    run_dir = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        train(dataset, run_dir, params=TINY, epochs=EPOCHS, seed=3, patience=0, callbacks=[Interrupt()])
    assert json.loads(str(np.load(run_dir / "checkpoint" / "state.npz")["meta"]))["epochs_done"] == 3

    resumed = train(dataset, run_dir, resume=True)
    assert resumed.epochs_run == EPOCHS
    ref, got = _checkpoint(reference_run.run_dir), _checkpoint(run_dir)
    assert ref.keys() == got.keys()
    for key in ref:  # weights, optimizer accumulators and dropout seed states
        np.testing.assert_allclose(got[key], ref[key], rtol=0, atol=1e-7, err_msg=key)
    assert [h["loss"] for h in resumed.history] == pytest.approx([h["loss"] for h in reference_run.history],
                                                                   rel=1e-6)
    assert resumed.best_epoch == reference_run.best_epoch


def test_cli_init_loads_the_weights_and_early_stopping_stops(dataset, reference_run, tmp_path):
    """`train --init` starts from the trained weights: with a learning rate of 0 the first
    validation score is exactly the reference's best; nothing improves after it, so
    `--patience 1` stops the run after the second epoch."""
    out = tmp_path / "finetuned"
    result = CliRunner().invoke(app, ["train", str(dataset), "-o", str(out), "--init", str(reference_run.run_dir),
                                      "--epochs", "6", "--lr", "0", "--patience", "1", "--seed", "5", "-q"])
    assert result.exit_code == 0, result.output
    assert "stopped" in result.output
    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    assert float(rows[0]["val_balanced_accuracy"]) == pytest.approx(reference_run.best_value, rel=1e-5)
    assert float(rows[0]["val_accuracy"]) > 0.85
    card = json.loads((out / "finetuned.json").read_text())
    assert card["params"]["depth"] == 3 and card["provenance"]["init"].endswith("reference.json")


def _relabelled(dataset: Path, out: Path, **recipe) -> Path:
    """A copy of ``dataset`` whose recipe says other things (e.g. other channel names)."""
    import shutil

    shutil.copy(dataset, out)
    with h5py.File(out, "r+") as f:
        f.attrs["recipe"] = json.dumps({**json.loads(f.attrs["recipe"]), **recipe})
    return out


def test_transfer_starts_from_a_model_of_other_channels_only_when_asked(dataset, reference_run, tmp_path):
    """The same inputs under other channel names (as band contrast is to band slope): --init
    alone refuses the weights, naming both channel lists; --init --transfer takes them (with
    a learning rate of 0 the first validation score is the reference's best) and the card
    says so; a recipe built otherwise (another normalisation) is refused even then."""
    renamed = _relabelled(dataset, tmp_path / "bc.h5", names=["bc", "kam"])
    runner = CliRunner()
    base = ["train", str(renamed), "--init", str(reference_run.run_dir), "--epochs", "1", "--lr", "0",
            "--seed", "5", "-q"]
    refused = runner.invoke(app, base + ["-o", str(tmp_path / "refused")])
    assert refused.exit_code != 0
    assert "['bs', 'kam']" in refused.output and "['bc', 'kam']" in refused.output and "--transfer" in refused.output
    # the source card spells a default out ("fill_unindexed": false): the same recipe all the same
    import shutil

    spelled = tmp_path / "spelled"
    shutil.copytree(reference_run.run_dir, spelled, ignore=shutil.ignore_patterns("checkpoint", "epochs"))
    card_path = spelled / "reference.json"
    card = json.loads(card_path.read_text())
    card["recipe"]["fill_unindexed"] = False
    card_path.write_text(json.dumps(card))
    result = runner.invoke(app, ["train", str(renamed), "--init", str(card_path), "--epochs", "1", "--lr", "0",
                                 "--seed", "5", "-q", "-o", str(tmp_path / "moved"), "--transfer"])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "moved" / "history.csv") as f:
        first = next(csv.DictReader(f))
    assert float(first["val_balanced_accuracy"]) == pytest.approx(reference_run.best_value, rel=1e-5)
    card = json.loads((tmp_path / "moved" / "moved.json").read_text())
    assert card["recipe"]["names"] == ["bc", "kam"]
    assert card["provenance"]["transfer"] is True and card["provenance"]["init"].endswith("reference.json")
    other = _relabelled(dataset, tmp_path / "other.h5", names=["bc", "kam"], normalisation="invariant")
    built = runner.invoke(app, ["train", str(other), "--init", str(reference_run.run_dir), "--transfer",
                                "--epochs", "1", "-q", "-o", str(tmp_path / "built")])
    assert built.exit_code != 0 and "normalisation" in built.output
    # a card claims a transfer only when the channels differed: --transfer onto the same ones
    same = runner.invoke(app, ["train", str(dataset), "--init", str(reference_run.run_dir), "--transfer",
                               "--epochs", "1", "--lr", "0", "-q", "-o", str(tmp_path / "same")])
    assert same.exit_code == 0, same.output
    assert "transfer" not in json.loads((tmp_path / "same" / "same.json").read_text())["provenance"]


def test_a_run_stopped_by_its_patience_goes_on_under_a_longer_one(dataset, reference_run, tmp_path):
    """`--resume` keeps a run stopped early stopped; `--resume --patience N` lets it wait N
    epochs in all, counted from its best (with a learning rate of 0 nothing improves)."""
    out = tmp_path / "patient"
    runner = CliRunner()
    base = ["train", str(dataset), "-o", str(out), "-q"]
    result = runner.invoke(app, base + ["--init", str(reference_run.run_dir), "--epochs", "8", "--lr", "0",
                                        "--patience", "1", "--seed", "5"])
    assert result.exit_code == 0 and "stopped" in result.output, result.output

    def epochs_in_history():
        with open(out / "history.csv") as f:
            return len(list(csv.DictReader(f)))

    assert epochs_in_history() == 2
    result = runner.invoke(app, base + ["--resume"])
    assert result.exit_code == 0 and "stopped" in result.output, result.output
    assert epochs_in_history() == 2
    result = runner.invoke(app, base + ["--resume", "--patience", "3"])
    assert result.exit_code == 0 and "stopped" in result.output, result.output
    assert epochs_in_history() == 4  # best at 1, then 3 epochs without improvement
    assert json.loads((out / "train.json").read_text())["patience"] == 3


def test_keep_epochs_keeps_every_epochs_model_and_the_best_is_one_of_them(dataset, tmp_path):
    """`train --keep-epochs`: one bundle per epoch, each the model at the end of that epoch
    (its card names the epoch), the best bundle equal to the kept one of its epoch; a
    resumed run goes on keeping them."""
    from ebsdphase.models.bundle import load_bundle

    out = tmp_path / "kept"
    runner = CliRunner()
    base = ["train", str(dataset), "-o", str(out), "-q"]
    result = runner.invoke(app, base + ["-p", "depth=3", "-p", "filters=8", "--epochs", "3", "--patience", "0",
                                        "--seed", "3", "--keep-epochs"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, base + ["--resume", "--epochs", "4"])
    assert result.exit_code == 0, result.output
    kept = sorted(p.name for p in (out / "epochs").iterdir())
    assert kept == ["epoch-001", "epoch-002", "epoch-003", "epoch-004"]
    weights = {}
    for name in kept:
        bundle = load_bundle(out / "epochs" / name)
        assert bundle.card["provenance"]["epoch"] == int(name[-3:])
        weights[name] = bundle.model.get_weights()
    # consecutive epochs differ: these are not copies of one model
    assert not all(np.array_equal(a, b) for a, b in zip(weights["epoch-001"], weights["epoch-002"]))
    best = load_bundle(out)
    same = weights[f"epoch-{best.card['provenance']['epoch']:03d}"]
    assert len(best.model.get_weights()) == len(same)
    for a, b in zip(best.model.get_weights(), same):
        np.testing.assert_array_equal(a, b)
    # without the option nothing is kept
    plain = tmp_path / "plain"
    result = runner.invoke(app, ["train", str(dataset), "-o", str(plain), "-q", "-p", "depth=3", "-p", "filters=8",
                                 "--epochs", "1"])
    assert result.exit_code == 0 and not (plain / "epochs").exists(), result.output


def test_resuming_with_a_new_learning_rate_adds_a_step_that_later_resumes_keep(dataset, tmp_path):
    """`--resume --lr 0` from the end of epoch 2: the weights no longer move (validation loss
    exactly that of epoch 2, no batch statistics in the U-Net), the step is recorded, and a
    plain `--resume` after it keeps the rate of 0."""
    from ebsdphase.training.loop import learning_rate_at

    out = tmp_path / "stepped"
    runner = CliRunner()
    base = ["train", str(dataset), "-o", str(out), "-q"]
    for extra in (["-p", "depth=3", "-p", "filters=4", "--epochs", "2", "--patience", "0"],
                  ["--resume", "--epochs", "3", "--lr", "0"], ["--resume", "--epochs", "4"]):
        result = runner.invoke(app, base + extra)
        assert result.exit_code == 0, result.output
    config = json.loads((out / "train.json").read_text())
    assert config["lr_steps"] == [[2, 0.0]]
    assert [learning_rate_at(config, e) for e in range(4)] == [1e-3, 1e-3, 0.0, 0.0]
    with open(out / "history.csv") as f:
        val = [float(r["val_loss"]) for r in csv.DictReader(f)]
    assert len(val) == 4 and val[1] != val[0]
    assert val[2] == pytest.approx(val[1], rel=1e-6) and val[3] == pytest.approx(val[1], rel=1e-6)


def test_cli_errors_are_one_line(dataset, reference_run, tmp_path):
    runner = CliRunner()
    # a folder that already holds a run, without --resume
    res = runner.invoke(app, ["train", str(dataset), "-o", str(reference_run.run_dir), "-q"])
    assert res.exit_code == 2 and "--resume" in res.output
    # resume where there is no run
    res = runner.invoke(app, ["train", str(dataset), "-o", str(tmp_path / "none"), "--resume", "-q"])
    assert res.exit_code == 2 and "no run to resume" in res.output
    # a bad parameter and an unknown architecture
    res = runner.invoke(app, ["train", str(dataset), "-o", str(tmp_path / "a"), "--param", "depth=4", "-q"])
    assert res.exit_code == 2 and "odd" in res.output
    res = runner.invoke(app, ["train", str(dataset), "-o", str(tmp_path / "b"), "--arch", "nope", "-q"])
    assert res.exit_code == 2 and "unknown architecture 'nope'" in res.output and "unet" in res.output
    # a file that is not a dataset
    bogus = tmp_path / "bogus.h5"
    with h5py.File(bogus, "w") as f:
        f.attrs["format"] = "something-else"
    res = runner.invoke(app, ["train", str(bogus), "-o", str(tmp_path / "c"), "-q"])
    assert res.exit_code == 2 and "not an ebsdphase dataset" in res.output
    # random sample rotations of a dataset without quaternions
    res = runner.invoke(app, ["train", str(dataset), "-o", str(tmp_path / "d"), "--random-orientation", "-q"])
    assert res.exit_code == 2 and "random_orientation" in res.output and "has none" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_crops_must_fit_the_pooling(dataset, tmp_path):
    from ebsdphase.training.loop import train

    with pytest.raises(EbsdphaseError, match="multiples of 64"):
        train(dataset, tmp_path / "deep", params={"depth": 13, "filters": 2}, epochs=1)


def _pip_install_plugin() -> None:
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
           "-e", str(ROOT / "examples" / "plugin")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    if proc.returncode:
        pytest.skip(f"cannot pip-install the example plugin here: {proc.stderr.strip().splitlines()[-1:]}")


def test_example_plugin_trains_through_the_cli(dataset, tmp_path):
    """examples/plugin installs, lists, trains one epoch via the CLI and its bundle predicts
    (under torch when installed, so training is exercised on a second backend too)."""
    import importlib.util

    _pip_install_plugin()
    env = dict(os.environ)
    backend = "torch" if importlib.util.find_spec("torch") else "jax"
    env["KERAS_BACKEND"] = backend
    cli = [sys.executable, "-m", "ebsdphase.cli.main"]

    listed = subprocess.run(cli + ["models", "list", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert listed.returncode == 0, listed.stderr
    archs = {a["name"]: a for a in json.loads(listed.stdout)["architectures"]}
    assert archs["tinyfcn"]["package"] == "ebsdphase-tinyfcn" and "unet" in archs

    out = tmp_path / "fcn"
    run = subprocess.run(cli + ["train", str(dataset), "-o", str(out), "--arch", "tinyfcn", "--param", "filters=4",
                                "--epochs", "1", "-q"], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    card = json.loads((out / "fcn.json").read_text())
    assert card["architecture"] == "tinyfcn" and card["params"] == {"filters": 4, "layers": 3}
    assert card["provenance"]["keras_backend"] == backend

    check = ("import numpy as np; from ebsdphase.models.bundle import load_bundle; "
             "from ebsdphase.prediction.engine import predict_probabilities; "
             f"b = load_bundle({str(out)!r}); p = predict_probabilities(b, np.zeros((13, 17, 2), 'float32')); "
             "assert p.shape == (13, 17, 2) and np.allclose(p.sum(-1), 1, atol=1e-5); print('ok')")
    pred = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=env, timeout=120)
    assert pred.returncode == 0 and "ok" in pred.stdout, pred.stderr

    example = ROOT / "ebsdphase" / "data" / "example_t2.ebsd.h5"
    if example.exists():  # and through `ebsdphase predict` on a real map file (bs + kam channels)
        pred = subprocess.run(cli + ["predict", str(example), "--model", str(out), "-o", str(tmp_path / "pred")],
                              capture_output=True, text=True, env=env, timeout=180)
        assert pred.returncode == 0, pred.stderr
        assert (tmp_path / "pred" / "example_t2.phases.png").exists()


def test_class_weights_make_a_rare_class_weigh_as_much_as_a_common_one():
    from ebsdphase.training.loop import class_weights

    labels = np.zeros((3, 10, 10), np.uint8)
    labels[0, :1] = 1            # 10 pixels of class 1, 290 of class 0
    labels[1, 5:] = 255          # unlabelled pixels count for nothing
    w = class_weights(labels, 3)
    n0, n1 = np.count_nonzero(labels == 0), np.count_nonzero(labels == 1)
    assert w[0] * n0 == pytest.approx(w[1] * n1) and w[2] == 1.0  # absent class: weight 1
    assert (w[0] * n0 + w[1] * n1) / (n0 + n1) == pytest.approx(1.0)


def test_dihedral_turns_inputs_and_labels_together():
    from ebsdphase.training.loop import _dihedral

    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 6, 6, 2)).astype(np.float32)
    y = (x[..., 0] > 0).astype(np.uint8)
    tx, ty = _dihedral(x, y, np.random.default_rng(1))
    assert np.array_equal(ty, (tx[..., 0] > 0).astype(np.uint8))  # still aligned
    assert not np.array_equal(tx, x)
    # each crop is one of the 8 symmetries of the original
    for a, b in zip(x, tx):
        variants = [np.rot90(a, k, (0, 1)) for k in range(4)]
        variants += [v[:, ::-1] for v in variants]
        assert any(np.array_equal(v, b) for v in variants)


@pytest.mark.parametrize("gain", [1.0, 1.25, 2.0])
def test_quality_gain_sets_the_range_of_the_random_gain_on_quality_channels(gain):
    """Crops of constant quality 1: the jittered values are gain x 1 + offset, the gain
    log-uniform in [1/gain, gain]; the other channel is untouched."""
    from ebsdphase.training.loop import _make_batches

    n = 400
    x = np.ones((n, 4, 4, 2), np.float32)
    y = np.zeros((n, 4, 4), np.uint8)
    batches = _make_batches(x, y, 2, n, seed=0, shuffle=False, jitter=[1], gain=gain)
    bx, _, _ = batches[0]
    q = bx[:, 0, 0, 1]
    assert np.array_equal(bx[..., 0], x[..., 0])
    assert np.all(q >= 1 / gain - 0.05 - 1e-6) and np.all(q <= gain + 0.05 + 1e-6)
    if gain > 1:  # the range is used, not only its middle
        assert q.max() > 0.9 * gain and q.min() < 1.1 / gain
    else:  # 1: no jitter at all
        assert np.array_equal(q, np.ones(n, np.float32))


def test_a_run_records_its_quality_gain_and_refuses_a_gain_below_one(dataset, reference_run, tmp_path):
    from ebsdphase.core.errors import EbsdphaseError
    from ebsdphase.training.loop import train

    assert json.loads((reference_run.run_dir / "train.json").read_text())["quality_gain"] == 1.25
    with pytest.raises(EbsdphaseError, match="quality_gain=0.5"):
        train(dataset, tmp_path / "run", params=TINY, epochs=1, quality_gain=0.5)


def test_own_scale_rescales_that_share_of_the_crops_over_their_own_percentile():
    """Crops of quality 0.5 (a dark crop of a brighter map): with own_scale=1 and no gain
    each comes out at 1, its own 98th percentile; with 0 they stay at 0.5."""
    from ebsdphase.training.loop import _make_batches

    n = 50
    x = np.full((n, 4, 4, 2), 0.5, np.float32)
    y = np.zeros((n, 4, 4), np.uint8)
    for own, want in ((1.0, 1.0), (0.0, 0.5)):
        bx, _, _ = _make_batches(x, y, 2, n, seed=0, shuffle=False, jitter=[1], gain=1.0, own=own)[0]
        np.testing.assert_allclose(bx[..., 1], want, rtol=1e-6)
        assert np.array_equal(bx[..., 0], x[..., 0])


def test_a_run_records_its_own_scale_and_refuses_a_share_outside_0_1(dataset, reference_run, tmp_path):
    from ebsdphase.core.errors import EbsdphaseError
    from ebsdphase.training.loop import train

    assert json.loads((reference_run.run_dir / "train.json").read_text())["own_scale"] == 0.0
    prov = json.loads(reference_run.bundle.read_text())["provenance"]  # the card says it too
    assert (prov["own_scale"], prov["quality_gain"], prov["class_weight"]) == (0.0, 1.25, "balanced")
    with pytest.raises(EbsdphaseError, match="own_scale=1.5"):
        train(dataset, tmp_path / "run", params=TINY, epochs=1, own_scale=1.5)


def test_quality_dropout_flattens_that_share_of_the_training_crops_and_is_recorded(dataset, reference_run,
                                                                                   tmp_path):
    from ebsdphase.core.errors import EbsdphaseError
    from ebsdphase.training.loop import _make_batches, train

    n = 200
    rng = np.random.default_rng(3)
    x = np.stack([rng.uniform(0.2, 1.0, (n, 6, 6)), rng.uniform(0, 2, (n, 6, 6))], axis=-1).astype(np.float32)
    y = np.zeros((n, 6, 6), np.uint8)
    bx, _, _ = _make_batches(x, y, 2, n, seed=0, shuffle=False, jitter=[0], gain=1.0, flat=0.5)[0]
    flat = np.array([np.ptp(c[..., 0]) == 0 for c in bx])
    assert 0.4 < flat.mean() < 0.6
    np.testing.assert_array_equal(bx[~flat], x[~flat])  # the others as they were
    np.testing.assert_array_equal(bx[..., 1], x[..., 1])  # KAM never
    prov = json.loads(reference_run.bundle.read_text())["provenance"]
    assert prov["quality_dropout"] == 0.0
    with pytest.raises(EbsdphaseError, match="quality_dropout=1.0"):
        train(dataset, tmp_path / "run", params=TINY, epochs=1, quality_dropout=1.0)


def _homogenised_crops(n: int = 4, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """n crops of a synthetic map's homogenised quaternions (channels 0-3) and a constant
    step channel (4); non-indexed pixels are 0."""
    from ebsdphase.crystal import grains, homogenize
    from ebsdphase.synth import synthesize

    s = synthesize("t2", 41, (size * 2, size * 2), 0.1)
    h = homogenize(s.map, grains(s.map, 3.0))
    h[~s.map.indexed] = 0
    crops = [h[r:r + size, c:c + size] for r in (0, size) for c in (0, size)][:n]
    x = np.concatenate([np.stack(crops), np.full((n, size, size, 1), 0.7, np.float32)], axis=-1)
    labels = np.stack([s.labels[r:r + size, c:c + size] for r in (0, size) for c in (0, size)][:n])
    return x.astype(np.float32), labels.astype(np.uint8)


def _quat_dataset(path: Path, grain_angle: float = 3.0) -> Path:
    """A dataset of the crops of :func:`_homogenised_crops`: 3 for training, 1 for validation."""
    x, y = _homogenised_crops()
    recipe = {**RECIPE, "names": ["quat", "step"], "normalisation": "invariant", "grain_angle": grain_angle}
    with h5py.File(path, "w") as f:
        f.attrs.update(format="ebsdphase-dataset", version=1, recipe=json.dumps(recipe),
                       classes=json.dumps(CLASSES), command="tests/test_training.py", crop=32,
                       split_by="crop", seed=0)
        for split, idx in (("train", [0, 1, 2]), ("val", [3])):
            g = f.create_group(split)
            g.create_dataset("inputs", data=x[idx])
            g.create_dataset("labels", data=y[idx])
    return path


def test_random_orientation_turns_each_crops_quaternions_and_keeps_its_misorientations():
    from ebsdphase.crystal import disorientation
    from ebsdphase.training.loop import _make_batches

    x, y = _homogenised_crops()
    bx, _, _ = _make_batches(x, y, 2, len(x), seed=0, shuffle=False, orient=[0, 1, 2, 3])[0]
    assert np.array_equal(bx[..., 4], x[..., 4])  # other channels untouched
    ok = np.any(x[..., :4] != 0, axis=-1)
    assert np.all(bx[~ok][..., :4] == 0)
    np.testing.assert_allclose(np.linalg.norm(bx[ok][..., :4], axis=-1), 1.0, atol=1e-5)
    for i in range(len(x)):
        assert np.median(disorientation(bx[i][ok[i]][:, :4], x[i][ok[i]][:, :4])) > 3.0  # each crop turned
        both = ok[i][:, :-1] & ok[i][:, 1:]
        np.testing.assert_allclose(disorientation(bx[i][:, :-1, :4][both], bx[i][:, 1:, :4][both]),
                                   disorientation(x[i][:, :-1, :4][both], x[i][:, 1:, :4][both]), atol=2e-3)
    # a fresh rotation per crop: no two crops turned alike
    again, _, _ = _make_batches(x[[0, 0]], y[[0, 0]], 2, 2, seed=0, shuffle=False, orient=[0, 1, 2, 3])[0]
    ok0 = ok[0]
    assert np.median(disorientation(again[0][ok0][:, :4], again[1][ok0][:, :4])) > 3.0


def test_random_orientation_trains_a_quaternion_model_and_refuses_other_inputs(dataset, tmp_path):
    from ebsdphase.training.loop import train

    with pytest.raises(EbsdphaseError, match="random_orientation"):
        train(dataset, tmp_path / "refused", params=TINY, epochs=1, random_orientation=True)
    assert not (tmp_path / "refused").exists()  # refused before anything is written
    path = _quat_dataset(tmp_path / "quat.h5")
    result = train(path, tmp_path / "run", params=TINY, epochs=1, random_orientation=True)
    assert json.loads((tmp_path / "run" / "train.json").read_text())["random_orientation"] is True
    assert json.loads(result.bundle.read_text())["provenance"]["random_orientation"] is True


@pytest.mark.parametrize("random_orientation", [False, True])
def test_quaternion_crops_turn_with_the_grid_only_under_random_orientation(random_orientation, tmp_path,
                                                                           monkeypatch):
    """A turn of the grid alone would mismatch quaternion inputs: it is on for them only when
    their orientations are turned at random as well, and the recipe's grain angle is used."""
    import ebsdphase.training.loop as loop

    path = _quat_dataset(tmp_path / "quat.h5", grain_angle=4.5)
    seen = []
    real = loop._make_batches

    def spy(*args, **kwargs):
        seen.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "_make_batches", spy)
    loop.train(path, tmp_path / "run", params=TINY, epochs=1, random_orientation=random_orientation)
    args, kwargs = seen[0]  # the training batches
    assert args[8] is random_orientation  # dihedral
    assert kwargs["orient"] == ([0, 1, 2, 3] if random_orientation else None)
    assert kwargs["grain_angle"] == 4.5


def test_a_run_refuses_a_smoothing_predict_does_not_know(dataset, tmp_path):
    """A misspelt --smooth would otherwise be recorded in the card and silently ignored."""
    from ebsdphase.core.errors import EbsdphaseError
    from ebsdphase.training.loop import train

    with pytest.raises(EbsdphaseError, match="smooth='grain'"):
        train(dataset, tmp_path / "run", params=TINY, epochs=1, smooth="grain")


def _brute_border(labels: np.ndarray, w0: float, sigma: float) -> np.ndarray:
    """Border factors by brute force: each labelled pixel's distance to every labelled pixel
    of another class in its crop (an independent reference for the distance transform)."""
    out = np.ones(labels.shape)
    for i, crop in enumerate(labels):
        rr, cc = np.indices(crop.shape)
        for r, c in zip(*np.nonzero(crop != 255)):
            other = (crop != 255) & (crop != crop[r, c])
            if other.any():
                d2 = ((rr[other] - r) ** 2 + (cc[other] - c) ** 2).min()
                out[i, r, c] = 1 + w0 * np.exp(-d2 / (2 * sigma ** 2))
    return out


def test_border_weights_grow_near_another_class_as_a_brute_force_reference_says():
    from ebsdphase.training.border import border_weights

    y = np.zeros((3, 9, 10), np.uint8)
    y[0, :, 5:] = 1                       # two halves: a straight border
    y[0, :, 4] = 255                      # with an unlabelled column on it
    y[1, 3:5, 6:8] = 1                    # a 2 x 2 island of class 1
    y[2] = 1                              # one class only
    w = border_weights(y, 5.0, 2.0)
    np.testing.assert_allclose(w, _brute_border(y, 5.0, 2.0), rtol=1e-6)
    # hand-worked: next to the unlabelled column, the other class is 2 pixels away
    assert w[0, 0, 3] == pytest.approx(1 + 5 * np.exp(-4 / 8))
    assert w[0, 0, 0] == pytest.approx(1 + 5 * np.exp(-25 / 8))
    np.testing.assert_allclose(w[1, 3:5, 6:8], 1 + 5 * np.exp(-1 / 8), rtol=1e-6)  # each island pixel touches class 0
    assert (w[2] == 1).all() and (border_weights(y, 0.0) == 1).all()


def test_border_weight_multiplies_the_class_weights_and_a_run_records_it(dataset, reference_run, tmp_path):
    from ebsdphase.core.errors import EbsdphaseError
    from ebsdphase.dataset.io import open_dataset
    from ebsdphase.training.border import border_weights
    from ebsdphase.training.loop import _make_batches, class_weights, train

    with open_dataset(dataset) as ds:
        x, y = ds.split("train")
        x, y = np.asarray(x[:8]), np.asarray(y[:8])
    cw = class_weights(y, 2)
    _, _, plain = _make_batches(x, y, 2, 8, seed=0, shuffle=False, weights=cw)[0]
    _, _, stressed = _make_batches(x, y, 2, 8, seed=0, shuffle=False, weights=cw, border=3.0, border_sigma=2.0)[0]
    np.testing.assert_allclose(stressed, plain * border_weights(y, 3.0, 2.0), rtol=1e-6)
    assert (stressed[y == 255] == 0).all() and stressed.max() > plain.max()
    prov = json.loads(reference_run.bundle.read_text())["provenance"]
    assert prov["border_weight"] == 0.0  # the card says what the run did
    with pytest.raises(EbsdphaseError, match="border_weight=-1"):
        train(dataset, tmp_path / "run", params=TINY, epochs=1, border_weight=-1.0)
