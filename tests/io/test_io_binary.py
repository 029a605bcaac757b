"""Binary and HDF5 readers (.cpr/.crc, .osc, .h5oina, EDAX .h5, Bruker .h5) on the real
files in ../shared/data, the hex -> square rule, and bad input."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation
from typer.testing import CliRunner

from ebsdphase import read_map
from ebsdphase.cli.main import app
from ebsdphase.core.errors import EbsdphaseWarning, MapReadError
from ebsdphase.io import _grid
from conftest import SHARED_DATA, shared_file

CPR = ("defdap_ni_cpr", "testDataEBSD.cpr")
CRC = ("defdap_ni_cpr", "testDataEBSD.crc")
OSC = ("ebsdlab_copper_osc_hex", "EBSD.osc")
ANG = ("ebsdlab_copper_osc_hex", "EBSD.ang")
EDAX_H5 = ("edax_h5_nickel", "EdaxAngOnly.h5")
KIKU = "kikuchipy_structure"

#: the DefDAP .crc record as its .cpr [Fields] 3,4,5,6,7,8,10,11,12 describe it
CRC_RECORD = np.dtype([("phase", "u1"), ("phi1", "<f4"), ("Phi", "<f4"), ("phi2", "<f4"),
                       ("mad", "<f4"), ("bc", "u1"), ("bs", "u1"), ("bands", "u1"),
                       ("error", "u1"), ("ri", "<i4")])


def reference_quats(euler: np.ndarray, degrees: bool = False) -> np.ndarray:
    """(w, x, y, z) from scipy: the inverse of the active ZXZ rotation."""
    e = np.asarray(euler, np.float64).reshape(-1, 3)
    q = Rotation.from_euler("ZXZ", e, degrees=degrees).inv().as_quat()
    return np.concatenate([q[:, 3:], q[:, :3]], axis=1)


def assert_quats_match(ours: np.ndarray, euler: np.ndarray, degrees: bool = False) -> None:
    ours = np.asarray(ours, np.float64).reshape(-1, 4)
    ref = reference_quats(euler, degrees)
    sign = np.where(np.sum(ours * ref, axis=1) < 0, -1.0, 1.0)[:, None]
    np.testing.assert_allclose(ours, sign * ref, atol=1e-6)


# -- the real files: shapes, steps, phases, channels, orientations ----------------------------

def test_cpr_defdap_nickel():
    ebsd = read_map(shared_file(*CPR))
    raw = np.fromfile(shared_file(*CRC), CRC_RECORD)
    assert ebsd.format == "cpr"
    assert ebsd.shape == (243, 359)
    assert ebsd.step == pytest.approx((0.12, 0.12))
    assert raw.size == 243 * 359
    assert set(ebsd.channels) == {"mad", "bc", "bs", "bands", "error"}
    assert ebsd.phases[1].name == "Ni-superalloy" and ebsd.phases[1].laue == "m-3m"
    assert ebsd.phases[1].lattice == pytest.approx((3.57, 3.57, 3.57, 90, 90, 90))
    ids, counts = np.unique(raw["phase"], return_counts=True)
    assert ebsd.phase_counts() == {int(i): int(c) for i, c in zip(ids, counts)} == {1: 87237}
    for name in ("mad", "bc", "bs", "bands", "error"):
        np.testing.assert_array_equal(ebsd.channels[name].ravel(), raw[name].astype(np.float32))
    euler = np.stack([raw["phi1"], raw["Phi"], raw["phi2"]], -1)
    assert_quats_match(ebsd.quaternions, euler)


def test_crc_path_reads_the_same_pair():
    a, b = read_map(shared_file(*CPR)), read_map(shared_file(*CRC))
    np.testing.assert_array_equal(a.quaternions, b.quaternions)
    np.testing.assert_array_equal(a.phase_id, b.phase_id)


def _osc_points(path: Path):
    """The copper .osc read by hand: steps and (n, 10) float32 records."""
    raw = path.read_bytes()
    n = int(np.frombuffer(raw, "<u4", 8)[6])
    off = raw.find(bytes.fromhex("B90BEFFF02000000")) + 8
    assert off + 8 + n * 40 == len(raw)  # this file: no extra field, 10 columns
    xstep, ystep = np.frombuffer(raw, "<f4", 2, off)
    return float(xstep), float(ystep), np.frombuffer(raw, "<f4", n * 10, off + 8).reshape(n, 10)


def _expected_hex_index(x, y, xstep, ystep):
    """The documented rule, written plainly: same row, nearest x, ties to the smaller x."""
    rows = np.rint((y - y.min()) / ystep).astype(int)
    ncols = np.bincount(rows).max()
    out = np.full((rows.max() + 1, ncols), -1)
    xj = x.min() + np.arange(ncols) * xstep
    for r in range(rows.max() + 1):
        members = np.flatnonzero(rows == r)
        members = members[np.argsort(x[members], kind="stable")]
        dist = np.round(np.abs(x[members][None, :] - xj[:, None]) / xstep, 4)
        out[r] = members[np.argmin(dist, axis=1)]  # argmin: first (leftmost) of equal ones
    return out


def test_osc_copper_hex_grid_resampled_by_the_rule():
    path = shared_file(*OSC)
    xstep, ystep, pts = _osc_points(path)
    with pytest.warns(EbsdphaseWarning, match="hexagonal grid resampled"):
        ebsd = read_map(path)
    assert ebsd.format == "osc"
    assert pts.shape[0] == 23909
    assert ebsd.shape == (231, 104)
    assert ebsd.step == pytest.approx((0.2, 0.1732), rel=1e-3)
    assert set(ebsd.channels) == {"iq", "ci", "sem", "fit"}
    assert [p.laue for p in ebsd.phases.values()] == ["m-3m"]

    index = _expected_hex_index(pts[:, 3].astype(float), pts[:, 4].astype(float), xstep, ystep)
    src = pts[index.ravel()]
    no_solution = np.any(src[:, :3] > 2 * np.pi, axis=1) | (src[:, 6] < 0)
    assert no_solution.sum() > 0
    np.testing.assert_array_equal(ebsd.indexed.ravel(), ~no_solution)
    np.testing.assert_array_equal(ebsd.channels["iq"].ravel(), src[:, 5])
    np.testing.assert_array_equal(ebsd.channels["ci"].ravel(), src[:, 6])
    assert_quats_match(ebsd.quaternions.reshape(-1, 4)[~no_solution], src[~no_solution, :3])
    assert not ebsd.quaternions.reshape(-1, 4)[no_solution].any()


def test_osc_and_ang_copies_give_the_same_map():
    pytest.importorskip("ebsdphase.io.ang", reason="the .ang reader is not written yet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EbsdphaseWarning)
        osc = read_map(shared_file(*OSC))
        ang = read_map(shared_file(*ANG))
    assert osc.shape == ang.shape
    assert osc.step == pytest.approx(ang.step, rel=1e-4)
    np.testing.assert_array_equal(osc.indexed, ang.indexed)
    # the .ang prints Euler angles with 5 decimals
    q1, q2 = osc.quaternions.reshape(-1, 4), ang.quaternions.reshape(-1, 4)
    sign = np.where(np.sum(q1 * q2, axis=1) < 0, -1.0, 1.0)[:, None]  # q and -q: same rotation
    np.testing.assert_allclose(q1, sign * q2, atol=2e-5)
    ci_o, ci_a = osc.channels["ci"], ang.channels["ci"]
    differ = ~np.isclose(ci_o, ci_a, atol=1e-6)
    assert np.all(ci_o[differ] == -1) and np.all(ci_a[differ] == 0)   # README: only CI differs
    np.testing.assert_allclose(osc.channels["iq"], ang.channels["iq"], atol=1e-3)


def test_osc_orientations_match_the_numbers_of_its_ang_copy():
    """Independent of the .ang reader: the .ang's own numbers, placed by the same rule."""
    xstep, ystep, pts = _osc_points(shared_file(*OSC))
    ang = np.loadtxt(shared_file(*ANG), comments="#")
    assert ang.shape == (pts.shape[0], 10)
    index = _expected_hex_index(ang[:, 3], ang[:, 4], xstep, ystep)
    with pytest.warns(EbsdphaseWarning):
        osc = read_map(shared_file(*OSC))
    src = ang[index.ravel()]
    no_solution = np.any(src[:, :3] > 2 * np.pi, axis=1)
    np.testing.assert_array_equal(osc.indexed.ravel(), ~no_solution)
    q = osc.quaternions.reshape(-1, 4)[~no_solution]
    ref = reference_quats(src[~no_solution, :3])
    sign = np.where(np.sum(q * ref, axis=1) < 0, -1.0, 1.0)[:, None]
    np.testing.assert_allclose(q, sign * ref, atol=2e-5)  # 5 printed decimals
    ci = osc.channels["ci"].ravel()
    same = np.isclose(ci, src[:, 6], atol=1e-6)
    assert np.all(same | ((ci == -1) & (src[:, 6] == 0)))  # README: only CI differs
    assert (~same).sum() > 0


