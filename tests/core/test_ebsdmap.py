import json

import numpy as np
import pytest
from typer.testing import CliRunner

from ebsdphase import EBSDMap, Phase, read_map, write_map
from ebsdphase.cli.main import app
from ebsdphase.core.euler import euler_to_quat, quat_to_euler


def _random_map(rows=7, cols=9, seed=0):
    rng = np.random.default_rng(seed)
    euler = rng.uniform(0, 1, (rows, cols, 3)) * [2 * np.pi, np.pi, 2 * np.pi]
    phase_id = (rng.uniform(size=(rows, cols)) > 0.2).astype(np.int16)
    return EBSDMap.from_euler(
        euler, phase_id, {1: Phase("Iron bcc", "m-3m", (2.87, 2.87, 2.87, 90, 90, 90))},
        step=(0.1, 0.1), channels={"BS": rng.uniform(0, 255, (rows, cols))},
    )


def test_euler_quaternion_matches_scipy_inverse():
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(1)
    e = rng.uniform(0, 1, (5000, 3)) * [2 * np.pi, np.pi, 2 * np.pi]
    ref = Rotation.from_euler("ZXZ", e).inv().as_quat()  # x, y, z, w
    ref = np.concatenate([ref[:, 3:], ref[:, :3]], axis=1)
    ref *= np.sign(ref[:, :1])
    np.testing.assert_allclose(euler_to_quat(e), ref, atol=1e-12)
    np.testing.assert_allclose(euler_to_quat(quat_to_euler(ref)), ref, atol=1e-12)


def test_hand_worked_rotation_about_z():
    # phi1 = 90 deg: the crystal x axis lies along sample y, so the sample x axis has
    # crystal components (0, -1, 0); q = (cos 45, 0, 0, -sin 45).
    q = euler_to_quat(np.array([np.pi / 2, 0, 0]))
    np.testing.assert_allclose(q, [np.sqrt(0.5), 0, 0, -np.sqrt(0.5)], atol=1e-12)
    w, v = q[0], q[1:]
    x = np.array([1.0, 0, 0])
    rotated = x + 2 * w * np.cross(v, x) + 2 * np.cross(v, np.cross(v, x))
    np.testing.assert_allclose(rotated, [0, -1, 0], atol=1e-12)


def test_map_basics_and_slicing():
    m = _random_map()
    assert m.shape == (7, 9)
    assert set(m.channels) == {"bs"}
    assert m.quaternions.dtype == np.float32
    assert np.all(m.quaternions[~m.indexed] == 0)
    np.testing.assert_allclose(np.linalg.norm(m.quaternions[m.indexed], axis=-1), 1, atol=1e-6)
    sub = m[2:5, 1:8]
    assert isinstance(sub, EBSDMap) and sub.shape == (3, 7)
    np.testing.assert_array_equal(sub.channels["bs"], m.channels["bs"][2:5, 1:8])
    coarse = m[::2, ::2]
    assert coarse.shape == (4, 5) and coarse.step == (0.2, 0.2)
    with pytest.raises(TypeError):
        m[1, 2]


def test_native_round_trip_is_bit_exact(tmp_path):
    m = _random_map()
    m.metadata["operator"] = "test"
    out = write_map(m, tmp_path / "a.ebsd.h5")
    back = read_map(out)
    assert back.format == "ebsdphase"
    np.testing.assert_array_equal(back.quaternions, m.quaternions)
    np.testing.assert_array_equal(back.phase_id, m.phase_id)
    np.testing.assert_array_equal(back.channels["bs"], m.channels["bs"])
    assert back.phases == m.phases and back.step == m.step
    assert back.metadata == {"operator": "test"}
    assert not list(tmp_path.glob(".*part*")), "temporary file left behind"


def test_info_json_and_errors(tmp_path):
    m = _random_map()
    write_map(m, tmp_path / "a.ebsd.h5")
    runner = CliRunner()
    res = runner.invoke(app, ["info", str(tmp_path / "a.ebsd.h5"), "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.output)
    assert (s["rows"], s["cols"]) == (7, 9)
    assert s["indexed_fraction"] == pytest.approx(m.indexed_fraction)
    assert {"rows", "cols", "step", "phases", "indexed_fraction", "channels"} <= s.keys()
    (tmp_path / "x.xyz").write_text("nothing")
    res = runner.invoke(app, ["info", str(tmp_path / "x.xyz")])
    assert res.exit_code == 2
    assert "x.xyz" in res.output and "unknown map format" in res.output
    assert "Traceback" not in res.output


def test_version_and_help_list_only_built_commands():
    runner = CliRunner()
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.startswith("ebsdphase ")
    res = runner.invoke(app, ["--help"])
    assert "info" in res.output
