"""Architecture registry, the paper's U-Net, model bundles and the pretrained registry.

U-Net parameter counts (2 input channels, 2 classes, 32 filters at the top, transposed-conv
up-sampling), derived by hand below from conv(k, cin, cout) = k*k*cin*cout + cout:

    depth 3 (1 pooling)  :   101,282
    depth 5 (2 poolings) :   466,274
    depth 7 (3 poolings) : 1,925,346   (the paper's network)
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

import ebsdphase.models  # noqa: F401 - sets the keras backend before keras is imported
from ebsdphase.cli.main import app
from ebsdphase.core.errors import EbsdphaseError, EbsdphaseWarning
from ebsdphase.core.classes import ClassSet
from ebsdphase.models import registry
from ebsdphase.models.bundle import load_bundle, save_bundle
from ebsdphase.models.unet import build_unet
from ebsdphase.prediction import engine
from ebsdphase.prediction.engine import predict_probabilities

TINY = {"depth": 3, "filters": 4, "dropout": 0.2, "upsampling": "transpose"}
RECIPE = {"names": ["bs", "kam"], "kam_order": 1, "kam_threshold": 3.0, "grain_angle": 3.0,
          "normalisation": "zscore-per-map", "unindexed_value": 0.0}
DOCUMENTED_COUNTS = {3: 101_282, 5: 466_274, 7: 1_925_346}


def conv(k: int, cin: int, cout: int) -> int:
    return k * k * cin * cout + cout


def unet_count(depth: int, cin: int, n_classes: int, filters: int = 32, upsampling: str = "transpose") -> int:
    """Parameters of the U-Net counted layer by layer from the architecture's description."""
    steps = (depth - 1) // 2
    n, c = 0, cin
    for level in range(steps):  # down: two 3x3 convs per step (dropout and pooling have none)
        w = filters * 2**level
        n += conv(3, c, w) + conv(3, w, w)
        c = w
    w = filters * 2**steps  # bottleneck
    n += conv(3, c, w) + conv(3, w, w)
    c = w
    for level in reversed(range(steps)):  # up: (2x2 transposed conv), concat skip, two convs
        w = filters * 2**level
        if upsampling == "transpose":
            n += conv(2, c, w)
            concat = 2 * w
        else:
            concat = c + w
        n += conv(3, concat, w) + conv(3, w, w)
        c = w
    return n + conv(1, c, n_classes)  # 1x1 to the classes


@pytest.mark.parametrize("depth", [3, 5, 7])
def test_unet_parameter_counts(depth):
    model = build_unet(2, 2, depth=depth)
    assert model.count_params() == unet_count(depth, 2, 2) == DOCUMENTED_COUNTS[depth]


def test_unet_variants_follow_the_formula():
    assert build_unet(3, 4, depth=5, filters=8, upsampling="nearest").count_params() == \
        unet_count(5, 3, 4, filters=8, upsampling="nearest")
    assert build_unet(1, 3, depth=1, filters=8).count_params() == unet_count(1, 1, 3, filters=8)


def test_unet_depth_must_be_odd():
    arch = registry.get_architecture("unet")
    with pytest.raises(EbsdphaseError, match="odd"):
        arch.resolve({"depth": "4"})
    assert arch.multiple({"depth": "7"}) == 8 and arch.multiple({"depth": 3}) == 2


def test_params_are_typed_and_checked():
    arch = registry.get_architecture("unet")
    p = arch.resolve(registry.parse_params(["depth=5", "dropout=0.1", "upsampling=nearest"]))
    assert p == {"depth": 5, "filters": 32, "dropout": 0.1, "upsampling": "nearest"}
    with pytest.raises(EbsdphaseError, match="no parameter 'width'.*depth"):
        arch.resolve({"width": 3})
    with pytest.raises(EbsdphaseError, match="must be int"):
        arch.resolve({"depth": "seven"})
    with pytest.raises(EbsdphaseError, match="one of"):
        arch.resolve({"upsampling": "bilinear"})
    with pytest.raises(EbsdphaseError, match="NAME=VALUE"):
        registry.parse_params(["depth"])