def test_edax_h5_nickel():
    path = shared_file(*EDAX_H5)
    ebsd = read_map(path)
    with h5py.File(path) as f:
        d = f["Scan_1/EBSD/Data"]
        euler = np.stack([d["Phi1"][()], d["Phi"][()], d["Phi2"][()]], -1)
        ci = d["CI"][()]
    assert ebsd.format == "edax-h5"
    assert ebsd.shape == (151, 186)
    assert ebsd.step == pytest.approx((1.5, 1.5))
    assert {p.name for p in ebsd.phases.values()} == {"Nickel"}
    assert ebsd.phases[1].laue == "m-3m"
    assert ebsd.phase_counts() == {1: 151 * 186}
    assert set(ebsd.channels) == {"iq", "ci", "fit", "sem", "prias_bottom", "prias_center", "prias_top"}
    np.testing.assert_array_equal(ebsd.channels["ci"], ci.reshape(151, 186))
    assert_quats_match(ebsd.quaternions, euler)


@pytest.mark.parametrize("name, fmt, channels", [
    ("oxford_patterns.h5oina", "h5oina", {"bc", "bs", "bands", "error", "mad", "pq"}),
    ("edax_patterns.h5", "edax-h5", {"iq", "ci", "fit", "sem", "prias_bottom", "prias_center",
                                     "prias_top"}),
    ("bruker_patterns.h5", "bruker-h5", {"mad", "bands", "radon_quality", "radon_band_count"}),
])
def test_kikuchipy_placeholders_load_with_their_dummy_values(name, fmt, channels):
    path = shared_file(KIKU, name)
    ebsd = read_map(path)
    assert ebsd.format == fmt
    assert ebsd.shape == (3, 3)
    assert ebsd.step == pytest.approx((1.5, 1.5))
    assert ebsd.phase_counts() == {1: 9}
    assert set(ebsd.channels) == channels
    with h5py.File(path) as f:
        if fmt == "h5oina":
            d = f["1/EBSD/Data"]
            assert_quats_match(ebsd.quaternions, d["Euler"][()])
            np.testing.assert_array_equal(ebsd.channels["bc"].ravel(), d["Band Contrast"][()])
            # h5oina stores MAD in radians (specification); the mad channel is in degrees
            np.testing.assert_allclose(ebsd.channels["mad"].ravel(),
                                       np.degrees(d["Mean Angular Deviation"][()]), rtol=1e-6)
        elif fmt == "edax-h5":
            d = f["Scan 1/EBSD/Data"]
            assert_quats_match(ebsd.quaternions, np.stack([d["Phi1"][()], d["Phi"][()], d["Phi2"][()]], -1))
            np.testing.assert_array_equal(ebsd.channels["iq"].ravel(), d["IQ"][()])
            assert ebsd.phases[1].name == "Nickel"
        else:
            d = f["Scan 0/EBSD/Data"]
            euler_deg = np.stack([d["phi1"][()], d["PHI"][()], d["phi2"][()]], -1)
            assert_quats_match(ebsd.quaternions, euler_deg, degrees=True)
            assert ebsd.phases[1].name == "Nickel"
            assert (ebsd.phases[1].laue, ebsd.phases[1].space_group) == ("m-3m", 225)


