"""A real client reads the .ctf files ebsdphase writes: orix (>= 0.15, ``orix.io.load``).

The .ctf writer promises files that MTEX, AZtecCrystal and orix read (see
:mod:`ebsdphase.io.ctf`), and ``predict --ctf`` hands its ``.phases.ctf`` to exactly those
programs. Our own reader reading our own writer cannot catch a convention shared by both
(inverse rotations, Euler angles in the wrong order or unit, phases numbered from 0, a
column orix takes for another one), so these tests read the files with orix itself and
check, pixel by pixel, against the in-memory map:

* orientations: equal as rotations within 0.01 deg, with no crystal symmetry reduction;
* phase ids and phase names;
* non-indexed pixels: phase id -1 ("not_indexed") and ``is_indexed`` False in orix.

Convention. orix's ctf reader builds ``Rotation.from_euler(euler, degrees=True)`` with the
default ``direction="lab2crystal"``: the Bunge angles' passive rotation taking the sample
(lab) frame onto the crystal frame (Rowenhorst et al. 2015, P = +1; the orix docs: "The
former is the Bunge convention", MTEX's orientations being the inverse). EBSDMap's
quaternions are documented as exactly that sample -> crystal rotation
(:mod:`ebsdphase.core.euler`), so q_ours^-1 * q_orix must be the identity (up to
q ~ -q); no inverse is taken. A check that the inverse does *not* match shows the
comparison tells the two conventions apart.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest

orix = pytest.importorskip(
    "orix", minversion="0.15",
    reason="orix >= 0.15 is the client whose .ctf reading is checked here")
import orix.io as orix_io  # noqa: E402

from ebsdphase import EBSDMap, EbsdphaseWarning, Phase, read_map, write_map  # noqa: E402
from ebsdphase.core.classes import ClassSet  # noqa: E402
from ebsdphase.prediction.folder import CTF_SUFFIX, write_phase_ctf  # noqa: E402
from ebsdphase.prediction.result import from_probabilities  # noqa: E402
from ebsdphase.synth import synthesize  # noqa: E402
from conftest import shared_file  # noqa: E402

TRIP = ("trip_steel_ctf", "test_ctfFile.ctf")
TOL_DEG = 0.01
SHAPE = (64, 80)


# -- helpers ------------------------------------------------------------------------------

def _unit(q: np.ndarray) -> np.ndarray:
    """float64 unit quaternions (our float32 ones are unit only to ~1e-7, which would
    alone read as ~0.05 deg through an arccos of the dot product)."""
    q = np.asarray(q, dtype=np.float64)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def _qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b of (..., 4) quaternions (w, x, y, z), float64."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def _conj(q: np.ndarray) -> np.ndarray:
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def rotation_angle_deg(q_ours: np.ndarray, q_orix: np.ndarray) -> np.ndarray:
    """Angle (deg) of q_ours^-1 * q_orix per row; q and -q are the same rotation (abs of
    the scalar part), and atan2 keeps small angles exact where arccos(dot) would not."""
    d = _qmul(_conj(_unit(q_ours)), _unit(q_orix))
    return np.degrees(2.0 * np.arctan2(np.linalg.norm(d[:, 1:], axis=1), np.abs(d[:, 0])))


def load_orix(path: Path):
    xmap = orix_io.load(str(path))
    return xmap


def grid_index(xmap, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of each orix point, checked against the map's grid."""
    assert tuple(xmap.shape) == tuple(shape), f"orix grid {xmap.shape} != ours {shape}"
    assert xmap.size == shape[0] * shape[1]
    row = np.asarray(xmap.row, dtype=np.int64)
    col = np.asarray(xmap.col, dtype=np.int64)
    # every grid cell exactly once
    flat = row * shape[1] + col
    assert np.array_equal(np.sort(flat), np.arange(shape[0] * shape[1]))
    return row, col