def test_prediction_pads_by_mirroring_and_crops_back():
    x = np.arange(5 * 7 * 2, dtype=np.float32).reshape(5, 7, 2)
    padded = engine._pad(x, (8, 8))
    assert padded.shape == (8, 8, 2)
    np.testing.assert_array_equal(padded[:5, :7], x)
    np.testing.assert_array_equal(padded[5, :7], x[3])  # mirrored about the last row, not zeros
    assert engine._pad(x[:4, :4], (4, 4)).shape == (4, 4, 2)
    np.testing.assert_array_equal(engine._pad(x[:1, :1], (2, 2)), np.broadcast_to(x[:1, :1], (2, 2, 2)))


def _tiny_bundle(folder: Path, name: str = "tiny", compiled: bool = False) -> Path:
    import keras

    keras.utils.set_random_seed(1)
    model = build_unet(2, 2, **TINY)
    if compiled:
        model.compile(optimizer=keras.optimizers.Adadelta(1.0), loss="categorical_crossentropy")
        x = np.random.default_rng(0).standard_normal((2, 8, 8, 2)).astype(np.float32)
        model.train_on_batch(x, np.eye(2, dtype=np.float32)[(x[..., 0] > 0).astype(int)])
    return save_bundle(model, folder, name, "unet", TINY, RECIPE, ClassSet(), provenance={"test": True},
                       metrics={"val_accuracy": 0.5})


@pytest.mark.parametrize("shape", [(37, 45), (33, 64), (1, 1)])
def test_output_shape_equals_input_shape(tmp_path, shape):
    bundle = load_bundle(_tiny_bundle(tmp_path))
    x = np.random.default_rng(0).standard_normal(shape + (2,)).astype(np.float32)
    probs = predict_probabilities(bundle, x)
    assert probs.shape == shape + (2,) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)


def test_bundle_round_trip_without_optimizer_state(tmp_path):
    card_path = _tiny_bundle(tmp_path / "b", compiled=True)
    assert card_path == tmp_path / "b" / "tiny.json"
    with h5py.File(tmp_path / "b" / "tiny.weights.h5") as f:
        assert "optimizer" not in f  # distributable weights: saved from an uncompiled copy
    card = json.loads(card_path.read_text())
    for key in ("name", "architecture", "params", "recipe", "classes", "provenance", "metrics", "ebsdphase_version"):
        assert key in card
    assert card["classes"]["classes"] == ["ferrite", "martensite"] and card["recipe"]["names"] == ["bs", "kam"]

    # folder, card and weights paths all load the same bundle
    a = load_bundle(tmp_path / "b")
    b = load_bundle(card_path)
    c = load_bundle(tmp_path / "b" / "tiny.weights.h5")
    assert a.name == b.name == c.name == "tiny" and a.multiple == 2 and a.input_channels == 2
    x = np.random.default_rng(2).standard_normal((16, 16, 2)).astype(np.float32)
    np.testing.assert_array_equal(predict_probabilities(a, x), predict_probabilities(b, x))
    with pytest.raises(EbsdphaseError, match="expects 2 input channels"):
        predict_probabilities(a, x[..., :1])