def test_h5oina_phase_table_and_pixels_outside_the_area(tmp_path):
    path = tmp_path / "two.h5oina"
    euler = np.random.default_rng(5).uniform(0, 3, (6, 3)).astype(np.float32)
    euler[4] = np.nan  # the specification: NaN outside an irregular acquisition area
    with h5py.File(path, "w") as f:
        f["Format Version"], f["Index"] = np.array([b"5.0"]), np.array([b"1"])
        d, h = f.create_group("1/EBSD/Data"), f.create_group("1/EBSD/Header")
        d["Euler"], d["Phase"] = euler, np.array([0, 1, 2, 1, 2, 0], np.uint8)
        d["Mean Angular Deviation"] = np.full(6, np.radians(0.5), np.float32)
        h["X Cells"], h["Y Cells"] = np.int32(3), np.int32(2)
        h["X Step"], h["Y Step"] = np.float32(0.5), np.float32(0.25)
        for i, (name, laue, dims, angles) in enumerate(
                [("Iron bcc", 11, [2.87] * 3, [90, 90, 90]), ("Ti", 9, [2.95, 2.95, 4.68], [90, 90, 120])], 1):
            g = h.create_group(f"Phases/{i}")
            g["Phase Name"], g["Laue Group"] = np.array([name.encode()]), np.int32(laue)
            g["Lattice Dimensions"] = np.array([dims], np.float32)
            g["Lattice Angles"] = np.radians(np.array([angles], np.float32))
    ebsd = read_map(path)
    assert ebsd.shape == (2, 3) and ebsd.step == pytest.approx((0.5, 0.25))
    assert [(p.name, p.laue) for p in ebsd.phases.values()] == [("Iron bcc", "m-3m"), ("Ti", "6/mmm")]
    assert ebsd.phases[2].lattice == pytest.approx((2.95, 2.95, 4.68, 90, 90, 120), abs=1e-4)
    assert ebsd.phase_id.ravel().tolist() == [0, 1, 2, 1, 0, 0]
    np.testing.assert_allclose(ebsd.channels["mad"], 0.5, rtol=1e-5)
    ok = ebsd.indexed.ravel()
    assert_quats_match(ebsd.quaternions.reshape(-1, 4)[ok], euler[ok])


