"""Recipe version 2: KAM exact at small angles, old bundles unchanged, domain ranges."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_file
from ebsdphase.crystal import kam
from ebsdphase.crystal.quaternion import symmetry

DATA = Path(__file__).parent / "data"
EXAMPLE = Path(__file__).resolve().parents[1] / "ebsdphase" / "data" / "example_t2.ebsd.h5"


def kam_float64(q, phase, threshold=3.0):
    """Independent float64 KAM (3 x 3 ring): explicit loop over the 24 cubic operators and
    angle = 2 atan2(|v|, |w|), which keeps its precision at small angles."""
    q = np.asarray(q, np.float64)
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(n > 0, q / np.maximum(n, 1e-300), 0.0)
    ops = symmetry("m-3m")
    rows, cols = phase.shape
    total = np.zeros((rows, cols))
    count = np.zeros((rows, cols))
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di == 0 and dj == 0:
                continue
            here = (slice(max(0, -di), rows - max(0, di)), slice(max(0, -dj), cols - max(0, dj)))
            there = (slice(max(0, di), rows - max(0, -di)), slice(max(0, dj), cols - max(0, -dj)))
            a0, a1, a2, a3 = np.moveaxis(q[here], -1, 0)
            b0, b1, b2, b3 = np.moveaxis(q[there], -1, 0)
            m = (b0 * a0 + b1 * a1 + b2 * a2 + b3 * a3, -b0 * a1 + b1 * a0 - b2 * a3 + b3 * a2,
                 -b0 * a2 + b1 * a3 + b2 * a0 - b3 * a1, -b0 * a3 - b1 * a2 + b2 * a1 + b3 * a0)
            best = np.full(a0.shape, np.inf)
            for s0, s1, s2, s3 in ops:
                w = s0 * m[0] - s1 * m[1] - s2 * m[2] - s3 * m[3]
                x = s0 * m[1] + s1 * m[0] + s2 * m[3] - s3 * m[2]
                y = s0 * m[2] - s1 * m[3] + s2 * m[0] + s3 * m[1]
                z = s0 * m[3] + s1 * m[2] - s2 * m[1] + s3 * m[0]
                best = np.minimum(best, 2 * np.arctan2(np.sqrt(x * x + y * y + z * z), np.abs(w)))
            deg = np.degrees(best)
            ok = (phase[here] > 0) & (phase[there] == phase[here]) & (deg <= threshold)
            total[here] += np.where(ok, deg, 0.0)
            count[here] += ok
    out = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    out[phase <= 0] = 0.0
    return out


def _check_kam(m):
    ref = kam_float64(m.quaternions, m.phase_id)
    got = kam(m, 1, 3.0)
    err = np.abs(got.astype(np.float64) - ref)
    assert err.max() < 0.005, f"KAM off by {err.max():.4f} deg"
    return got, ref


def test_kam_matches_a_float64_reference_on_a_synthetic_map():
    from ebsdphase.synth import synthesize

    m = synthesize("t2", 3, (96, 128), 0.1).map
    got, ref = _check_kam(m)
    # small angles are the point: most pairs are well under a degree
    assert np.median(ref[m.indexed]) < 0.6


def test_kam_matches_a_float64_reference_on_real_ferrite_dc06():
    from ebsdphase.io import read_map

    m = read_map(shared_file("ferrite_dc06", "DC06_2uniax.ang"))
    got, ref = _check_kam(m)
    assert abs(float(ref[m.indexed].mean()) - 0.2224) < 0.002


# -- version-1 cards keep predicting exactly as 0.1.0 did ----------------------------------------

def test_old_recipe_bundle_predicts_as_it_did():
    """tests/data/v1-bs-kam was written by 0.1.0 (per-map z-score), with the inputs' sha256
    and the probabilities that version computed on the packaged example map."""
    from ebsdphase.prediction.engine import predict
    from ebsdphase.io import read_map
    from ebsdphase.models.bundle import load_bundle

    bundle = load_bundle(DATA / "v1-bs-kam")
    assert bundle.recipe.normalisation == "zscore-per-map" and bundle.recipe.version == 1
    ref = np.load(DATA / "v1-bs-kam" / "reference.npz")
    m = read_map(EXAMPLE)
    x = bundle.recipe.build(m)
    assert hashlib.sha256(x.tobytes()).hexdigest() == str(ref["inputs_sha256"])
    pred = predict(m, bundle)
    # same inputs, same weights: equal up to the CPU's float rounding in the convolutions
    np.testing.assert_allclose(pred.probabilities[..., 1], ref["probabilities"], atol=1e-5)
    sure = np.abs(ref["probabilities"] - 0.5) > 1e-3
    np.testing.assert_array_equal(pred.classes[sure], ref["classes"][sure])


# -- training ranges and the out-of-range warning ------------------------------------------------

def test_domain_ranges_and_outside():
    from ebsdphase.models import domain

    r = domain.ranges([{"step_um": 0.05, "indexed_fraction": 0.7}, {"step_um": 0.5, "indexed_fraction": 1.0}])
    assert r == {"indexed_fraction": [0.7, 1.0], "step_um": [0.05, 0.5]}
    assert domain.outside({"step_um": 0.3, "indexed_fraction": 0.9}, r) == []
    why = domain.outside({"step_um": 1.0, "indexed_fraction": 0.5}, r)
    assert len(why) == 2 and "step 1 um" in why[0] and "0.05-0.5" in why[0] and "50%" in why[1]
    assert domain.outside({"step_um": 1.0}, {}) == []  # old cards: nothing known, nothing said
    # a step just past the end is one the model never saw; measured statistics keep a margin
    assert "step 0.51 um" in domain.outside({"step_um": 0.51}, r)[0]
    assert domain.outside({"step_um": 0.5, "indexed_fraction": 0.68}, r) == []


def test_body_centred_iron_is_told_by_laue_name_cell_then_space_group():
    """Hand-worked phase tables as the readers give them (cells in angstrom)."""
    from ebsdphase.core.ebsdmap import Phase
    from ebsdphase.core.iron import is_bcc_iron

    cubic = (90.0, 90.0, 90.0)
    assert is_bcc_iron(Phase("Iron (Alpha)", "m-3m", (2.87, 2.87, 2.87) + cubic))
    assert is_bcc_iron(Phase("Fe Martensite", "4/mmm", (2.859, 2.859, 3.016) + cubic, 139))
    assert is_bcc_iron(Phase("Iron (Gamma)", "m-3m", (3.65, 3.65, 3.65) + cubic)) is False
    assert is_bcc_iron(Phase("Ni-superalloy", "m-3m", (3.57, 3.57, 3.57) + cubic, 225)) is False
    assert is_bcc_iron(Phase("Zirc-alloy4", "6/mmm", (3.231, 3.231, 5.148, 90, 90, 120))) is False
    assert is_bcc_iron(Phase("Iron (Alpha)", "m-3")) is False  # another Laue group: not this iron
    # a cell that says nothing but a name that does: a user-made bcc phase, a cell in nm
    assert is_bcc_iron(Phase("Body Centered Cubic", "m-3m", (5.0, 5.0, 5.0) + cubic))
    assert is_bcc_iron(Phase("Ferrite", "m-3m", (0.287, 0.287, 0.287) + cubic))
    assert is_bcc_iron(Phase("Molybdenum", "m-3m", (3.147, 3.147, 3.147) + cubic)) is False  # bcc, not iron
    # no cell: the space group, then the name; "phase 1" or a placeholder cell says nothing
    assert is_bcc_iron(Phase("x", "m-3m", space_group=229)) and is_bcc_iron(Phase("x", "m-3m", space_group=225)) is False
    assert is_bcc_iron(Phase("Martensite", "m-3m")) and is_bcc_iron(Phase("Fe", "m-3m"))
    assert is_bcc_iron(Phase("austenite", "m-3m")) is False and is_bcc_iron(Phase("Iron fcc", "m-3m")) is False
    assert is_bcc_iron(Phase("Alpha-Ti", "")) is False and is_bcc_iron(Phase("Fe3C", "")) is None
    assert is_bcc_iron(Phase("phase 1", "")) is None
    assert is_bcc_iron(Phase("void", "m-3m", (1.0, 1.0, 1.0) + cubic)) is None


def test_a_phase_the_ctf_writer_cannot_tell_does_not_come_back_as_another_phase(tmp_path):
    """The .ctf writer must invent a space group for a phase without one; it invents bcc
    iron's unless the phase is known to be something else, so reading its own file back
    does not turn a map of "phase 1" into 100 % "not body-centred iron"."""
    from ebsdphase.core.ebsdmap import Phase
    from ebsdphase.io import read_map, write_map
    from _tinymodel import blob_map
    from ebsdphase.models import domain

    m, _ = blob_map(5)
    m.phases = {1: Phase("phase 1", "m-3m")}
    write_map(m, tmp_path / "m.ctf")
    back = read_map(tmp_path / "m.ctf")
    assert domain.other_phases(back) == {}
    m.phases = {1: Phase("Nickel", "m-3m")}
    write_map(m, tmp_path / "ni.ctf")
    assert domain.other_phases(read_map(tmp_path / "ni.ctf")) == {"Nickel": 1.0}


def test_other_phases_are_a_measured_share_of_the_indexed_pixels():
    from ebsdphase.core.ebsdmap import EBSDMap, Phase
    from ebsdphase.features import ChannelRecipe
    from ebsdphase.models import domain

    phase_id = np.zeros((10, 10), np.int16)
    phase_id[:, :6] = 1  # 60 ferrite pixels
    phase_id[:, 6:9] = 2  # 30 austenite pixels; one column (10) not indexed
    q = np.zeros((10, 10, 4), np.float32)
    q[phase_id > 0, 0] = 1.0
    phases = {1: Phase("Iron (Alpha)", "m-3m", (2.87, 2.87, 2.87, 90, 90, 90)),
              2: Phase("Iron (Gamma)", "m-3m", (3.65, 3.65, 3.65, 90, 90, 90)),
              3: Phase("Copper", "m-3m", (3.61, 3.61, 3.61, 90, 90, 90))}  # in the table, on no pixel
    m = EBSDMap(quaternions=q, phase_id=phase_id, phases=phases, step=(0.1, 0.1))
    assert domain.other_phases(m) == {"Iron (Gamma)": pytest.approx(1 / 3)}
    m.phases = {2: phases[2]}  # an id on pixels but not in the table: said nothing of, iron
    assert domain.other_phases(m) == {"Iron (Gamma)": pytest.approx(1 / 3)}
    m.phases = phases
    stats = domain.map_stats(m, ChannelRecipe.parse("bs"))
    assert stats["other_phase_fraction"] == pytest.approx(1 / 3)
    why = domain.outside(stats, {"other_phase_fraction": [0.0, 0.0]}, {"other_phase_fraction": "Iron (Gamma)"})
    assert why == ["indexed pixels not body-centred iron 33% (Iron (Gamma)) (trained on 0% only)"]
    # a model trained on ferrite/austenite maps keeps its own range and is not warned
    assert domain.outside(stats, {"other_phase_fraction": [0.1, 0.5]}) == []


def test_prepare_records_ranges_and_train_copies_them_into_the_card(tmp_path):
    from ebsdphase.dataset.io import open_dataset
    from ebsdphase.dataset.prepare import prepare
    from ebsdphase.synth.generate import synth_maps

    maps = synth_maps(tmp_path / "maps", "t2", 1, 0, (96, 96), 0.2)
    maps += synth_maps(tmp_path / "maps", "t1", 1, 1, (96, 96), 0.1)
    s = prepare(maps, None, "kam", tmp_path / "ds.h5", augment=True, crop=32, val=0.0)
    r = s["training_ranges"]
    # the 2x coarser augmentations double the step: the model sees 0.1-0.4 um
    assert r["step_um"] == pytest.approx([0.1, 0.4])
    assert 0.0 < r["kam_mean_deg"][0] < r["kam_mean_deg"][1] < 3.0
    assert r["other_phase_fraction"] == [0.0, 0.0]  # synthetic maps are body-centred iron only
    with open_dataset(tmp_path / "ds.h5") as ds:
        assert ds.training_ranges == r