def test_load_bundle_errors(tmp_path):
    with pytest.raises(EbsdphaseError, match="no such model file"):
        load_bundle(tmp_path / "missing" / "m.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EbsdphaseError, match="no model bundle here"):
        load_bundle(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "m.json").write_text("{not json")
    (bad / "m.weights.h5").write_bytes(b"")
    with pytest.raises(EbsdphaseError, match="m.json: not a readable model card"):
        load_bundle(bad)
    (bad / "m.json").write_text(json.dumps({"name": "m"}))
    with pytest.raises(EbsdphaseError, match="lacks architecture"):
        load_bundle(bad / "m.json")
    with pytest.raises(EbsdphaseError, match="not a model folder, card or pretrained"):
        load_bundle("no-such-pretrained-model")
    with pytest.raises(EbsdphaseError, match="model name"):
        save_bundle(build_unet(2, 2, **TINY), tmp_path, "bad name!", "unet", TINY, RECIPE, ClassSet())


def test_bundle_refuses_a_map_without_its_channels(tmp_path):
    pytest.importorskip("ebsdphase.features")
    from ebsdphase.core.ebsdmap import EBSDMap, Phase

    card = json.loads(_tiny_bundle(tmp_path).read_text())
    card["recipe"] = dict(RECIPE, names=["bc", "kam"])
    (tmp_path / "tiny.json").write_text(json.dumps(card))
    bundle = load_bundle(tmp_path)
    q = np.zeros((4, 5, 4), np.float32)
    q[..., 0] = 1
    ebsd = EBSDMap(quaternions=q, phase_id=np.ones((4, 5), np.int16),
                   phases={1: Phase("Iron bcc", "m-3m", (2.87, 2.87, 2.87, 90, 90, 90), 229)},
                   step=(0.1, 0.1), channels={"bs": np.ones((4, 5), np.float32)}, source="sample.ctf")
    with pytest.raises(EbsdphaseError, match=r"sample.ctf: model 'tiny' needs channel\(s\) bc .*map channels: bs"):
        bundle.check_map(ebsd)
    ebsd.channels["bc"] = np.ones((4, 5), np.float32)
    bundle.check_map(ebsd)  # kam is derived from the orientations: nothing missing now


def test_bundle_saved_under_one_backend_predicts_the_same_under_another(tmp_path):
    import keras

    here = keras.backend.backend()
    other = "torch" if here != "torch" else "jax"
    if importlib.util.find_spec(other) is None:
        pytest.skip(f"second keras backend {other!r} not installed (pip install ebsdphase[test])")
    card = _tiny_bundle(tmp_path / "b")
    x = np.random.default_rng(5).standard_normal((29, 35, 2)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "ref.npy", predict_probabilities(load_bundle(card), x))
    code = textwrap.dedent(f"""
        import numpy as np, keras
        from ebsdphase.models.bundle import load_bundle
        from ebsdphase.prediction.engine import predict_probabilities
        assert keras.backend.backend() == {other!r}, keras.backend.backend()
        x = np.load({str(tmp_path / 'x.npy')!r})
        np.save({str(tmp_path / 'got.npy')!r}, predict_probabilities(load_bundle({str(card)!r}), x))
    """)
    proc = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, KERAS_BACKEND=other),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_allclose(np.load(tmp_path / "got.npy"), np.load(tmp_path / "ref.npy"), atol=1e-5, rtol=0)