# -- EDAX invalid points and hex grids in HDF5 (synthetic files) ------------------------------

def _write_edax_h5(path: Path, x, y, euler, ci, grid="SqrGrid", rows=2, cols=3, step=(1.0, 1.0)):
    with h5py.File(path, "w") as f:
        f[" Manufacturer"] = np.array([b"EDAX"])
        d = f.create_group("Scan 1/EBSD/Data")
        h = f.create_group("Scan 1/EBSD/Header")
        for k, v in (("Phi1", euler[:, 0]), ("Phi", euler[:, 1]), ("Phi2", euler[:, 2]),
                     ("X Position", x), ("Y Position", y), ("CI", ci), ("IQ", ci * 100)):
            d[k] = np.asarray(v, np.float32)
        d["Phase"] = np.zeros(len(x), np.int8)
        h["nColumns"], h["nRows"] = np.array([cols], np.int32), np.array([rows], np.int32)
        h["Step X"], h["Step Y"] = np.array([step[0]], np.float32), np.array([step[1]], np.float32)
        h["Grid Type"] = np.array([grid.encode()])
        p = h.create_group("Phase/1")
        p["MaterialName"] = np.array([b"Iron"])
        p["Symmetry"] = np.array([43], np.int32)


def test_edax_h5_invalid_points_are_not_indexed(tmp_path):
    rng = np.random.default_rng(3)
    x = np.tile([0.0, 1.0, 2.0], 2)
    y = np.repeat([0.0, 1.0], 3)
    x[[1, 4]] = y[[1, 4]] = -1111111.0
    euler = rng.uniform(0, 3, (6, 3))
    euler[5] = 4 * np.pi  # EDAX "no solution"
    _write_edax_h5(tmp_path / "scan.h5", x, y, euler, np.full(6, 0.5))
    ebsd = read_map(tmp_path / "scan.h5")
    assert ebsd.shape == (2, 3)
    np.testing.assert_array_equal(ebsd.indexed.ravel(), [True, False, True, True, False, False])
    assert ebsd.phases[1].name == "Iron"
    ok = ebsd.indexed.ravel()
    assert_quats_match(ebsd.quaternions.reshape(-1, 4)[ok], euler[ok])


