"""The pretrained models shipped in registry/: hash-checked, loadable, and still accurate.

Each model is fetched through pooch into a fresh cache (sha256 checked against
registry/registry.txt) and predicts the example map that ships with the package; its pixel
accuracy against the example's exact labels must stay near the accuracy its card reports
on the held-out synthetic test maps. A retrained or corrupted model fails here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ebsdphase.models.pretrained import list_pretrained, registry_dir

EXAMPLE = Path(__file__).resolve().parents[1] / "ebsdphase" / "data" / "example_t2.ebsd.h5"
MODELS = sorted(list_pretrained())


def test_the_brief_s_four_models_are_registered():
    assert {"dp-bs", "dp-kam", "dp-bs-kam", "dp-quat"} <= set(MODELS)


def test_registry_hashes_match_the_committed_files():
    folder = registry_dir()
    for line in (folder / "registry.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, digest = line.split()
        algo, hexdigest = digest.split(":")
        assert algo == "sha256"
        assert hashlib.sha256((folder / "weights" / name).read_bytes()).hexdigest() == hexdigest, name


@pytest.mark.parametrize("name", MODELS)
def test_pretrained_model_predicts_the_example_map(name, tmp_path, monkeypatch):
    import ebsdphase
    from ebsdphase.labels import labels_path, read_labels
    from ebsdphase.models.bundle import load_bundle

    monkeypatch.setenv("EBSDPHASE_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("EBSDPHASE_MODELS_URL", raising=False)
    bundle = load_bundle(name)
    assert bundle.folder == tmp_path / "cache"  # fetched (copied and hash-checked), not read in place

    ebsd = ebsdphase.read_map(EXAMPLE)
    truth = read_labels(labels_path(EXAMPLE), ebsd.shape)
    pred = ebsdphase.predict(ebsd, bundle)
    assert pred.classes.shape == ebsd.shape
    assert pred.probabilities.shape == ebsd.shape + (2,)
    accuracy = float((pred.classes == truth).mean())
    reported = bundle.card["metrics"]["test_synthetic"]["accuracy"]
    # a 192 x 256 map holds a handful of grains: allow 3 points below the card's figure
    assert accuracy >= reported - 0.03, (name, accuracy, reported)