def check_against_orix(path: Path, ours: EBSDMap, expected_id: np.ndarray | None = None,
                       expected_names: dict[int, str] | None = None) -> None:
    """orix's reading of ``path`` equals ``ours``: orientations (<= 0.01 deg, no symmetry),
    phase ids (``expected_id``, default ours), phase names (``expected_names``: orix id ->
    name, default ours) and non-indexed pixels."""
    xmap = load_orix(path)
    row, col = grid_index(xmap, ours.shape)
    if expected_id is None:
        expected_id = ours.phase_id
    if expected_names is None:
        expected_names = {i: p.name for i, p in ours.phases.items()}
    want_id = np.asarray(expected_id, dtype=np.int64)[row, col]
    ours_indexed = want_id > 0
    assert ours_indexed.any() and (~ours_indexed).any(), "the case must hold both kinds of pixel"

    # non-indexed pixels: phase -1 ("not_indexed") and not indexed; indexed ones indexed
    orix_id = np.asarray(xmap.phase_id, dtype=np.int64)
    is_indexed = np.asarray(xmap.is_indexed, dtype=bool)
    assert np.array_equal(is_indexed, ours_indexed), (
        f"{np.count_nonzero(is_indexed != ours_indexed)} pixels differ in indexed/non-indexed")
    assert np.all(orix_id[~ours_indexed] == -1)
    assert xmap.phases[-1].name == "not_indexed"

    # phase ids on indexed pixels
    bad = orix_id[ours_indexed] != want_id[ours_indexed]
    assert not bad.any(), (f"{np.count_nonzero(bad)} indexed pixels have another phase id in "
                           f"orix, e.g. ours {want_id[ours_indexed][bad][:5]} orix "
                           f"{orix_id[ours_indexed][bad][:5]}")

    # phase names of every phase present (orix keeps only the phases used in the data)
    orix_names = {int(i): p.name for i, p in xmap.phases if int(i) >= 0}
    used = sorted(int(i) for i in np.unique(want_id[ours_indexed]))
    assert sorted(orix_names) == used, f"orix phase ids {sorted(orix_names)}, ours {used}"
    want_names = {i: expected_names[i] for i in used}
    assert orix_names == want_names, f"orix phase names {orix_names}, ours {want_names}"

    # orientations: orix's rotations (lab2crystal) are ours, pixel by pixel
    q_orix = np.asarray(xmap.rotations.data, dtype=np.float64).reshape(-1, 4)
    assert q_orix.shape[0] == xmap.size
    q_ours = np.asarray(ours.quaternions, dtype=np.float64)[row, col]
    ang = rotation_angle_deg(q_ours[ours_indexed], q_orix[ours_indexed])
    worst = int(np.argmax(ang))
    assert ang.max() <= TOL_DEG, (
        f"orix's orientation differs by up to {ang.max():.4g} deg (pixel "
        f"{np.flatnonzero(ours_indexed)[worst]}: ours {q_ours[ours_indexed][worst]}, "
        f"orix {q_orix[ours_indexed][worst]})")
    # the comparison separates conventions: the inverse rotation (MTEX's crystal2lab) is
    # far off for almost every pixel
    inv = rotation_angle_deg(_conj(q_ours[ours_indexed]), q_orix[ours_indexed])
    assert np.mean(inv > 1.0) > 0.9


def quiet_write(ebsd: EBSDMap, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EbsdphaseWarning)  # dropped channels, if any
        write_map(ebsd, path)
    return path


# -- synthetic maps -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def synth_map() -> EBSDMap:
    m = synthesize("t2", seed=0, shape=SHAPE).map
    if m.indexed.all():  # make sure non-indexed pixels are written and read
        pid = m.phase_id.copy()
        pid[::7, ::5] = 0
        q = m.quaternions.copy()
        q[pid == 0] = 0.0
        m = dataclasses.replace(m, phase_id=pid, quaternions=q, cache={})
    assert 0 < m.indexed_fraction < 1
    return m