def test_edax_h5_hex_grid_uses_the_shared_rule(tmp_path):
    xs, ys, s = [], [], np.sqrt(3) / 2
    for r in range(4):
        n = 4 if r % 2 == 0 else 3
        xs += [c + (0.5 if r % 2 else 0.0) for c in range(n)]
        ys += [r * s] * n
    x, y = np.array(xs), np.array(ys)
    euler = np.random.default_rng(4).uniform(0, 3, (x.size, 3))
    _write_edax_h5(tmp_path / "hex.oh5", x, y, euler, np.ones(x.size), grid="HexGrid",
                   rows=4, cols=4, step=(1.0, s))
    with pytest.warns(EbsdphaseWarning):
        ebsd = read_map(tmp_path / "hex.oh5")
    index = _expected_hex_index(x, y, 1.0, s)
    assert ebsd.shape == index.shape == (4, 4)
    # first row unchanged; in shifted rows pixel 0 takes the point at 0.5, later ties go left
    assert index[1].tolist() == [4, 4, 5, 6]
    assert_quats_match(ebsd.quaternions, euler[index.ravel()])


def test_grid_helpers():
    x = np.array([0.0, 0.5, 1.0, 0.0, 1.0])
    y = np.array([0.0, 0.0, 0.0, 0.5, 0.5])
    idx = _grid.square_index(x, y, 0.5, 0.5)
    assert idx.tolist() == [[0, 1, 2], [3, -1, 4]]
    assert not _grid.is_hex_grid(x, y, 0.5, 0.5)
    with pytest.raises(ValueError, match="scattered"):
        _grid.square_index(np.array([0.0, 1000.0]), np.array([0.0, 1000.0]), 0.1, 0.1)
    with pytest.raises(ValueError, match="finite"):
        _grid.hex_to_square_index(np.array([0.0, np.nan]), np.array([0.0, 1.0]), 1.0, 1.0)


# -- bad input ------------------------------------------------------------------------------

def _one_line_cli_error(path: Path) -> str:
    res = CliRunner().invoke(app, ["info", str(path)])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    return lines[0]


def test_missing_crc_names_both_files(tmp_path):
    cpr = tmp_path / "map.cpr"
    shutil.copy(shared_file(*CPR), cpr)
    with pytest.raises(MapReadError) as err:
        read_map(cpr)
    assert "map.cpr" in str(err.value) and "map.crc" in str(err.value)
    line = _one_line_cli_error(cpr)
    assert "map.crc" in line


def test_truncated_crc_is_a_clear_error(tmp_path):
    shutil.copy(shared_file(*CPR), tmp_path / "map.cpr")
    data = shared_file(*CRC).read_bytes()
    (tmp_path / "map.crc").write_bytes(data[: len(data) - 1000])
    with pytest.raises(MapReadError, match="truncated") as err:
        read_map(tmp_path / "map.cpr")
    assert "map.crc" in str(err.value) and "2,180,925" in str(err.value)
    assert "truncated" in _one_line_cli_error(tmp_path / "map.cpr")


def test_crc_field_list_that_does_not_fit(tmp_path):
    text = shared_file(*CPR).read_text().replace("Field9=12", "Field9=7")
    (tmp_path / "m.cpr").write_text(text)
    shutil.copy(shared_file(*CRC), tmp_path / "m.crc")
    with pytest.raises(MapReadError, match="more than once"):
        read_map(tmp_path / "m.cpr")
    (tmp_path / "m.cpr").write_text(text.replace("Field9=7", "Field9=55"))
    with pytest.raises(MapReadError, match="unknown field id"):
        read_map(tmp_path / "m.cpr")


