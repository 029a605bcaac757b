"""Oxford HKL Channel 5 tab-separated text exports (``.txt``).

Channel 5 (Tango, *Export > Text*) writes one header line of tab-separated column names,
then one row per point::

    Index  Phase  X  Y  Euler1  Euler2  Euler3  MAD  BC  BS  Bands  Error  ReliabilityIndex

Phase 0 is not indexed (as in a ``.ctf``). X and Y are in micrometres and give the grid;
Euler angles are Bunge, in degrees as Channel 5 shows them (radians are recognised when no
indexed angle exceeds 2 pi + a margin, with a warning). The export has no phase table:
phases are named ``phase N`` with the cubic Laue group m-3m (steels, the case this project
reads them for), with a warning; set ``map.phases`` otherwise. Channels: ``mad``, ``bc``,
``bs``, ``bands``, ``error`` and ``reliability``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from ebsdphase.core.ebsdmap import EBSDMap, Phase
from ebsdphase.core.errors import EbsdphaseWarning, MapReadError
from ebsdphase.io import _text
from ebsdphase.io.registry import Format, register

REQUIRED = ("Phase", "X", "Y", "Euler1", "Euler2", "Euler3")
CHANNELS = {"MAD": "mad", "BC": "bc", "BS": "bs", "Bands": "bands", "Error": "error",
            "ReliabilityIndex": "reliability"}


def _header(path: Path) -> list[str] | None:
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            line = f.readline(4096)
    except OSError:
        return None
    names = [n.strip() for n in line.rstrip("\r\n").split("\t")]
    return names if all(r in names for r in REQUIRED) else None


def sniff(path: Path) -> bool:
    """True for a file whose first line is a tab-separated Channel 5 header."""
    return _header(path) is not None


def read(path: Path) -> EBSDMap:
    names = _header(path)
    if names is None:
        raise MapReadError(path, "not a Channel 5 text export (no tab-separated header with "
                                 + ", ".join(REQUIRED) + ")")
    try:
        data = np.loadtxt(path, delimiter="\t", skiprows=1, ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise MapReadError(path, f"a data row is not {len(names)} tab-separated numbers ({exc})") from None
    if data.size == 0:
        raise MapReadError(path, "no data rows")
    if data.shape[1] != len(names):
        raise MapReadError(path, f"{data.shape[1]} columns of data for {len(names)} names in the header")
    col = {n: data[:, i] for i, n in enumerate(names)}
    phase_raw = col["Phase"]
    if not np.all(np.isfinite(phase_raw)) or np.any(phase_raw != np.rint(phase_raw)) or phase_raw.min() < 0:
        raise MapReadError(path, "the Phase column holds values that are not phase numbers (0 = not indexed)")
    place = _text.place_on_grid(path, col["X"], col["Y"])
    phase_id = place.take(phase_raw.astype(np.int16))
    euler = [place.take(np.ascontiguousarray(col[f"Euler{k}"])) for k in (1, 2, 3)]
    indexed = phase_id > 0
    biggest = max((float(np.nanmax(np.abs(e[indexed]))) for e in euler), default=0.0) if indexed.any() else 0.0
    degrees = biggest > 2 * math.pi + 0.1
    if not degrees and indexed.any():
        warnings.warn(f"{path}: no Euler angle above 2 pi: read as radians", EbsdphaseWarning, stacklevel=3)
    quats = _text.euler_to_quaternions(*euler, phase_id, degrees=degrees)
    ids = sorted(int(i) for i in np.unique(phase_id) if i > 0)
    warnings.warn(f"{path}: a Channel 5 text export has no phase table; phases {ids} are taken as cubic "
                  "(m-3m)", EbsdphaseWarning, stacklevel=3)
    phases = {i: Phase(name=f"phase {i}", laue="m-3m") for i in ids}
    channels = {CHANNELS[n]: place.take(col[n]).astype(np.float32) for n in names if n in CHANNELS}
    return EBSDMap(quaternions=quats, phase_id=phase_id, phases=phases, step=place.step, channels=channels,
                   metadata={"euler_unit": "degree" if degrees else "radian", "points": int(data.shape[0])})


register(Format("channel5-txt", (".txt",), read=read, sniff=sniff))
