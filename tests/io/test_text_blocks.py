"""Big text maps are parsed block by block: the same map, the same errors, as in one go."""

from __future__ import annotations

import numpy as np
import pytest

from _tinymodel import blob_map
from ebsdphase.core.errors import MapReadError
from ebsdphase.io import _text, read_map, write_map


def _small_blocks(monkeypatch) -> None:
    """Every file read in blocks: heads of 700 bytes, blocks of 1000."""
    monkeypatch.setattr(_text, "WHOLE_BYTES", 0)
    monkeypatch.setattr(_text, "HEAD_BYTES", 700)
    monkeypatch.setattr(_text, "BLOCK_BYTES", 1000)


def _ctf(tmp_path, name="m.ctf", shape=(30, 41)):
    ebsd, _ = blob_map(3, shape=shape)
    return write_map(ebsd, tmp_path / name)


def _same(a, b) -> None:
    assert a.shape == b.shape and a.step == b.step
    np.testing.assert_array_equal(a.quaternions, b.quaternions)
    np.testing.assert_array_equal(a.phase_id, b.phase_id)
    assert set(a.channels) == set(b.channels)
    for k in a.channels:
        np.testing.assert_array_equal(a.channels[k], b.channels[k], err_msg=k)
        assert b.channels[k].dtype == np.float32


def test_a_ctf_read_in_blocks_is_the_ctf_read_whole(tmp_path, monkeypatch):
    path = _ctf(tmp_path)
    whole = read_map(path)
    assert path.stat().st_size > 20 * 1000  # many blocks below
    _small_blocks(monkeypatch)
    _same(whole, read_map(path))
    # blocks that end exactly on a line end, and a last block of one line
    lines = path.read_bytes().split(b"\n")
    monkeypatch.setattr(_text, "BLOCK_BYTES", len(lines[-2]) + 1)  # some lines longer than a block
    _same(whole, read_map(path))


def _broken(tmp_path, line_no: int, new: bytes, name: str) -> tuple:
    path = _ctf(tmp_path, name)
    lines = path.read_bytes().split(b"\r\n")
    lines[line_no - 1] = new
    path.write_bytes(b"\r\n".join(lines))
    return path, lines


@pytest.mark.parametrize("what", ["non-numeric", "short line", "long line"])
def test_errors_name_the_same_line_in_blocks(tmp_path, monkeypatch, what):
    line_no = 700
    path, lines = _broken(tmp_path, line_no, b"", f"{what.replace(' ', '_')}.ctf")
    fields = lines[line_no].split(b"\t")
    bad = {"non-numeric": b"\t".join([fields[0], b"x1.5"] + fields[2:]),
           "short line": b"\t".join(fields[:5]),
           "long line": b"\t".join(fields + [b"7"])}[what]
    lines[line_no - 1] = bad
    path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(MapReadError) as whole:
        read_map(path)
    _small_blocks(monkeypatch)
    with pytest.raises(MapReadError) as blocks:
        read_map(path)
    assert str(blocks.value) == str(whole.value)
    assert f"line {line_no}:" in str(whole.value) and "truncated" not in str(whole.value)


def test_a_truncated_last_line_is_a_truncated_file_in_blocks(tmp_path, monkeypatch):
    path = _ctf(tmp_path)
    data = path.read_bytes().rstrip(b"\r\n")
    path.write_bytes(data[: data.rfind(b"\t")])  # the last line loses its last field
    with pytest.raises(MapReadError, match="truncated") as whole:
        read_map(path)
    _small_blocks(monkeypatch)
    with pytest.raises(MapReadError) as blocks:
        read_map(path)
    assert str(blocks.value) == str(whole.value)


def _ang_bytes(rows: int = 30, cols: int = 41) -> bytes:
    rng = np.random.default_rng(2)
    head = ("# TEM_PIXperUM 1.0\n# Phase 1\n# MaterialName  \tIron (Alpha)\n# Symmetry 43\n"
            "# LatticeConstants 2.87 2.87 2.87 90 90 90\n# GRID: SqrGrid\n# XSTEP: 0.5\n"
            f"# YSTEP: 0.5\n# NCOLS_ODD: {cols}\n# NCOLS_EVEN: {cols}\n# NROWS: {rows}\n#\n")
    lines = []
    for r in range(rows):
        for c in range(cols):
            e = rng.uniform(0, 3, 3)
            lines.append(f"{e[0]:9.5f} {e[1]:9.5f} {e[2]:9.5f} {c * 0.5:12.5f} {r * 0.5:12.5f} "
                         f"{rng.uniform(0, 900):8.1f} {rng.uniform(-1, 1):6.3f}  1  1 {0.5:6.3f}")
    return (head + "\n".join(lines) + "\n").encode()


def test_an_ang_read_in_blocks_is_the_ang_read_whole(tmp_path, monkeypatch):
    path = tmp_path / "m.ang"
    path.write_bytes(_ang_bytes())
    whole = read_map(path)
    _small_blocks(monkeypatch)
    _same(whole, read_map(path))


def test_rows_that_get_shorter_grow_the_columns(tmp_path, monkeypatch):
    """A guess of the rows from the first block is too small when later lines are shorter
    (fewer digits written): the columns must grow, and the map comes out the same."""
    path = _ctf(tmp_path, "short_tail.ctf", shape=(120, 120))
    marker = b"Euler3\tMAD\tBC\tBS\r\n"  # the end of the column line
    head, found, body = path.read_bytes().partition(marker)
    assert found
    rows = body.split(b"\r\n")

    def shortest(field: bytes) -> bytes:  # the same number in fewer characters
        return repr(float(field)).removesuffix(".0").encode()

    rows[100:] = [b"\t".join(shortest(f) for f in r.split(b"\t")) if r else r for r in rows[100:]]
    path.write_bytes(head + marker + b"\r\n".join(rows))
    whole = read_map(path)
    _small_blocks(monkeypatch)
    # what parse_file allocates from its first (long-lined) block is too small for the file
    per_row = (1000 // (len(rows[0]) + 2)) / 1000
    guess = per_row * (path.stat().st_size - len(head) - len(marker)) * 1.1 + 1024
    assert guess < 120 * 120
    _same(whole, read_map(path))


def test_a_head_that_ends_inside_the_first_data_line(tmp_path, monkeypatch):
    path = _ctf(tmp_path)
    data = path.read_bytes()
    first_row = data.index(b"\n", data.index(b"Phase\tX\tY")) + 1
    whole = read_map(path)
    _small_blocks(monkeypatch)
    monkeypatch.setattr(_text, "HEAD_BYTES", first_row + 5)  # the head cuts the first data row
    _same(whole, read_map(path))