def test_h5_that_is_not_an_ebsd_map(tmp_path):
    path = tmp_path / "image.h5"
    with h5py.File(path, "w") as f:
        f["pixels"] = np.zeros((4, 4))
    with pytest.raises(MapReadError, match="image.h5"):
        read_map(path)
    _one_line_cli_error(path)
    bad = tmp_path / "text.h5"
    bad.write_text("not hdf5 at all")
    with pytest.raises(MapReadError, match="text.h5"):
        read_map(bad)


@pytest.mark.parametrize("name", ["a.cpr", "a.crc", "a.osc", "a.h5oina", "a.h5", "a.oh5"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(MapReadError, match=name.replace(".", r"\.")):
        read_map(path)
    _one_line_cli_error(path)


@pytest.mark.parametrize("name", ["a.osc", "a.h5oina", "a.oh5", "a.cpr"])
def test_garbage_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(bytes(range(256)) * 4)
    if name == "a.cpr":
        (tmp_path / "a.crc").write_bytes(b"\0" * 10)
    with pytest.raises(MapReadError, match=name.replace(".", r"\.")):
        read_map(path)


# -- mangled copies: a clean error or a valid map, never another exception -------------------

def _check_mangled(path: Path) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EbsdphaseWarning)
            ebsd = read_map(path)
    except MapReadError as exc:
        assert path.name in str(exc)
        return
    q = ebsd.quaternions
    assert np.all(np.isfinite(q))
    norms = np.linalg.norm(q, axis=-1)
    np.testing.assert_allclose(norms[ebsd.indexed], 1.0, atol=1e-5)
    assert not q[~ebsd.indexed].any()
    assert set(np.unique(ebsd.phase_id)) <= {0, *ebsd.phases}


_MANGLE = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0.0, 0.9999)),
    st.tuples(st.just("overwrite"),
              st.lists(st.tuples(st.floats(0.0, 0.9999), st.binary(min_size=1, max_size=8)),
                       min_size=1, max_size=6)),
)


def _mangle(data: bytes, how) -> bytes:
    kind, arg = how
    if kind == "truncate":
        return data[: int(arg * len(data))]
    buf = bytearray(data)
    for where, chunk in arg:
        i = int(where * len(buf))
        buf[i:i + len(chunk)] = chunk
    return bytes(buf[: len(data)])


@pytest.mark.skipif(not (SHARED_DATA / CRC[0]).is_dir(), reason="real test maps not found")
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(how=_MANGLE, header_too=st.booleans())
def test_mangled_cpr_crc(how, header_too):
    cpr_text = (SHARED_DATA / CPR[0] / CPR[1]).read_bytes()
    crc = (SHARED_DATA / CRC[0] / CRC[1]).read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "m.cpr").write_bytes(_mangle(cpr_text, how) if header_too else cpr_text)
        (d / "m.crc").write_bytes(crc if header_too else _mangle(crc, how))
        _check_mangled(d / "m.cpr")


@pytest.mark.skipif(not (SHARED_DATA / OSC[0]).is_dir(), reason="real test maps not found")
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(how=_MANGLE)
def test_mangled_osc(how):
    data = (SHARED_DATA / OSC[0] / OSC[1]).read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.osc"
        path.write_bytes(_mangle(data, how))
        _check_mangled(path)


@pytest.mark.skipif(not (SHARED_DATA / KIKU).is_dir(), reason="real test maps not found")
@pytest.mark.parametrize("name", ["oxford_patterns.h5oina", "bruker_patterns.h5"])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(how=_MANGLE)
# found by hypothesis: four zero bytes turn EBSD/Data/Euler of the .h5oina into a named datatype
@example(how=("overwrite", [(0.19443865285803358, b"\x00\x00\x00\x00")]))
def test_mangled_hdf5(name, how):
    data = (SHARED_DATA / KIKU / name).read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"m{Path(name).suffix}"
        path.write_bytes(_mangle(data, how))
        _check_mangled(path)
