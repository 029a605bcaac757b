"""Synthetic dual-phase maps (issue 4): KS variants, calibration against the paper, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import ebsdphase
from ebsdphase.cli.main import app
from ebsdphase.crystal import disorientation, grain_average, grains, kam
from ebsdphase.crystal.quaternion import to_matrix
from ebsdphase.crystal.relationships import (KS_ANGLE, ks_matrix, ks_packets, ks_planes,
                                             ks_variants, variant_orientations)
from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.core.classes import read_labels
from ebsdphase.synth import PRESETS, generate, synthesize

DATA = Path(ebsdphase.__file__).parent / "data"
SHAPE = (256, 320)
SEEDS = (0, 1, 2)


# -- Kurdjumov-Sachs variants ------------------------------------------------------------------

def test_ks_matrix_is_the_ks_definition():
    m = ks_matrix()
    assert np.allclose(m @ m.T, np.eye(3)) and np.isclose(np.linalg.det(m), 1.0)
    # (111)γ -> (011)α and [-101]γ -> [-1-11]α
    assert np.allclose(m @ (np.array([1, 1, 1]) / np.sqrt(3)), np.array([0, 1, 1]) / np.sqrt(2))
    assert np.allclose(m @ (np.array([-1, 0, 1]) / np.sqrt(2)), np.array([-1, -1, 1]) / np.sqrt(3))


def test_24_distinct_ks_variants_at_42_85_deg_from_the_parent():
    v = ks_variants()
    assert v.shape == (24, 4)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0)
    to_parent = disorientation(v, np.array([1.0, 0, 0, 0]))
    assert np.allclose(to_parent, KS_ANGLE, atol=0.01)
    d = disorientation(v[:, None], v[None])
    off = d[~np.eye(24, dtype=bool)]
    assert off.min() > 10.0  # all 24 distinct (the closest pairs are 10.5 deg apart)


def test_ks_packets_and_the_v1_v4_pair():
    v = ks_variants()
    packet = ks_packets()
    assert np.array_equal(np.bincount(packet), [6, 6, 6, 6])
    d = disorientation(v[:, None], v[None])
    for p in range(4):
        members = np.flatnonzero(packet == p)
        sub = d[np.ix_(members, members)]
        # inside a packet: 10.53 (V1/V4), 49.47 (V1/V6) and 60 deg, as in Morito 2003 table 1
        vals = np.unique(np.round(sub[np.triu_indices(6, 1)], 1))
        assert np.allclose(vals, [10.5, 49.5, 60.0])
        # variants 2j, 2j+1 are the 10.5 deg sub-block pair
        for j in range(3):
            assert abs(sub[2 * j, 2 * j + 1] - 10.53) < 0.05
    # each packet keeps its {111}γ plane parallel to (011)α
    for i, q in enumerate(v):
        n_alpha = to_matrix(q) @ ks_planes()[packet[i]]
        assert np.isclose(abs(n_alpha @ np.array([0, 1, 1]) / np.sqrt(2)), 1.0)


def test_variant_orientations_of_a_parent():
    rng = np.random.default_rng(3)
    parent = rng.standard_normal((5, 4))
    parent /= np.linalg.norm(parent, axis=1, keepdims=True)
    daughters = variant_orientations(parent)
    assert daughters.shape == (5, 24, 4)
    mis = disorientation(daughters, parent[:, None, :])
    assert np.allclose(mis, KS_ANGLE, atol=0.01)


# -- calibration against the paper's maps ---------------------------------------------------------

def best_threshold_accuracy(values: np.ndarray, truth: np.ndarray) -> float:
    """Pixel accuracy of the best rule 'ferrite when value > t' over all t."""
    order = np.argsort(values, kind="stable")
    t = truth[order]
    mart_below = np.concatenate([[0], np.cumsum(t == 1)])
    fer_above = np.count_nonzero(t == 0) - np.concatenate([[0], np.cumsum(t == 0)])
    return float((mart_below + fer_above).max() / len(values))


@pytest.fixture(scope="module")
def calibration():
    """Per preset and seed: the figures the paper reports, on small maps."""
    out = {}
    for preset in PRESETS:
        for seed in SEEDS:
            r = synthesize(preset, seed, SHAPE, 0.1)
            m, lab = r.map, r.labels
            idx = m.indexed
            k = kam(m, 1, 3.0)
            g = grains(m, 3.0)
            bs = m.channels["bs"]
            out[preset, seed] = {
                "kam_f": float(k[idx & (lab == 0)].mean()),
                "kam_m": float(k[idx & (lab == 1)].mean()),
                "indexed": m.indexed_fraction,
                "ferrite": float(np.mean(lab == 0)),
                "pixel": best_threshold_accuracy(bs[idx], lab[idx]),
                "grain": best_threshold_accuracy(grain_average(bs, g)[idx], lab[idx]),
            }
    return out


@pytest.mark.parametrize("preset", list(PRESETS))
def test_kam_indexing_and_fraction_match_the_paper(calibration, preset):
    for seed in SEEDS:
        c = calibration[preset, seed]
        assert abs(c["kam_f"] - 0.2) <= 0.1, c
        assert abs(c["kam_m"] - 0.5) <= 0.1, c
        assert c["kam_m"] > 2 * c["kam_f"], c
        assert 0.85 <= c["indexed"] <= 0.95, c
        assert abs(c["ferrite"] - PRESETS[preset].ferrite_fraction) <= 0.02, c


@pytest.mark.parametrize("preset", list(PRESETS))
def test_difficulty_matches_the_paper(calibration, preset):
    """A single BS threshold must not be enough (85-93 %), grain-averaged BS better but not
    perfect (93-97.5 %; the paper's baseline scored 96.4 %). Small maps hold few grains, so
    the windows apply to the mean of three maps; each map must still be far from trivial."""
    pixel = [calibration[preset, s]["pixel"] for s in SEEDS]
    grain = [calibration[preset, s]["grain"] for s in SEEDS]
    assert 0.85 <= np.mean(pixel) <= 0.93, pixel
    assert 0.93 <= np.mean(grain) <= 0.975, grain
    assert max(pixel) < 0.94 and max(grain) < 0.995, (pixel, grain)
    assert np.mean(grain) > np.mean(pixel)


# -- API, determinism, files ------------------------------------------------------------------

def test_generate_api():
    m, labels = generate(preset="t3", seed=5, shape=(64, 96), step=0.2)
    assert isinstance(m, ebsdphase.EBSDMap)
    assert m.shape == (64, 96) and m.step == (0.2, 0.2)
    assert labels.dtype == np.uint8 and labels.shape == (64, 96)
    assert set(np.unique(labels)) <= {0, 1}
    assert set(m.channels) == {"bc", "bs", "mad", "bands", "error"}
    assert m.phases[1].name == "Iron bcc" and m.phases[1].lattice[0] == pytest.approx(2.87)
    # non-indexed pixels: phase 0, zero quaternion, error code set
    ni = ~m.indexed
    assert ni.any()
    assert np.all(m.quaternions[ni] == 0) and np.all(m.channels["error"][ni] > 0)
    assert np.allclose(np.linalg.norm(m.quaternions[~ni], axis=1), 1.0, atol=1e-5)
    m2, labels2 = generate(preset="t3", seed=5, shape=(64, 96), step=0.2)
    assert np.array_equal(m.quaternions, m2.quaternions) and np.array_equal(labels, labels2)
    m3, _ = generate(preset="t3", seed=6, shape=(64, 96), step=0.2)
    assert not np.array_equal(m.quaternions, m3.quaternions)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(EbsdphaseError, match="unknown preset"):
        generate(preset="t9", shape=(32, 32))
    with pytest.raises(EbsdphaseError, match="too small"):
        generate(shape=(4, 32))
    result = CliRunner().invoke(app, ["synth", "/tmp/never-written", "--size", "12by40"])
    assert result.exit_code == 2 and "ROWSxCOLS" in result.output


def test_cli_same_seed_gives_byte_identical_files(tmp_path):
    runner = CliRunner()
    args = ["--preset", "complex", "--count", "2", "--seed", "7", "--size", "48x64"]
    for name in ("a", "b"):
        res = runner.invoke(app, ["synth", str(tmp_path / name), *args])
        assert res.exit_code == 0, res.output
    files_a = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files_a == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert {"synth_complex_0007.ctf", "synth_complex_0008.labels.png", "synth_complex_0008.json"} <= set(files_a)
    for name in files_a:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    # the two maps differ
    assert (tmp_path / "a" / "synth_complex_0007.ctf").read_bytes() != (tmp_path / "a" / "synth_complex_0008.ctf").read_bytes()


def test_written_map_reads_back_exactly(tmp_path):
    from ebsdphase.synth.generate import write_synthetic

    r = synthesize("t2", 11, (60, 80), 0.1)
    paths = write_synthetic(r, tmp_path, "m", preview=False)
    back = ebsdphase.read_map(paths[0])
    assert back.shape == r.map.shape and back.step == pytest.approx(r.map.step)
    assert np.array_equal(back.phase_id, r.map.phase_id)
    assert back.phases[1].name == "Iron bcc"
    idx = r.map.indexed
    # Euler angles are printed with 4 decimals (deg): orientations agree to ~1e-4 deg
    mis = disorientation(back.quaternions[idx], r.map.quaternions[idx])
    assert np.nanmax(mis) < 0.01
    for name in ("bc", "bs", "bands", "error"):
        assert np.array_equal(back.channels[name], r.map.channels[name]), name
    assert np.allclose(back.channels["mad"], r.map.channels["mad"], atol=5e-5)
    labels = read_labels(paths[1], back.shape)
    assert np.array_equal(labels, r.labels)
    side = json.loads(paths[2].read_text())
    assert side["seed"] == 11 and side["preset"] == "t2"
    assert side["fractions_all"]["ferrite"] == pytest.approx(np.mean(r.labels == 0))
    n_idx = idx.sum()
    assert side["fractions_indexed"]["ferrite"] == pytest.approx(np.count_nonzero(idx & (r.labels == 0)) / n_idx)


def test_preview_png(tmp_path):
    from PIL import Image

    res = CliRunner().invoke(app, ["synth", str(tmp_path), "--size", "40x56", "--preview", "--seed", "2"])
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "synth_t2_0002.preview.png") as im:
        assert im.size[0] > 4 * im.size[1] / 2  # four panels side by side


def test_example_map_reads_and_labels_align():
    example = DATA / "example_t2.ebsd.h5"
    m = ebsdphase.read_map(example)
    labels = read_labels(DATA / "example_t2.labels.png", m.shape)
    side = json.loads((DATA / "example_t2.json").read_text())
    assert side["preset"] == "t2" and list(m.shape) == side["shape"]
    assert example.stat().st_size < 1_000_000
    # regenerating from the sidecar gives the same labels and orientations
    again, truth = generate(side["preset"], side["seed"], tuple(side["shape"]), side["step_um"])
    assert np.array_equal(labels, truth)
    assert np.array_equal(m.phase_id, again.phase_id)
    idx = m.indexed
    # the native format is exact: same orientations bit for bit
    assert np.array_equal(m.quaternions[idx], again.quaternions[idx])


# -- the random preset: the maps users have ---------------------------------------------------
def test_random_preset_draws_per_seed_and_covers_single_phase_edax_and_cleaned_maps():
    from ebsdphase.synth.presets import RANDOM_STEPS, random_preset

    draws = [random_preset(s) for s in range(200)]
    assert random_preset(7) == random_preset(7)
    fr = np.array([p.ferrite_fraction for p in draws])
    assert (fr == 0).sum() >= 8 and (fr == 1).sum() >= 8 and ((fr > 0.2) & (fr < 0.8)).sum() >= 80
    steps = np.array([p.step_um for p in draws])
    assert RANDOM_STEPS[0] <= steps.min() < 0.07 and 0.4 < steps.max() <= RANDOM_STEPS[1]
    assert 60 <= sum(p.vendor == "edax" for p in draws) <= 140
    assert sum(p.cleaned for p in draws) >= 30 and sum(p.ferrite_cells_deg > 0 for p in draws) >= 50
    ni = np.array([p.nonindexed_fraction[0] for p in draws])
    assert ni.min() < 0.03 and 0.27 < ni.max() <= 0.3


def test_single_phase_edax_and_cleaned_maps_are_what_they_say():
    import dataclasses

    from ebsdphase.synth.presets import PRESETS

    base = PRESETS["t2"]
    for frac in (0.0, 1.0):
        r = synthesize(dataclasses.replace(base, ferrite_fraction=frac), 3, (80, 96), 0.2)
        assert np.all(r.labels == (0 if frac == 1.0 else 1))
    r = synthesize(dataclasses.replace(base, vendor="edax", cleaned=True), 4, (80, 96), 0.1)
    assert set(r.map.channels) == {"iq", "ci", "fit"}
    assert r.map.indexed.all() and r.info["indexed_before_cleaning"] < 0.95
    # cleaning copies the nearest indexed orientation: every pixel has a unit quaternion
    np.testing.assert_allclose(np.linalg.norm(r.map.quaternions, axis=-1), 1.0, atol=1e-5)


def test_synth_cli_random_writes_ctf_and_ebsd_h5(tmp_path):
    from typer.testing import CliRunner

    from ebsdphase.cli.main import app
    from ebsdphase.io import read_map

    r = CliRunner().invoke(app, ["synth", str(tmp_path), "--preset", "random", "--count", "2", "--seed", "0",
                                 "--size", "48x64", "--ferrite", "0.5"])
    assert r.exit_code == 0, r.output
    maps = sorted(tmp_path.glob("synth_random_000[01].*"))
    maps = [m for m in maps if m.suffix in (".ctf", ".h5")]
    assert len(maps) == 2
    for m in maps:
        e = read_map(m)
        assert ("bs" in e.channels) == (m.suffix == ".ctf") and ("iq" in e.channels) == (m.suffix == ".h5")
    bad = CliRunner().invoke(app, ["synth", str(tmp_path), "--vendor", "bruker"])
    assert bad.exit_code == 2 and "oxford or edax" in bad.output


@pytest.mark.parametrize("option, field", [("--tempered", "tempered_fraction"), ("--ferrite", "ferrite_fraction")])
def test_synth_range_options_draw_per_map_and_leave_the_other_draws_alone(tmp_path, option, field):
    import json

    from typer.testing import CliRunner

    from ebsdphase.cli.main import app

    def params(folder, *extra):
        r = CliRunner().invoke(app, ["synth", str(folder), "--preset", "random", "--count", "3", "--seed", "20",
                                     "--size", "40x48", *extra])
        assert r.exit_code == 0, r.output
        return [json.loads(p.read_text())["parameters"] for p in sorted(folder.glob("synth_random_????.json"))]

    plain = params(tmp_path / "plain")
    wide = params(tmp_path / "wide", option, "0.2-0.3")
    fixed = params(tmp_path / "fixed", option, "0.25")
    drawn = [w[field] for w in wide]
    assert all(0.2 <= t <= 0.3 for t in drawn) and len(set(drawn)) == 3
    assert all(f[field] == 0.25 for f in fixed)
    for p, w in zip(plain, wide):
        # the preset's other draws (step, vendor, ...) are those of the seed without it
        assert {k: v for k, v in p.items() if k != field} == {k: v for k, v in w.items() if k != field}
    again = params(tmp_path / "again", option, "0.2-0.3")
    assert [a[field] for a in again] == drawn
    for text in ("0.3-0.2", "1.5", "a-b"):
        bad = CliRunner().invoke(app, ["synth", str(tmp_path / "bad"), option, text])
        assert bad.exit_code == 2 and f"{option} must be" in bad.output, bad.output
