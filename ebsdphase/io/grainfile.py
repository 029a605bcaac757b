"""EDAX OIM "grain file type 1" text exports (``.txt``).

OIM Analysis writes these from *Export > Grain File*: ``#`` comment lines, among them
``# Column 1-3: phi1, PHI, phi2 (orientation of point in radians)`` ... describing the
columns, then one row per point::

    phi1 PHI phi2 (radians)  x y (um)  IQ  CI  Fit  GrainID  edge  phase name

The layout is read from the ``# Column`` lines when present (else the order above). The
grid comes from the x, y columns (any order; a partial last row or scattered points are a
:class:`~ebsdphase.core.errors.MapReadError`). Phases are numbered 1, 2, ... in the order their
names first appear. A grain file carries no crystal symmetry: phases get the cubic Laue
group m-3m (steels, the case this project reads them for); set ``map.phases`` otherwise.
A point is not indexed by the EDAX rule (negative CI or a 4 pi "no solution" Euler angle,
:func:`ebsdphase.io._vendor.edax_phase_ids`).

Channels: ``iq``, ``ci``, ``fit`` and ``grain_id`` (OIM's grain number, for statistics).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ebsdphase.core.ebsdmap import EBSDMap, Phase
from ebsdphase.core.errors import MapReadError
from ebsdphase.io import _text
from ebsdphase.io._vendor import edax_phase_ids
from ebsdphase.io.registry import Format, register

STANDARD_COLUMNS = ("phi1", "PHI", "phi2", "x", "y", "iq", "ci", "fit", "grain_id", "edge",
                    "phase_name")
_COLUMN_LINE = re.compile(r"^#\s*Column\s+(\d+)(?:\s*-\s*(\d+))?\s*:\s*(.*)$", re.IGNORECASE)
#: words of a '# Column' description -> column names
_DESCRIPTIONS = (
    ("phi1", ("phi1", "PHI", "phi2")), ("x, y", ("x", "y")), ("iq", ("iq",)),
    ("ci", ("ci",)), ("fit", ("fit",)), ("grain id", ("grain_id",)), ("edge", ("edge",)),
    ("phase", ("phase_name",)),
)
_KEEP = ("iq", "ci", "fit", "grain_id")


def sniff(path: Path) -> bool:
    """True for an OIM grain file: '# Column' lines naming phi1 and a grain ID."""
    try:
        with open(path, "rb") as f:
            head = f.read(8192).decode("latin-1").lower()
    except OSError:
        return False
    return "# column" in head and "phi1" in head and "grain id" in head


def _columns(buf: np.ndarray) -> tuple[list[str] | None, int]:
    """(column names from the '# Column' lines or None, data start byte)."""
    names: dict[int, str] = {}
    for start, _, line in _text.iter_lines(buf):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            break
        m = _COLUMN_LINE.match(stripped)
        if not m:
            continue
        first = int(m.group(1))
        last = int(m.group(2) or first)
        text = m.group(3).lower()
        for words, cols in _DESCRIPTIONS:
            if text.startswith(words) and len(cols) == last - first + 1:
                names.update({first + k: c for k, c in enumerate(cols)})
                break
        else:
            for k in range(first, last + 1):
                names[k] = _text.channel_name(text.split("(")[0]) + (
                    f"_{k - first + 1}" if last > first else "")
    else:
        start = buf.size
    if not names:
        return None, start
    if sorted(names) != list(range(1, len(names) + 1)):
        return None, start
    return [names[k] for k in sorted(names)], start


def read(path: Path) -> EBSDMap:
    """Read an OIM grain file type 1 (see the module docstring)."""
    path = Path(path)
    buf = _text.read_bytes(path)
    columns, start = _columns(buf)
    if columns is None:
        columns = list(STANDARD_COLUMNS)
    first = next((line.split() for _, _, line in _text.iter_lines(buf, start, 1 << 16)
                  if line.strip()), None)
    if first is None:
        raise MapReadError(path, "no data rows after the header")
    # numbers up to the phase name column; the name itself (may hold spaces) is text
    n_num = columns.index("phase_name") if "phase_name" in columns else len(columns)
    for need in ("phi1", "PHI", "phi2", "x", "y"):
        if need not in columns[:n_num]:
            raise MapReadError(path, f"not an OIM grain file: no {need} column")
    if len(first) < n_num or not all(_text.is_number(t) for t in first[:n_num]):
        raise MapReadError(path, f"not an OIM grain file: the first data row does not start "
                                 f"with {n_num} numbers")
    data = _text.parse_numbers(path, buf, start, n_num, skip_rest=True)
    col = {name: data[i] for i, name in enumerate(columns[:n_num])}
    place = _text.place_on_grid(path, col["x"], col["y"])

    names = _phase_names(buf, start, n_num) if n_num < len(columns) else None
    if names is not None and len(names) != data.shape[1]:
        raise MapReadError(path, f"{data.shape[1]} data rows but {len(names)} phase names")
    if names is None:
        labels, number = ["unnamed"], np.ones(data.shape[1], dtype=np.int16)
    else:
        labels, first_at, inverse = np.unique(names, return_index=True, return_inverse=True)
        order = np.argsort(first_at)  # number phases by first appearance
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        number = (rank[inverse] + 1).astype(np.int16)
        labels = [labels[i].decode("latin-1") for i in order]
    euler_pts = np.stack([col["phi1"], col["PHI"], col["phi2"]], axis=-1)
    pid_pts = edax_phase_ids(number, np.nan_to_num(euler_pts, nan=100.0), col.get("ci"),
                             n_phases=2)  # ids are explicit here: 0 never means phase 1
    phase_id = place.take(pid_pts)
    euler = [place.take(np.ascontiguousarray(euler_pts[:, k])) for k in range(3)]
    quats = _text.euler_to_quaternions(*euler, phase_id)
    phases = {i + 1: Phase(name=name, laue="m-3m") for i, name in enumerate(labels)}
    channels = {name: place.take(col[name]).astype(np.float32) for name in _KEEP if name in col}
    return EBSDMap(quaternions=quats, phase_id=phase_id, phases=phases, step=place.step,
                   channels=channels, metadata={"euler_unit": "radian", "columns": columns})


def _phase_names(buf: np.ndarray, start: int, n_num: int) -> np.ndarray:
    """The text after the first ``n_num`` fields of each data row, as a bytes array."""
    rows = bytes(buf[start:]).splitlines()
    out = []
    for row in rows:
        parts = row.split(None, n_num)
        if parts:
            out.append(parts[n_num].strip() if len(parts) > n_num else b"")
    return np.array(out, dtype=object).astype(bytes)


register(Format("oim-grainfile", (".txt",), read=read, sniff=sniff))
