"""EDAX/TSL OIM binary maps (``.osc``).

The format is undocumented; this follows the layout MTEX, orix and ebsdlab read:

* bytes 0-31: eight little-endian uint32, the 7th of which is the number of points;
* a header block starting with the marker ``B9 0B EF FF 01 00 00 00``: a float32, the
  number of phases (int32), then per phase a 256-byte name, the TSL symmetry code (int32)
  and the lattice a, b, c (angstrom), alpha, beta, gamma (degrees) as float32, followed by
  variable-length reflector lists;
* the data block after the marker ``B9 0B EF FF 02 00 00 00``: (in some versions a uint32
  first) x step, y step (float32), then one record of float32 columns per point:
  phi1 Phi phi2 (radians) x y IQ CI phase SEM-signal Fit [more columns in newer versions].
  The number of columns is found, as MTEX does, where the second record lies one x step
  along x (x = XSTEP, y = 0).

Hexagonal scans are resampled onto a square grid by the rule of :mod:`ebsdphase.io._grid`
(with a warning); points with the EDAX "no solution" code are not indexed
(:func:`ebsdphase.io._vendor.edax_phase_ids`).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from ebsdphase.core.ebsdmap import EBSDMap, Phase
from ebsdphase.core.errors import EbsdphaseWarning, MapReadError
from ebsdphase.io import _grid
from ebsdphase.io._common import build_map
from ebsdphase.io._vendor import TSL_LAUE, edax_phase_ids, tsl_laue
from ebsdphase.io.registry import Format, register

HEADER_MARKER = bytes.fromhex("B90BEFFF01000000")
DATA_MARKER = bytes.fromhex("B90BEFFF02000000")
#: the named leading columns; later ones (PRIAS, EDS, ...) are not named in the file
COLUMNS = ("phi1", "Phi", "phi2", "x", "y", "iq", "ci", "phase", "sem", "fit")
CHANNELS = ("iq", "ci", "sem", "fit")
_NAME = re.compile(rb"[ -~]*[A-Za-z][ -~]*")
_PHASE_RECORD = 256 + 4 + 24


def _phases(header: bytes) -> dict[int, Phase]:
    """Phase records in the header block: a printable 256-byte name, a known TSL symmetry
    code and a plausible lattice (the block is not self-describing between records)."""
    phases: dict[int, Phase] = {}
    pos = 0
    while pos + _PHASE_RECORD <= len(header):
        if not (65 <= header[pos] <= 122):  # a record starts with a letter
            pos += 1
            continue
        name = header[pos:pos + 256].split(b"\0")[0].strip()
        code = int(np.frombuffer(header, "<i4", 1, pos + 256)[0])
        cell = np.frombuffer(header, "<f4", 6, pos + 260).astype(np.float64)
        if (_NAME.fullmatch(name) and code in TSL_LAUE and np.all((cell[:3] > 0) & (cell[:3] < 1000))
                and np.all((cell[3:] > 0) & (cell[3:] < 180))):
            i = len(phases) + 1
            phases[i] = Phase(name=name.decode("ascii"), laue=tsl_laue(code),
                              lattice=tuple(float(round(c, 5)) for c in cell))  # type: ignore[arg-type]
            pos += _PHASE_RECORD
        else:
            pos += 1
    return phases


def _layout(raw: bytes, base: int, n: int) -> tuple[int, int, float, float]:
    """(offset of the first record, number of columns, x step, y step)."""
    for offset in (base, base + 4):
        if offset + 8 > len(raw):
            continue
        xstep, ystep = (float(v) for v in np.frombuffer(raw, "<f4", 2, offset))
        if not (np.isfinite(xstep) and np.isfinite(ystep) and xstep > 1e-6 and ystep > 1e-6):
            continue
        if n == 1:
            return offset + 8, len(COLUMNS), xstep, ystep
        for ncols in range(len(COLUMNS), 31):
            second = offset + 8 + ncols * 4
            if second + 20 > len(raw):
                break
            rec = np.frombuffer(raw, "<f4", 5, second)
            if abs(float(rec[3]) - xstep) <= 1e-4 * xstep and rec[4] == 0:
                return offset + 8, ncols, xstep, ystep
    raise ValueError("the data block layout was not recognised (no record one x step along x)")


def read(path: Path) -> EBSDMap:
    """Read an EDAX .osc map."""
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < 32:
        raise MapReadError(path, f"too short for an .osc file ({len(raw)} bytes)")
    n = int(np.frombuffer(raw, "<u4", 8)[6])
    start = raw.find(DATA_MARKER)
    if start < 0:
        raise MapReadError(path, "not an EDAX .osc file (no data-block marker B9 0B EF FF 02)")
    if n == 0:
        raise MapReadError(path, "the header says the scan has no points")
    try:
        offset, ncols, xstep, ystep = _layout(raw, start + len(DATA_MARKER), n)
    except ValueError as exc:
        raise MapReadError(path, str(exc)) from None
    need = n * ncols * 4
    have = len(raw) - offset
    if have < need:
        raise MapReadError(path, f"truncated: the header promises {n:,} points of {ncols} "
                                 f"columns ({need:,} bytes), the data block holds {have:,} bytes")
    data = np.frombuffer(raw, "<f4", n * ncols, offset).reshape(n, ncols)
    cols = {name: data[:, i] for i, name in enumerate(COLUMNS)}
    hstart = raw.find(HEADER_MARKER)
    phases = _phases(raw[hstart + 8:start]) if 0 <= hstart < start else {}

    x, y = cols["x"].astype(np.float64), cols["y"].astype(np.float64)
    try:
        hexgrid = _grid.is_hex_grid(x, y, xstep, ystep)
        index = (_grid.hex_to_square_index if hexgrid else _grid.square_index)(x, y, xstep, ystep)
    except ValueError as exc:
        raise MapReadError(path, str(exc)) from None
    if hexgrid:
        warnings.warn(f"{path}: {_grid.HEX_WARNING}", EbsdphaseWarning, stacklevel=3)

    euler = np.stack([cols["phi1"], cols["Phi"], cols["phi2"]], axis=-1)
    raw_phase = np.where(np.isfinite(cols["phase"]), cols["phase"], -1)
    raw_phase = np.clip(raw_phase, -1, 32767).astype(np.int16)
    phase = edax_phase_ids(raw_phase, euler, cols["ci"], len(phases))
    channels = {c: _grid.take(cols[c], index) for c in CHANNELS}
    meta = {"grid": "hexagonal, resampled to square" if hexgrid else "square",
            "points": n, "columns": ncols}
    return build_map(path, _grid.take(euler, index), _grid.take(phase, index), phases,
                     (xstep, ystep), channels, meta)


register(Format("osc", (".osc",), read=read))
