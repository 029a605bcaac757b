"""The pretrained models shipped in registry/: hash-checked, loadable, and still accurate.

Each model is fetched through pooch into a fresh cache (sha256 checked against
registry/registry.txt) and predicts the example map that ships with the package; its pixel
accuracy against the example's exact labels must stay near the accuracy its card reports
on the held-out synthetic test maps. A retrained or corrupted model fails here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from ebsdphase.evaluation.checks import KNOWN_PHASE_MAPS
from ebsdphase.models.pretrained import list_pretrained, registry_dir, weights_dir

EXAMPLE = Path(__file__).resolve().parents[2] / "ebsdphase" / "data" / "example_t2.ebsd.h5"
MODELS = sorted(list_pretrained())


def test_the_brief_s_four_models_are_registered():
    assert {"dp-bs", "dp-kam", "dp-bs-kam", "dp-quat"} <= set(MODELS)


def test_registry_hashes_match_the_committed_files():
    folder, weights = registry_dir(), weights_dir()
    if weights is None:
        pytest.skip("no registry/weights/ beside the package (an installed wheel)")
    assert set(json.loads((folder / "pretrained.json").read_text())["default_order"]) == set(MODELS)
    for line in (folder / "registry.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, digest = line.split()
        algo, hexdigest = digest.split(":")
        assert algo == "sha256"
        assert hashlib.sha256((weights / name).read_bytes()).hexdigest() == hexdigest, name


@pytest.mark.parametrize("name", MODELS)
def test_pretrained_model_predicts_the_example_map(name, tmp_path, monkeypatch):
    import ebsdphase
    from ebsdphase.core.classes import labels_path, read_labels
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


# -- the real-maps issue: inputs that mean the same on every map ---------------------------------
NEW_MODELS = ("dp-bs", "dp-bc", "dp-kam", "dp-bs-kam", "dp-quality-kam", "dp-quat")


def test_every_model_of_recipe_v2_is_registered_with_its_training_ranges():
    from ebsdphase.models.bundle import load_bundle

    assert set(NEW_MODELS) <= set(MODELS)
    for name in NEW_MODELS:
        b = load_bundle(name)
        assert b.recipe.version == 2, name
        r = b.training_ranges
        # random maps at 0.05-0.5 um, and their 2x coarser augmentations
        assert 0.05 <= r["step_um"][0] < 0.06 and r["step_um"][1] >= 0.5, (name, r)
        assert r["indexed_fraction"][0] <= 0.75 and r["indexed_fraction"][1] == 1.0, (name, r)


def test_every_model_says_from_what_field_of_view_its_answers_hold():
    """scripts/extent_validation.py's rule, checked against the figures the card keeps: at
    the card's min_extent_um and every larger crop size 95 % of the validation crops agree
    with the whole map on >= 97 % of their pixels, and at the next smaller size they do not."""
    from ebsdphase.models.bundle import load_bundle

    for name in NEW_MODELS:
        b = load_bundle(name)
        rows = b.metrics["extent_validation"]["figures"]
        assert b.min_extent_um == b.metrics["extent_validation"]["min_extent_um"], name
        held = [r["extent_um"] for r in rows if r["extent_um"] >= b.min_extent_um]
        assert held and all(r["p5"] >= 0.97 for r in rows if r["extent_um"] in held), name
        smaller = [r for r in rows if r["extent_um"] < b.min_extent_um]
        assert smaller and smaller[-1]["p5"] < 0.97, name


@pytest.fixture(scope="module")
def invariance_maps():
    """One synthetic map per paper preset, seeds never used in training."""
    from ebsdphase.synth import synthesize

    return [synthesize(p, 7100 + i, (256, 384), 0.1) for i, p in enumerate(("t1", "t2", "t3", "complex"))]


@pytest.fixture(scope="module")
def crop_agreements(invariance_maps):
    """{model: agreement of each >= 80 %-one-phase 128 x 128 crop with the whole map}."""
    from ebsdphase.evaluation import checks
    from ebsdphase.models.bundle import load_bundle

    cache: dict[str, list[float]] = {}

    def get(name: str) -> list[float]:
        if name not in cache:
            bundle = load_bundle(name)
            cache[name] = [c["agreement"] for s in invariance_maps
                           for c in checks.crop_agreement(bundle, s.map, s.labels, size=128, purity=0.8)]
        return cache[name]
    return get


@pytest.mark.parametrize("name", NEW_MODELS)
def test_a_crop_that_is_mostly_one_phase_is_predicted_as_in_the_whole_map(name, crop_agreements):
    """Metamorphic: the phase of a pixel must not depend on what else is in the map (on
    average over the crops; every crop: the next test)."""
    agree = crop_agreements(name)
    assert len(agree) >= 4
    assert float(np.mean(agree)) >= 0.97, (name, agree)


#: measured on the crops of ``invariance_maps`` (worst crop), kept visible as strict xfails.
#: For BS alone the cause is the quality scale: the 98th percentile of a 98 %-martensite
#: crop is ~10 % below the whole map's, and with the whole map's scale the same crops agree
#: on 98.4-99.7 %. Longer training narrowed it (dp-bs 94.7 -> 95.9 % at epoch 21; dp-bc
#: 94.6 -> 97.0 %, now passing); a wider random gain (train --quality-gain 1.6) lifted dp-bs's
#: worst validation crop from 92.7 to 96.4 % but cost 1.4 points of accuracy
#: (scripts/crop_validation.py), so it was not shipped. Fine-tuned under crops re-scaled over
#: their own percentile and a gain of 1.4 (train --own-scale 0.5 --quality-gain 1.4, the
#: 2026-12-02 release) dp-bs reaches 97.0 % here, but 96.7 % on bench_real.py's maps: it is
#: at the target's edge, not past it. dp-quat (96.8 % here before) reaches 98.1 % since its
#: fine-tune under random sample rotations (train --random-orientation), 98.6 % since the
#: 2026-12-03 release; 96.3 % on bench_real.py's maps, still short there. Empty now: every
#: model passes here.
CROP_SHORTFALLS: dict[str, str] = {}


@pytest.mark.parametrize("name", NEW_MODELS)
def test_every_crop_that_is_mostly_one_phase_is_predicted_as_in_the_whole_map(name, crop_agreements, request):
    if name in CROP_SHORTFALLS:
        request.applymarker(pytest.mark.xfail(reason=CROP_SHORTFALLS[name], strict=True))
    agree = crop_agreements(name)
    assert min(agree) >= 0.97, (name, agree)


@pytest.mark.parametrize("name", [n for n in NEW_MODELS if n != "dp-kam" and n != "dp-quat"])
def test_the_camera_gain_does_not_change_the_phase_map(name, invariance_maps):
    from ebsdphase.evaluation import checks
    from ebsdphase.models.bundle import load_bundle

    bundle = load_bundle(name)
    for s in invariance_maps[:2]:
        assert checks.gain_agreement(bundle, s.map, 0.6) >= 0.99


#: measured on ``invariance_maps`` (seeds 7100-7103 at 0.1 um), kept visible as strict xfails
#: (benchmarks/bench_real.py and scripts/crop_validation.py print the same check on their own
#: maps): a model whose answer moves when the map is cleaned reads the phase from where
#: indexing failed.
CLEANUP_SHORTFALLS: dict[str, str] = {
    "dp-quat": "74-87 % of the indexed pixels keep their answer here when the map is cleaned: the "
               "2026-12-03 weights read martensite from non-indexed speckle (a 100 %-ferrite "
               "validation map with 20 % of its pixels non-indexed: 7.7 % ferrite, cleaned 100 %)",
}


@pytest.mark.parametrize("name", NEW_MODELS)
def test_cleaning_up_the_map_does_not_change_the_phase_of_an_indexed_pixel(name, invariance_maps, request):
    """Metamorphic: AZtec/OIM clean-up (non-indexed pixels filled from their nearest indexed
    neighbour) does not change what an indexed pixel is, so it must not change its answer;
    a model that reads the phase from the density of non-indexed pixels fails here."""
    from ebsdphase.evaluation import checks
    from ebsdphase.models.bundle import load_bundle

    if name in CLEANUP_SHORTFALLS:
        request.applymarker(pytest.mark.xfail(reason=CLEANUP_SHORTFALLS[name], strict=True))
    bundle = load_bundle(name)
    agree = [checks.cleanup_agreement(bundle, s.map) for s in invariance_maps]
    assert all(a is not None for a in agree)  # the presets leave pixels non-indexed
    assert min(agree) >= 0.97, (name, agree)


#: measured shortfalls against the real-maps issue's targets, kept visible: strict xfail, so
#: a model that comes to meet its target fails here until the mark is removed (dp-quat's
#: M1700 mark went with its 2026-12-03 release: 97.4 %; dp-quality-kam's with its card's
#: smooth: soft, 91.9 -> 95.8 %). Empty now.
SHORTFALLS: dict[tuple[str, str], str] = {}
READERS = ("dp-kam", "dp-quality-kam", "dp-quat")  # the models whose channels EDAX maps have


@pytest.mark.parametrize("known", [k.name for k in KNOWN_PHASE_MAPS])
@pytest.mark.parametrize("name", READERS)
def test_real_maps_whose_phase_is_known_come_out_right(name, known, request):
    """DC06 >= 95 % ferrite, M1700 >= 95 % martensite, SDSS BCC pixels >= 90 % ferrite."""
    from conftest import shared_file

    from ebsdphase.evaluation import checks
    from ebsdphase.io import read_map
    from ebsdphase.models.bundle import load_bundle

    if (name, known) in SHORTFALLS:
        request.applymarker(pytest.mark.xfail(reason=SHORTFALLS[(name, known)], strict=True))
    k = next(k for k in KNOWN_PHASE_MAPS if k.name == known)
    m = read_map(shared_file(*k.path.split("/")))
    r = checks.known_phase_share(load_bundle(name), m, k)
    assert r is not None, f"{name} cannot read {k.path}"
    assert r["share"] >= (0.90 if k.name == "SDSS-BCC" else 0.95), (name, k.name, r)
    # DC06 (1 um) and SDSS (1.5 um) lie past every model's training steps, and are said to
    step = {"DC06": "step 1 um", "SDSS-BCC": "step 1.5 um"}.get(k.name)
    if step:
        assert any(step in why for why in r["outside"]), (name, k.name, r["outside"])