# -- plugins ---------------------------------------------------------------------------


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch):
    """The installed entry points plus three broken ones: a missing module, a build with a
    bad signature and an object that is not an Architecture."""
    (tmp_path / "fakeplugin.py").write_text(textwrap.dedent("""
        from ebsdphase.models.registry import Architecture, Param
        BAD = Architecture(name="badsig", build=lambda input_channels: None, params={"width": Param(3)})
        NOT_ARCH = 42
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    EP = importlib.metadata.EntryPoint
    real = list(importlib.metadata.entry_points(group=registry.GROUP))
    fakes = [EP("broken", "ebsdphase_no_such_plugin_module:ARCHITECTURE", registry.GROUP),
             EP("badsig", "fakeplugin:BAD", registry.GROUP),
             EP("notarch", "fakeplugin:NOT_ARCH", registry.GROUP)]
    monkeypatch.setattr(registry, "entry_points", lambda group: real + fakes)
    registry.reload()
    yield
    monkeypatch.undo()
    registry.reload()


def test_broken_plugins_are_reported_and_skipped(fake_plugins):
    with pytest.warns(EbsdphaseWarning) as caught:
        archs = registry.architectures()
    assert "unet" in archs and archs["unet"].package == "ebsdphase"
    assert not {"broken", "badsig", "notarch"} & set(archs)
    lines = registry.broken_plugins()
    assert len(lines) == 3 and len(caught) == 3
    joined = "\n".join(lines)
    assert "'broken'" in joined and "ModuleNotFoundError" in joined
    assert "'badsig'" in joined and "build(input_channels, n_classes, **params)" in joined
    assert "'notarch'" in joined and "expected an ebsdphase.models.registry.Architecture" in joined


def test_models_list_survives_a_broken_plugin(fake_plugins):
    res = CliRunner().invoke(app, ["models", "list"])
    assert res.exit_code == 0, res.output
    assert "unet" in res.output and "warning:" in res.output and "'broken'" in res.output


def test_models_info(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["models", "info", "unet", "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["params"]["depth"]["default"] == 7 and info["multiple"] == 8
    _tiny_bundle(tmp_path)
    res = runner.invoke(app, ["models", "info", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["channels"] == ["bs", "kam"]
    assert json.loads(res.output)["smooth"] is None  # its card asks for no smoothing
    assert json.loads(res.output)["min_extent_um"] is None  # nor says from what map size it holds
    assert json.loads(res.output)["fill_unindexed"] is False  # nor cleans the maps it is given
    res = runner.invoke(app, ["models", "info", "dp-kam"])  # a pretrained card that asks for both
    assert res.exit_code == 0 and "smoothing" in res.output and "half and half" in res.output
    from ebsdphase.models.bundle import load_bundle

    assert "smallest map" in res.output and f"{load_bundle('dp-kam').min_extent_um:g} um field of view" in res.output
    # the training ranges in words, one per row (the pretrained models saw bcc iron only)
    lo, hi = load_bundle("dp-kam").training_ranges["step_um"]
    assert f"step: {lo:.3g} - {hi:.3g} um" in res.output and "indexed fraction: " in res.output
    assert "indexed pixels not body-centred iron: 0% - 0%" in res.output
    res = runner.invoke(app, ["models", "info", "nothing-called-this"])
    assert res.exit_code == 2 and "pretrained models:" in res.output


def test_runtime_registration_builds_through_the_registry(tmp_path):
    from ebsdphase.models.registry import Architecture, Param

    def build(input_channels, n_classes, filters=4):
        import keras

        inp = keras.Input((None, None, input_channels))
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(inp)
        return keras.Model(inp, keras.layers.Conv2D(n_classes, 1, activation="softmax")(x))

    registry.register_architecture(Architecture("testnet", build, {"filters": Param(4)}))
    try:
        model = registry.get_architecture("testnet").create(2, 2, {"filters": "3"})
        save_bundle(model, tmp_path, "t", "testnet", {"filters": 3}, RECIPE, ClassSet())
        bundle = load_bundle(tmp_path)
        assert bundle.model.count_params() == conv(3, 2, 3) + conv(1, 3, 2) and bundle.multiple == 1
    finally:
        registry._extra.pop("testnet", None)


# -- pretrained registry ---------------------------------------------------------------


def test_repository_registry_is_readable(monkeypatch):
    from ebsdphase.models.pretrained import list_pretrained

    monkeypatch.delenv("EBSDPHASE_REGISTRY_DIR", raising=False)
    assert isinstance(list_pretrained(), dict)


def test_register_and_fetch_pretrained(tmp_path, monkeypatch):
    from ebsdphase.models.pretrained import list_pretrained, register_pretrained

    reg, cache = tmp_path / "registry", tmp_path / "cache"
    monkeypatch.setenv("EBSDPHASE_REGISTRY_DIR", str(reg))
    monkeypatch.setenv("EBSDPHASE_DATA_DIR", str(cache))
    monkeypatch.delenv("EBSDPHASE_MODELS_URL", raising=False)
    source = load_bundle(_tiny_bundle(tmp_path / "trained"))
    entry = register_pretrained("tiny-test", source.folder, description="a test model")
    assert entry["channels"] == ["bs", "kam"] and list(list_pretrained()) == ["tiny-test"]
    lines = (reg / "registry.txt").read_text().splitlines()
    sha = hashlib.sha256((reg / "weights" / "tiny-test.weights.h5").read_bytes()).hexdigest()
    assert f"tiny-test.weights.h5 sha256:{sha}" in lines

    bundle = load_bundle("tiny-test")  # copied from registry/weights into the cache, hash-checked
    assert bundle.name == "tiny-test" and bundle.folder == cache
    x = np.random.default_rng(3).standard_normal((12, 10, 2)).astype(np.float32)
    np.testing.assert_array_equal(predict_probabilities(bundle, x), predict_probabilities(source, x))
    res = CliRunner().invoke(app, ["models", "list", "--json"])
    assert res.exit_code == 0 and "tiny-test" in json.loads(res.output)["pretrained"]

    # a corrupted registry file is refused with a clear message, never loaded
    with open(reg / "weights" / "tiny-test.weights.h5", "ab") as f:
        f.write(b"corrupt")
    for p in cache.iterdir():
        p.unlink()
    with pytest.raises(EbsdphaseError, match="tiny-test.*failed its sha256 check"):
        load_bundle("tiny-test")