def _two_phases(m: EBSDMap, ids: tuple[int, int]) -> EBSDMap:
    """The map with its indexed pixels split between two phases with ids ``ids``."""
    rng = np.random.default_rng(1)
    pick = rng.integers(0, 2, m.shape)
    pid = np.where(m.indexed, np.asarray(ids)[pick], 0).astype(np.int16)
    phases = {ids[0]: Phase("Ferrite", "m-3m", (2.8665, 2.8665, 2.8665, 90, 90, 90), 229),
              ids[1]: Phase("Martensite", "m-3m", (2.87, 2.87, 2.87, 90, 90, 90), 229)}
    return dataclasses.replace(m, phase_id=pid, phases=phases, cache={})


@pytest.mark.parametrize("variant", ["as generated", "two phases", "phase ids 2 and 5"])
def test_orix_reads_written_synthetic_ctf(synth_map, variant, tmp_path):
    if variant == "as generated":
        m = synth_map
    elif variant == "two phases":
        m = _two_phases(synth_map, (1, 2))
    else:
        m = _two_phases(synth_map, (2, 5))
    path = quiet_write(m, tmp_path / "synth.ctf")
    if variant == "phase ids 2 and 5":
        # a .ctf numbers phases 1..N in header order; the writer documents renumbering the
        # map's ids in increasing order (2 -> 1, 5 -> 2)
        expected_id = np.select([m.phase_id == 2, m.phase_id == 5], [1, 2], 0)
        names = {1: "Ferrite", 2: "Martensite"}
        check_against_orix(path, m, expected_id, names)
    else:
        check_against_orix(path, m)


# -- the real TRIP steel map -------------------------------------------------------------

@pytest.mark.parametrize("which", ["rewritten by ebsdphase", "original file"])
def test_orix_reads_trip_steel_ctf(which, tmp_path):
    """The rewritten TRIP map (the writer); the original file too, which checks that our
    reader's orientations and phases are orix's on a real AZtec/HKL file."""
    src = shared_file(*TRIP)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EbsdphaseWarning)
        ours = read_map(src)
    assert ours.phase_counts() == {0: 1501, 1: 983, 2: 6168}
    path = src if which == "original file" else quiet_write(ours, tmp_path / "trip.ctf")
    check_against_orix(path, ours)


# -- predict --ctf ------------------------------------------------------------------------

@pytest.mark.parametrize("names", [("ferrite", "martensite"),
                                   ("ferrite", "bainite", "martensite")])
def test_orix_reads_predicted_phase_ctf(synth_map, names, tmp_path):
    """``write_phase_ctf`` (``predict --ctf``): one BCC iron phase per class, phase id =
    predicted class + 1 on indexed pixels, 0 (orix: -1) on non-indexed ones, the input's
    orientations unchanged. The prediction is random probabilities: no network needed."""
    rng = np.random.default_rng(2)
    probs = rng.dirichlet(np.ones(len(names)), size=SHAPE).astype(np.float32)
    pred = from_probabilities(probs, class_set=ClassSet(tuple(names)), model="random",
                              indexed=synth_map.indexed)
    assert set(np.unique(pred.classes[synth_map.indexed])) == set(range(len(names)))
    path = write_phase_ctf(tmp_path / f"synth{CTF_SUFFIX}", synth_map, pred)
    assert Path(path).name.endswith(".phases.ctf")
    expected_id = np.where(synth_map.indexed, pred.classes.astype(np.int64) + 1, 0)
    check_against_orix(Path(path), synth_map, expected_id,
                       {i + 1: n for i, n in enumerate(names)})
    # every class is BCC iron (Im-3m) in orix's phase list
    xmap = load_orix(Path(path))
    for i, phase in xmap.phases:
        if i >= 0:
            assert phase.space_group is not None and phase.space_group.number == 229
