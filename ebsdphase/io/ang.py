"""EDAX/TSL ``.ang`` maps (OIM exports, EMsoft dictionary indexing).

Layout: ``#`` header lines, then one whitespace-separated row per scan point:
``phi1 PHI phi2 x y IQ CI Phase [SEM Fit ...]``, Euler angles (Bunge) in radians, x/y in
micrometres. When the header has ``# COLUMN_HEADERS:`` (OIM 8) the columns are taken by
those names; otherwise the standard order above is assumed and columns after the tenth
(vendor extras without a name) are left out.

Header: the phase table comes from ``# Phase N`` blocks (``# MaterialName``,
``# Symmetry`` as a TSL code: 43 -> m-3m, 62 -> 6/mmm, ... see
:data:`ebsdphase.io._vendor.TSL_LAUE`, ``# LatticeConstants a b c alpha beta gamma``); a
``# MaterialName`` without a ``# Phase`` line is phase 1. ``# GRID``, ``# XSTEP``,
``# YSTEP``, ``# NCOLS_ODD``, ``# NROWS`` describe the grid but may be missing or wrong:

* the grid is built from the x, y columns; points may come in any order (they are placed
  by their coordinates); a missing step is the smallest spacing found in the data;
* when NROWS/NCOLS disagree with a complete grid in the data, the data wins and an
  :class:`~ebsdphase.core.errors.EbsdphaseWarning` says so;
* hexagonal grids (``# GRID: HexGrid``, or rows found shifted by half a step) are
  resampled onto a square grid by the rule of :mod:`ebsdphase.io._grid` (the same for
  .osc and OIM .h5): one square row per hex row, as many columns (every XSTEP from the
  smallest x) as the longest row has points, each pixel takes the nearest point of its row;
  in the rows shifted by XSTEP/2 a pixel lies between two points and takes the left one
  (the first pixel takes the first point). Nothing is interpolated; a warning says so and
  the map step becomes (XSTEP, YSTEP). A HexGrid header over square data is read as
  square;
* a partial last row (a truncated file) or scattered points are a
  :class:`~ebsdphase.core.errors.MapReadError`.

Not-indexed rule (shared with the .osc and OIM HDF5 readers,
:func:`ebsdphase.io._vendor.edax_phase_ids`): a point is not indexed when its CI is
negative or any of its Euler angles holds the 4 pi "no solution" code (any angle above
2 pi). OIM writes phase 0 for every point of a single-phase scan, so with at most one
phase in the header phase 0 means phase 1; with several phases, phase 0 means not indexed.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from ebsdphase.core.ebsdmap import EBSDMap, Phase
from ebsdphase.core.errors import EbsdphaseWarning, MapReadError
from ebsdphase.io import _text
from ebsdphase.io._vendor import edax_phase_ids, tsl_laue
from ebsdphase.io.registry import Format, register

STANDARD_COLUMNS = ("phi1", "PHI", "phi2", "x", "y", "IQ", "CI", "Phase", "SEM", "Fit")
#: COLUMN_HEADERS spellings -> the role or channel name ebsdphase uses
_ROLES = {
    "phi1": "phi1", "phi": "PHI", "phi2": "phi2", "x": "x", "y": "y",
    "iq": "iq", "image_quality": "iq", "ci": "ci", "confidence_index": "ci",
    "phase": "phase", "phase_index": "phase", "phase_id": "phase",
    "sem": "sem", "sem_signal": "sem", "detector_intensity": "sem", "fit": "fit",
}
_KEY_VALUE = re.compile(r"^([A-Za-z_][A-Za-z0-9_ ]*?)\s*:\s*(.*)$")


def _roles(names: list[str]) -> list[str]:
    """Column names -> roles (phi1, PHI, phi2, x, y, phase) or channel names."""
    out = []
    for name in names:
        if name in ("phi1", "PHI", "phi2"):
            out.append(name)
            continue
        key = _text.channel_name(name)
        out.append(_ROLES.get(key, key))
    return out


def parse_header(buf: np.ndarray) -> tuple[dict[str, str], dict[int, Phase], list[str] | None, int]:
    """(header keys, phase table, COLUMN_HEADERS names or None, data start byte)."""
    keys: dict[str, str] = {}
    phases: dict[int, dict] = {}
    current: int | None = None
    columns: list[str] | None = None
    start = buf.size
    for line_start, _, line in _text.iter_lines(buf):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            start = line_start
            break
        body = stripped[1:].strip()
        if not body or body.startswith("#"):  # '# # NROWS: 64' is a commented-out value
            continue
        m = _KEY_VALUE.match(body)
        if m and m.group(1).upper() == m.group(1) and " " not in m.group(1):
            key, value = m.group(1), m.group(2).strip()
            if key == "COLUMN_HEADERS":
                columns = [c.strip() for c in value.split(",") if c.strip()]
            keys[key] = value
            continue
        word, value = (re.split(r"\s+", body, maxsplit=1) + [""])[:2]
        word = word.rstrip(":")
        value = value.strip()
        if word == "Phase":
            current = _text.to_int(value)
            if current is not None:
                phases.setdefault(current, {})
        elif word in ("MaterialName", "Formula", "Symmetry", "LatticeConstants"):
            if current is None:
                current = 1
                phases.setdefault(current, {})
            phases[current].setdefault(word, value)
        else:
            keys.setdefault(word, value)
    table = {pid: _phase(p) for pid, p in phases.items() if p}
    return keys, table, columns, start


def _phase(fields: dict[str, str]) -> Phase:
    numbers = [_text.to_float(v) for v in fields.get("LatticeConstants", "").split()]
    numbers = [v for v in numbers if v is not None]
    lattice = tuple((numbers + [0.0, 0.0, 0.0, 90.0, 90.0, 90.0][len(numbers):])[:6])
    name = fields.get("MaterialName", "").strip() or fields.get("Formula", "").strip() \
        or "unnamed"
    laue = tsl_laue(_text.to_int(fields.get("Symmetry", "").split()[0]
                                 if fields.get("Symmetry", "").split() else None, 0))
    return Phase(name=name, laue=laue, lattice=lattice)


def _first_fields(buf: np.ndarray, start: int) -> list[str]:
    for _, _, line in _text.iter_lines(buf, start, 1 << 16):
        if line.strip():
            return line.split()
    return []


def read(path: Path) -> EBSDMap:
    """Read an EDAX/TSL .ang file (see the module docstring for the rules)."""
    path = Path(path)
    buf, size, (keys, phases, header_columns, start) = _text.read_header(path, parse_header)
    ncols = len(_first_fields(buf, start))
    if ncols == 0:
        raise MapReadError(path, "no data rows after the header")
    if ncols < 8:
        raise MapReadError(path, f"data rows hold {ncols} fields; an .ang row needs at least 8 "
                                 "(phi1 PHI phi2 x y IQ CI Phase)")
    if header_columns is not None and len(header_columns) == ncols:
        roles = _roles(header_columns)
    else:
        if header_columns is not None:
            warnings.warn(f"{path}: COLUMN_HEADERS names {len(header_columns)} columns but "
                          f"rows hold {ncols}; assuming the standard order", EbsdphaseWarning,
                          stacklevel=3)
        roles = _roles(list(STANDARD_COLUMNS[:ncols]))
    for need in ("phi1", "PHI", "phi2", "x", "y", "phase"):
        if need not in roles:
            raise MapReadError(path, f"no {need} column (columns: {', '.join(roles)})")

    data = _text.parse_file(path, buf, size, start, ncols)  # in blocks for a big file
    del buf
    if data.shape[1] == 0:
        raise MapReadError(path, "no data rows after the header")
    col = {role: data[i] for i, role in reversed(list(enumerate(roles)))}
    grid = keys.get("GRID", "").lower()
    hexagonal = True if grid.startswith("hex") else (False if grid.startswith("sqr") else None)
    step = (_text.to_float(keys.get("XSTEP")), _text.to_float(keys.get("YSTEP")))
    place = _text.place_on_grid(path, col["x"], col["y"], step, hexagonal)
    _check_header_size(path, keys, place)

    euler_pts = np.stack([col["phi1"], col["PHI"], col["phi2"]], axis=-1)
    phase_raw = col["phase"]
    if not np.all(np.isfinite(phase_raw)) or np.any(phase_raw != np.rint(phase_raw)) \
            or np.abs(phase_raw).max() > 32767:
        raise MapReadError(path, "the phase column holds values that are not phase numbers")
    pid_pts = edax_phase_ids(phase_raw, np.nan_to_num(euler_pts, nan=100.0), col.get("ci"),
                             len(phases))
    phase_id = place.take(pid_pts)
    phases = _complete_phases(path, phases, phase_id)
    euler = [place.take(np.ascontiguousarray(euler_pts[:, k])) for k in range(3)]
    quats = _text.euler_to_quaternions(*euler, phase_id)

    skip = {"phi1", "PHI", "phi2", "x", "y", "phase"}
    n_named = ncols if header_columns is not None and len(header_columns) == ncols \
        else min(ncols, len(STANDARD_COLUMNS))
    channels = {role: place.take(data[i]).astype(np.float32)
                for i, role in enumerate(roles[:n_named]) if role not in skip}
    metadata: dict = {"header": keys, "euler_unit": "radian", "points": int(data.shape[1])}
    if ncols > n_named:
        metadata["ignored_columns"] = ncols - n_named
    if place.hexagonal:
        ids, counts = np.unique(pid_pts, return_counts=True)
        metadata["hex_grid"] = {"points": int(data.shape[1]),
                                "phase_counts": {int(i): int(c) for i, c in zip(ids, counts)}}
    return EBSDMap(quaternions=quats, phase_id=phase_id, phases=phases, step=place.step,
                   channels=channels, metadata=metadata)


def _check_header_size(path: Path, keys: dict[str, str], place: _text.Placement) -> None:
    nrows = _text.to_int(keys.get("NROWS"))
    ncols = [_text.to_int(keys.get(k)) for k in ("NCOLS_ODD", "NCOLS_EVEN")]
    ncols = max((c for c in ncols if c is not None), default=None)
    rows, cols = place.shape
    if (nrows is not None and nrows != rows) or (ncols is not None and ncols != cols):
        warnings.warn(f"{path}: header says {nrows} rows x {ncols} columns but the data holds "
                      f"{rows} x {cols}; using the data", EbsdphaseWarning, stacklevel=4)


def _complete_phases(path: Path, phases: dict[int, Phase], phase_id: np.ndarray
                     ) -> dict[int, Phase]:
    used = np.flatnonzero(np.bincount(phase_id.ravel()))
    unknown = [int(p) for p in used if p > 0 and int(p) not in phases]
    if unknown:
        if phases:
            warnings.warn(f"{path}: phase number(s) {unknown[:5]} used in the data are not in "
                          "the header; named 'phase N'", EbsdphaseWarning, stacklevel=4)
        phases = dict(phases)
        for p in unknown:
            phases[p] = Phase(name=f"phase {p}", laue="")
    return phases


register(Format("ang", (".ang",), read=read))
