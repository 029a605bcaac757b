"""Text map readers (.ctf, .ang, OIM grain file) and the .ctf writer, on the real files of
../shared/data and on mangled copies of small maps."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from ebsdphase import EBSDMap, EbsdphaseWarning, MapReadError, Phase, read_map, write_map
from ebsdphase.io import _text
from conftest import shared_file

TRIP = ("trip_steel_ctf", "test_ctfFile.ctf")
SDSS = ("sdss_ferrite_austenite", "sdss_ferrite_austenite.ang")
COPPER = ("ebsdlab_copper_osc_hex", "EBSD.ang")
HEX_SMALL = ("hex_small", "dummy.ang")
DC06 = ("ferrite_dc06", "DC06_2uniax.ang")
M1700 = ("martensite_m1700", "Arcelor_M1700_CROPPED_gf1.txt")
EDGE = "edge_cases_ebsdlib"


def quiet_read(path: Path) -> EBSDMap:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EbsdphaseWarning)
        return read_map(path)


def reference_quats(euler: np.ndarray, degrees: bool = False) -> np.ndarray:
    """(w, x, y, z) from scipy: the inverse of the active ZXZ rotation (independent code)."""
    q = Rotation.from_euler("ZXZ", np.asarray(euler, np.float64).reshape(-1, 3),
                            degrees=degrees).inv().as_quat()
    return np.concatenate([q[:, 3:], q[:, :3]], axis=1)


def assert_same_rotations(ours: np.ndarray, ref: np.ndarray, atol: float = 1e-6) -> None:
    ours = np.asarray(ours, np.float64).reshape(-1, 4)
    ref = np.asarray(ref, np.float64).reshape(-1, 4)
    sign = np.where(np.sum(ours * ref, axis=1) < 0, -1.0, 1.0)[:, None]  # q, -q: one rotation
    np.testing.assert_allclose(ours, sign * ref, atol=atol)


def ctf_table(path: Path) -> np.ndarray:
    """The data rows of a .ctf by numpy.loadtxt, after the 'Phase X Y ...' line."""
    lines = path.read_bytes().splitlines()
    skip = next(i for i, line in enumerate(lines) if line.startswith(b"Phase\t")) + 1
    return np.loadtxt(path, skiprows=skip, ndmin=2)


def square_cells(x: np.ndarray, y: np.ndarray, step: tuple[float, float]):
    return (np.rint((y - y.min()) / step[1]).astype(int),
            np.rint((x - x.min()) / step[0]).astype(int))


# -- Oxford .ctf --------------------------------------------------------------------------------

def test_ctf_trip_steel_matches_readme_and_scipy():
    path = shared_file(*TRIP)
    ebsd = read_map(path)
    assert ebsd.format == "ctf"
    assert ebsd.shape == (84, 103)
    assert ebsd.step == (0.2, 0.2)
    assert ebsd.phase_counts() == {0: 1501, 1: 983, 2: 6168}
    assert len(ebsd.phases) == 5  # the header lists 5 phases, the data uses 2
    assert ebsd.phases[2].name == "Iron Alpha PH"
    assert ebsd.phases[2].laue == "m-3m" and ebsd.phases[2].space_group == 229
    assert ebsd.phases[4].laue == "4/mmm"
    assert ebsd.phases[1].lattice[:3] == (3.5911, 3.5911, 3.5911)
    assert set(ebsd.channels) == {"bands", "error", "mad", "bc", "bs"}

    raw = ctf_table(path)
    r, c = square_cells(raw[:, 1], raw[:, 2], ebsd.step)
    np.testing.assert_array_equal(ebsd.phase_id[r, c], raw[:, 0])
    np.testing.assert_array_equal(ebsd.channels["bc"][r, c], raw[:, 9])
    np.testing.assert_allclose(ebsd.channels["mad"][r, c], raw[:, 8], rtol=1e-6)
    indexed = raw[:, 0] > 0
    assert_same_rotations(ebsd.quaternions[r, c][indexed],
                          reference_quats(raw[indexed, 5:8], degrees=True))
    assert not ebsd.quaternions[r, c][~indexed].any()  # not indexed: the zero quaternion


def test_ctf_decimal_commas_equal_the_us_file():
    eu = read_map(shared_file(EDGE, "Test_European_1.ctf"))
    us = read_map(shared_file(EDGE, "Test_US_1.ctf"))
    assert eu.shape == us.shape == (5, 40)
    assert eu.step == us.step == (0.5, 0.5)
    np.testing.assert_array_equal(eu.quaternions, us.quaternions)
    np.testing.assert_array_equal(eu.phase_id, us.phase_id)
    assert eu.phases == us.phases
    assert eu.phases[1].laue == "6/mmm" and eu.phases[1].lattice[2] == 5.148
    for name in us.channels:
        np.testing.assert_array_equal(eu.channels[name], us.channels[name])
    assert eu.metadata["decimal_comma"] and not us.metadata["decimal_comma"]


def _trip_text() -> str:
    return shared_file(*TRIP).read_bytes().decode("latin-1")


def test_ctf_header_size_mismatch_trusts_the_data(tmp_path):
    text = _trip_text().replace("YCells\t84", "YCells\t90").replace("XCells\t103", "XCells\t100")
    path = tmp_path / "mismatch.ctf"
    path.write_text(text, encoding="latin-1")
    with pytest.warns(EbsdphaseWarning, match="using the data"):
        ebsd = read_map(path)
    assert ebsd.shape == (84, 103)
    np.testing.assert_array_equal(ebsd.quaternions, quiet_read(shared_file(*TRIP)).quaternions)


def test_ctf_header_step_mismatch_trusts_the_data(tmp_path):
    path = tmp_path / "step.ctf"
    path.write_text(_trip_text().replace("XStep\t0.2", "XStep\t0.1"), encoding="latin-1")
    with pytest.warns(EbsdphaseWarning, match="header step 0.1 x 0.2 um does not match"):
        ebsd = read_map(path)
    assert ebsd.shape == (84, 103) and ebsd.step == (0.2, 0.2)


def test_ctf_rows_in_any_order_give_the_same_map(tmp_path):
    head, _, body = _trip_text().partition("BS\r\n")
    rows = body.splitlines(keepends=True)
    np.random.default_rng(3).shuffle(rows)
    path = tmp_path / "shuffled.ctf"
    path.write_text(head + "BS\r\n" + "".join(rows), encoding="latin-1")
    a, b = read_map(path), read_map(shared_file(*TRIP))
    np.testing.assert_array_equal(a.quaternions, b.quaternions)
    np.testing.assert_array_equal(a.channels["bs"], b.channels["bs"])


@pytest.mark.parametrize("mangle, message", [
    (lambda t: t[: t.rindex("\r\n", 0, len(t) - 40) + 9], "truncated"),   # mid-line
    (lambda t: t[: t.rindex("\r\n", 0, len(t) - 400) + 2], "truncated"),  # mid-row
    (lambda t: t.replace("\t6\t0\t15.380\t", "\t6\t0\tabc\t", 1), "line 20: non-numeric"),
    (lambda t: t.replace("2\t0.4000\t0.0000\t", "2\t0.4700\t0.0000\t", 1), "off the"),
])
def test_ctf_bad_data_is_one_clear_error(tmp_path, mangle, message):
    path = tmp_path / "bad.ctf"
    path.write_text(mangle(_trip_text()), encoding="latin-1")
    with pytest.raises(MapReadError, match=message) as exc:
        read_map(path)
    assert str(exc.value).startswith(str(path)) and "\n" not in str(exc.value)


# -- .ctf writer --------------------------------------------------------------------------------

def random_map(rows=6, cols=7, seed=0, step=(0.1, 0.1)) -> EBSDMap:
    rng = np.random.default_rng(seed)
    euler = rng.uniform(0, 1, (rows, cols, 3)) * [2 * np.pi, np.pi, 2 * np.pi]
    phase_id = rng.integers(0, 3, (rows, cols))
    phases = {1: Phase("Ferrite", "m-3m", (2.8665, 2.8665, 2.8665, 90, 90, 90)),
              2: Phase("Titanium", "6/mmm", (2.95, 2.95, 4.68, 90, 90, 120), 194)}
    channels = {"bc": rng.integers(0, 256, (rows, cols)), "bs": rng.integers(0, 256, (rows, cols)),
                "mad": np.round(rng.uniform(0, 2, (rows, cols)), 4),
                "bands": rng.integers(0, 12, (rows, cols)),
                "error": rng.integers(0, 5, (rows, cols))}
    return EBSDMap.from_euler(euler, phase_id, phases, step, channels)


def rotation_angles_deg(q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """Angle of q1^-1 q2 from its vector part (arccos of the dot product would turn float32
    rounding into hundredths of a degree)."""
    a = q1.reshape(-1, 4).astype(np.float64)
    b = q2.reshape(-1, 4).astype(np.float64)
    vec = a[:, :1] * b[:, 1:] - b[:, :1] * a[:, 1:] - np.cross(a[:, 1:], b[:, 1:])
    return np.degrees(2 * np.arcsin(np.clip(np.linalg.norm(vec, axis=1), 0, 1)))


@pytest.mark.parametrize("source", ["random", "trip"])
def test_ctf_write_read_round_trip(tmp_path, source):
    ebsd = random_map() if source == "random" else read_map(shared_file(*TRIP))
    path = tmp_path / "out.ctf"
    write_map(ebsd, path)
    back = read_map(path)
    assert back.shape == ebsd.shape and back.step == ebsd.step
    np.testing.assert_array_equal(back.phase_id, ebsd.phase_id)
    for pid, phase in ebsd.phases.items():
        assert back.phases[pid].name == phase.name and back.phases[pid].laue == phase.laue
        assert back.phases[pid].lattice == pytest.approx(phase.lattice)
    for name in ("bc", "bs", "bands", "error"):
        np.testing.assert_array_equal(back.channels[name], ebsd.channels[name])
    np.testing.assert_allclose(back.channels["mad"], ebsd.channels["mad"], atol=1e-4)
    ind = ebsd.indexed
    # Euler angles printed in degrees with 4 decimals: each within 5e-5 deg
    assert rotation_angles_deg(back.quaternions[ind], ebsd.quaternions[ind]).max() < 2e-4
    assert not back.quaternions[~ind].any()
    # a second round trip is exact: the file already holds the printed values
    again = tmp_path / "again.ctf"
    write_map(back, again)
    assert again.read_bytes().split(b"Euler3")[1] == path.read_bytes().split(b"Euler3")[1]


def test_ctf_written_file_follows_the_channel_text_layout(tmp_path):
    """What orix/MTEX rely on: the header keys, 'Phases N' + N phase lines + the column line,
    then rows numpy.loadtxt can read."""
    ebsd = random_map(4, 5)
    path = tmp_path / "map.ctf"
    write_map(ebsd, path)
    lines = path.read_text().splitlines()
    assert lines[0] == "Channel Text File"
    keys = dict(line.split("\t", 1) for line in lines[1:11])
    assert keys["JobMode"] == "Grid" and keys["XCells"] == "5" and keys["YCells"] == "4"
    assert float(keys["XStep"]) == 0.1 and float(keys["YStep"]) == 0.1
    assert lines[11].startswith("Euler angles refer to Sample Coordinate system (CS0)!\tMag\t")
    assert lines[12] == "Phases\t2"
    assert lines[13].split("\t")[:5] == ["2.8665;2.8665;2.8665", "90;90;90", "Ferrite", "11", "229"]
    assert lines[14].split("\t")[:5] == ["2.95;2.95;4.68", "90;90;120", "Titanium", "9", "194"]
    assert lines[15] == "\t".join(["Phase", "X", "Y", "Bands", "Error", "Euler1", "Euler2",
                                   "Euler3", "MAD", "BC", "BS"])
    table = np.loadtxt(path, skiprows=16)  # orix: data start = 'Phases' row + N + 2
    assert table.shape == (20, 11)
    np.testing.assert_allclose(table[:, 1], np.tile(np.arange(5) * 0.1, 4), atol=1e-9)
    ind = table[:, 0] > 0
    assert_same_rotations(ebsd.quaternions.reshape(-1, 4)[ind],
                          reference_quats(table[ind, 5:8], degrees=True), atol=2e-6)
    assert path.read_bytes().count(b"\r\n") == len(lines)  # CRLF, as Oxford writes


def test_ctf_writer_warns_about_channels_it_cannot_store(tmp_path):
    ebsd = quiet_read(shared_file(*SDSS))
    with pytest.warns(EbsdphaseWarning, match="ci, iq"):
        write_map(ebsd, tmp_path / "sdss.ctf")
    back = read_map(tmp_path / "sdss.ctf")
    assert back.phase_counts() == ebsd.phase_counts()
    assert [p.name for p in back.phases.values()] == [p.name for p in ebsd.phases.values()]


# -- EDAX .ang ----------------------------------------------------------------------------------

def ang_table(path: Path) -> np.ndarray:
    return np.loadtxt(path, comments="#", ndmin=2)


def edax_not_indexed(raw: np.ndarray) -> np.ndarray:
    return (raw[:, 6] < 0) | np.any(raw[:, :3] > 2 * np.pi + 1e-3, axis=1)


@pytest.mark.parametrize("parts, shape, step, counts, channels", [
    (SDSS, (100, 117), (1.5, 1.5), {1: 5657, 2: 6043}, {"iq", "ci"}),
    (DC06, (101, 51), (1.0, 1.0), None, {"iq", "ci", "sem", "fit"}),
    ((EDGE, "Test_1.ang"), (4, 40), (0.25, 0.25), None, {"iq", "ci", "sem", "fit"}),
])
def test_ang_square_grids_match_readme_and_scipy(parts, shape, step, counts, channels):
    path = shared_file(*parts)
    ebsd = read_map(path)
    assert ebsd.format == "ang"
    assert ebsd.shape == shape and ebsd.step == step
    assert set(ebsd.channels) == channels
    raw = ang_table(path)
    not_indexed = edax_not_indexed(raw)
    # phase 0 in a single-phase file is phase 1; multi-phase ids come from the file
    expected_phase = np.where(not_indexed, 0, np.maximum(raw[:, 7], 1))
    if counts is not None:
        assert ebsd.phase_counts() == counts
    ids, n = np.unique(expected_phase, return_counts=True)
    assert ebsd.phase_counts() == dict(zip(ids.astype(int).tolist(), n.tolist()))
    r, c = square_cells(raw[:, 3], raw[:, 4], step)
    np.testing.assert_array_equal(ebsd.phase_id[r, c], expected_phase)
    np.testing.assert_allclose(ebsd.channels["iq"][r, c], raw[:, 5], rtol=1e-6)
    assert_same_rotations(ebsd.quaternions[r, c][~not_indexed],
                          reference_quats(raw[~not_indexed, :3]))


def test_ang_two_phase_table():
    ebsd = read_map(shared_file(*SDSS))
    assert ebsd.phases[1].name == "austenite/austenite" and ebsd.phases[1].laue == "m-3m"
    assert ebsd.phases[2].name == "ferrite/ferrite"
    assert ebsd.phases[2].lattice == (2.867, 2.867, 2.867, 90.0, 90.0, 90.0)


def check_hex_rule(ebsd: EBSDMap, raw: np.ndarray) -> None:
    """Every hex point sits at its row's pixel; in shifted rows the pixel half a step to its
    right (ties go left), so column = ceil((x - x0) / xstep)."""
    sx, sy = ebsd.step
    r = np.rint((raw[:, 4] - raw[:, 4].min()) / sy).astype(int)
    c = np.ceil((raw[:, 3] - raw[:, 3].min()) / sx - 1e-6).astype(int)
    not_indexed = edax_not_indexed(raw)
    assert ebsd.shape == (r.max() + 1, c.max() + 1)
    np.testing.assert_allclose(ebsd.channels["iq"][r, c], raw[:, 5], rtol=1e-6)
    assert (ebsd.phase_id[r, c] == 0).sum() == not_indexed.sum()
    assert_same_rotations(ebsd.quaternions[r, c][~not_indexed],
                          reference_quats(raw[~not_indexed, :3]))


def test_ang_hexagonal_copper_without_step_header():
    path = shared_file(*COPPER)
    with pytest.warns(EbsdphaseWarning, match="hexagonal"):
        ebsd = read_map(path)
    assert ebsd.shape == (231, 104)
    assert ebsd.step == pytest.approx((0.2, 0.1732), abs=1e-4)
    assert ebsd.metadata["hex_grid"]["points"] == 23909
    # README: CI 0 for 2,945 points that hold the 4 pi 'no solution' angles
    assert ebsd.metadata["hex_grid"]["phase_counts"] == {0: 2945, 1: 23909 - 2945}
    assert set(ebsd.channels) == {"iq", "ci", "sem", "fit"}
    check_hex_rule(ebsd, ang_table(path))


def test_ang_hex_small_header_rows_disagree():
    path = shared_file(*HEX_SMALL)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ebsd = read_map(path)
    messages = " ".join(str(w.message) for w in caught if w.category is EbsdphaseWarning)
    assert "hexagonal" in messages and "header says 63 rows" in messages
    assert ebsd.shape == (64, 72)
    assert ebsd.step == pytest.approx((0.1, 0.086603))
    assert ebsd.metadata["hex_grid"]["phase_counts"] == {1: 2986, 2: 1590}
    assert ebsd.phases[1].name == "Iron (Alpha)" and ebsd.phases[2].name == "Iron (Gamma)"
    check_hex_rule(ebsd, ang_table(path))


def test_ang_hex_header_over_square_data_reads_square():
    with pytest.warns(EbsdphaseWarning, match="square"):
        hexed = read_map(shared_file(EDGE, "HexHeader.ang"))
    plain = read_map(shared_file(EDGE, "Test_1.ang"))
    assert hexed.shape == plain.shape == (4, 40)
    np.testing.assert_array_equal(hexed.quaternions, plain.quaternions)


def test_ang_out_of_order_equals_sorted(tmp_path):
    path = shared_file(EDGE, "Out_Of_Order.ang")
    lines = path.read_bytes().splitlines(keepends=True)
    header = [ln for ln in lines if ln.startswith(b"#")]
    rows = [ln for ln in lines if ln.strip() and not ln.startswith(b"#")]
    rows.sort(key=lambda ln: (float(ln.split()[4]), float(ln.split()[3])))
    sorted_path = tmp_path / "sorted.ang"
    sorted_path.write_bytes(b"".join(header + rows))
    a, b = read_map(path), read_map(sorted_path)
    assert a.shape == (201, 189)
    np.testing.assert_array_equal(a.quaternions, b.quaternions)
    np.testing.assert_array_equal(a.phase_id, b.phase_id)
    for name in b.channels:
        np.testing.assert_array_equal(a.channels[name], b.channels[name])


def test_ang_short_file_is_a_clear_error():
    path = shared_file(EDGE, "ShortFile.ang")
    with pytest.raises(MapReadError, match="truncated: the last row holds 8 of 40 points") as exc:
        read_map(path)
    assert str(exc.value).startswith(str(path))


def test_ang_column_headers_are_used(tmp_path):
    # split on '\n' only: the UTF-8 operator name holds a byte latin-1 calls a line break
    lines = shared_file(*SDSS).read_bytes().decode("latin-1").split("\n")
    # the same columns, phase first: the COLUMN_HEADERS names decide, not the position
    head = [ln for ln in lines if ln.startswith("#")]
    rows = [ln.split() for ln in lines if ln.strip() and not ln.startswith("#")]
    path = tmp_path / "cols.ang"
    path.write_text("\n".join(head) + "\n# COLUMN_HEADERS: Phase index, phi1, PHI, phi2, x, y, "
                    "IQ, Confidence Index\n" + "\n".join(" ".join([r[7]] + r[:7]) for r in rows)
                    + "\n")
    a, b = read_map(path), read_map(shared_file(*SDSS))
    assert a.phase_counts() == {1: 5657, 2: 6043}
    np.testing.assert_array_equal(a.phase_id, b.phase_id)
    np.testing.assert_array_equal(a.quaternions, b.quaternions)
    np.testing.assert_array_equal(a.channels["ci"], b.channels["ci"])


# -- OIM grain file ------------------------------------------------------------------------------

def test_grain_file_m1700():
    path = shared_file(*M1700)
    ebsd = read_map(path)
    assert ebsd.format == "oim-grainfile"
    assert ebsd.shape == (162, 140) and ebsd.step == (0.1, 0.1)
    assert ebsd.phase_counts() == {1: 22680}
    assert ebsd.phases[1].name == "Martensite"
    assert {"iq", "ci", "fit"} <= set(ebsd.channels)
    raw = np.loadtxt(path, comments="#", usecols=range(10))
    r, c = square_cells(raw[:, 3], raw[:, 4], ebsd.step)
    np.testing.assert_array_equal(ebsd.channels["grain_id"][r, c], raw[:, 8])
    assert_same_rotations(ebsd.quaternions[r, c], reference_quats(raw[:, :3]))


def test_txt_that_is_not_a_grain_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("shopping list\neggs\n")
    with pytest.raises(MapReadError, match="notes.txt"):
        read_map(path)


# -- the CLI on a bad file ------------------------------------------------------------------------

@pytest.mark.parametrize("make", ["short_ang", "cut_ctf"])
def test_cli_info_on_truncated_file_prints_one_line(tmp_path, make):
    if make == "short_ang":
        path = shared_file(EDGE, "ShortFile.ang")
    else:
        path = tmp_path / "cut.ctf"
        path.write_bytes(shared_file(*TRIP).read_bytes()[:300_000])
    proc = subprocess.run([sys.executable, "-m", "ebsdphase.cli.main", "info", str(path)],
                          capture_output=True, text=True, timeout=120,
                          env={"COLUMNS": "80", "PATH": "/usr/bin:/bin",
                               "HOME": str(tmp_path)})
    assert proc.returncode == 2
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert path.name in lines[0] and "truncated" in lines[0]
    assert "Traceback" not in proc.stderr


# -- the parser itself ----------------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
                .filter(lambda v: v == 0 or abs(v) > 1e-9), min_size=3,
                max_size=30),
       st.sampled_from(["%.4f", "%.6f", "%.0f", "%.6e", "%g", "%r"]),
       st.sampled_from([" ", "\t", "   "]), st.sampled_from(["\n", "\r\n"]))
def test_parser_reads_numbers_like_float(values, fmt, sep, eol):
    ncols = 3
    values = values[: len(values) // ncols * ncols]
    tokens = [(fmt % v) if fmt != "%r" else repr(v) for v in values]
    text = eol.join(sep.join(tokens[i:i + ncols]) for i in range(0, len(tokens), ncols)) + eol
    buf = np.frombuffer(text.encode(), dtype=np.uint8)
    table = _text.parse_numbers(Path("x"), buf, 0, ncols)
    expected = np.array([float(t) for t in tokens]).reshape(-1, ncols).T
    # exact (correctly rounded) up to 15-16 digits; repr's 17 digits may be 1 ulp off
    np.testing.assert_array_max_ulp(table, expected, maxulp=0 if fmt != "%r" else 1)


# -- mangled files: a map or a MapReadError, nothing else ---------------------------------

def _small_ctf_bytes() -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "small.ctf"
        write_map(random_map(3, 4, seed=5), p)
        return p.read_bytes()


def _small_ang_bytes() -> bytes:
    rng = np.random.default_rng(2)
    head = ("# TEM_PIXperUM 1.0\n# Phase 1\n# MaterialName  \tIron (Alpha)\n# Symmetry 43\n"
            "# LatticeConstants 2.87 2.87 2.87 90 90 90\n# GRID: SqrGrid\n# XSTEP: 0.5\n"
            "# YSTEP: 0.5\n# NCOLS_ODD: 4\n# NCOLS_EVEN: 4\n# NROWS: 3\n#\n")
    rows = []
    for r in range(3):
        for c in range(4):
            e = rng.uniform(0, 3, 3)
            rows.append(f"{e[0]:9.5f} {e[1]:9.5f} {e[2]:9.5f} {c * 0.5:12.5f} {r * 0.5:12.5f} "
                        f"{rng.uniform(0, 900):8.1f} {rng.uniform(-1, 1):6.3f}  0  1 {0.5:6.3f}")
    return (head + "\n".join(rows) + "\n").encode()


SMALL = {".ctf": _small_ctf_bytes(), ".ang": _small_ang_bytes()}
GARBAGE = st.sampled_from([b"abc", b"", b"1e999", b"nan", b"-", b"1,2", b"\t", b"#", b"0x1F",
                           b"9999999999999999999999", b"\x00", b"-1", b"1.5.5", b"\xff\xfe"])


@st.composite
def mangled(draw):
    ext = draw(st.sampled_from(sorted(SMALL)))
    data = SMALL[ext]
    how = draw(st.sampled_from(["truncate", "garbage", "drop_header"]))
    if how == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif how == "garbage":
        fields = data.split(b"\t") if ext == ".ctf" else data.split(b" ")
        for _ in range(draw(st.integers(1, 3))):
            fields[draw(st.integers(0, len(fields) - 1))] = draw(GARBAGE)
        data = (b"\t" if ext == ".ctf" else b" ").join(fields)
    else:
        lines = data.split(b"\n")
        n_header = 16 if ext == ".ctf" else 12
        drop = draw(st.sets(st.integers(0, n_header - 1), min_size=1, max_size=4))
        data = b"\n".join(ln for i, ln in enumerate(lines) if i not in drop)
    return ext, data


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mangled())
def test_mangled_files_give_a_map_or_a_clear_error(tmp_path, case):
    ext, data = case
    path = tmp_path / f"mangled{ext}"
    path.write_bytes(data)
    try:
        ebsd = quiet_read(path)
    except MapReadError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return
    assert isinstance(ebsd, EBSDMap)
    assert ebsd.rows >= 1 and ebsd.cols >= 1
    q = ebsd.quaternions[ebsd.indexed]
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-5)
