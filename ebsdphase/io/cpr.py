"""Oxford Channel 5 / AZtec binary maps: a ``.cpr`` text header and a ``.crc`` data file.

The ``.cpr`` is INI-like: ``[Job]`` gives the grid (xCells, yCells, GridDistX, GridDistY),
``[Phases]``/``[PhaseN]`` the phase table, ``[Fields]`` the order of the per-point fields in
the ``.crc``. The ``.crc`` holds, for each point in row-major order, a packed little-endian
record: the phase (uint8, 0 = not indexed) then the listed fields. Field ids and sizes
(as read by DefDAP, EbsdLib and MTEX):

  1 X, 2 Y, 3 phi1, 4 Phi, 5 phi2, 6 MAD (float32; Euler angles in radians, MAD in degrees)
  7 BC, 8 BS, 9 unknown, 10 Bands, 11 Error (uint8), 12 reliability index (4 bytes),
  > 100 EDX window counts (int32).

Either file of the pair may be given to :func:`read`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ebsdphase.core.ebsdmap import EBSDMap, Phase
from ebsdphase.core.errors import MapReadError
from ebsdphase.io._common import as_float, as_int, build_map
from ebsdphase.io._vendor import oxford_laue
from ebsdphase.io.registry import Format, register

#: field id -> (name, numpy dtype); names that are also map channels keep their channel name
FIELDS: dict[int, tuple[str, str]] = {
    1: ("x", "<f4"), 2: ("y", "<f4"),
    3: ("phi1", "<f4"), 4: ("Phi", "<f4"), 5: ("phi2", "<f4"),
    6: ("mad", "<f4"), 7: ("bc", "u1"), 8: ("bs", "u1"), 9: ("unknown9", "u1"),
    10: ("bands", "u1"), 11: ("error", "u1"), 12: ("reliability", "<i4"),
}
CHANNELS = ("mad", "bc", "bs", "bands", "error")
_SECTION = re.compile(r"^\[(.+)\]$")


def parse_cpr(path: Path) -> dict[str, dict[str, str]]:
    """The .cpr as {section: {key: value}} (keys keep their case; later duplicates win)."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise MapReadError(path, f"cannot read the .cpr header ({exc.strerror})") from None
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        m = _SECTION.match(line)
        if m:
            current = sections.setdefault(m.group(1).strip(), {})
        elif current is not None and "=" in line:
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    if not sections:
        raise MapReadError(path, "not an Oxford .cpr header (no [Section] lines)")
    return sections


def _pair(path: Path) -> tuple[Path, Path]:
    """(.cpr, .crc) for either member of the pair; the other is looked up beside it."""
    want = ".crc" if path.suffix.lower() == ".cpr" else ".cpr"
    for suffix in (want, want.upper()):
        other = path.with_suffix(suffix)
        if other.exists():
            break
    else:
        other = path.with_suffix(want)
    return (path, other) if want == ".crc" else (other, path)


def record_dtype(cpr: Path, fields: dict[str, str]) -> np.dtype:
    """The packed .crc record layout from the [Fields] section."""
    count = as_int(cpr, fields.get("Count"), "[Fields] Count")
    layout: list[tuple[str, str]] = [("phase", "u1")]
    for i in range(1, count + 1):
        key = f"Field{i}"
        if key not in fields:
            raise MapReadError(cpr, f"[Fields] lists Count={count} but has no {key}")
        fid = as_int(cpr, fields[key], f"[Fields] {key}")
        if fid in FIELDS:
            layout.append(FIELDS[fid])
        elif fid > 100:
            layout.append((f"edx{fid}", "<i4"))
        else:
            raise MapReadError(cpr, f"[Fields] {key}={fid} is an unknown field id "
                                    "(its size in the .crc is unknown)")
    names = [n for n, _ in layout]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise MapReadError(cpr, f"[Fields] lists {sorted(dupes)} more than once")
    for need in ("phi1", "Phi", "phi2"):
        if need not in names:
            raise MapReadError(cpr, "[Fields] has no Euler angles (field ids 3, 4, 5)")
    return np.dtype(layout)


def _phases(cpr: Path, sections: dict[str, dict[str, str]]) -> dict[int, Phase]:
    count = int(as_float(cpr, sections.get("Phases", {}).get("Count", 0), "[Phases] Count"))
    phases: dict[int, Phase] = {}
    for i in range(1, count + 1):
        sec = sections.get(f"Phase{i}")
        if sec is None:
            raise MapReadError(cpr, f"[Phases] Count={count} but there is no [Phase{i}] section")
        lattice = tuple(as_float(cpr, sec.get(k, d), f"[Phase{i}] {k}") for k, d in
                        (("a", 0), ("b", 0), ("c", 0), ("alpha", 90), ("beta", 90), ("gamma", 90)))
        laue = oxford_laue(int(as_float(cpr, sec.get("LaueGroup") or 0, f"[Phase{i}] LaueGroup")))
        sg = sec.get("SpaceGroup") or "0"
        phases[i] = Phase(name=sec.get("StructureName", f"phase {i}") or f"phase {i}",
                          laue=laue, lattice=lattice,  # type: ignore[arg-type]
                          space_group=int(as_float(cpr, sg, f"[Phase{i}] SpaceGroup")))
    return phases


def read(path: Path) -> EBSDMap:
    """Read an Oxford .cpr/.crc pair (either file may be given)."""
    path = Path(path)
    cpr, crc = _pair(path)
    if not cpr.exists():
        raise MapReadError(path, f"its header file {cpr.name} is missing beside it "
                                 "(a .crc needs its .cpr)")
    sections = parse_cpr(cpr)
    if not crc.exists():
        raise MapReadError(cpr, f"its binary data file {crc.name} is missing beside it "
                                "(a .cpr holds only the header; the data are in the .crc)")
    job = sections.get("Job")
    if job is None:
        raise MapReadError(cpr, "no [Job] section (grid size and step)")
    for key in ("xCells", "yCells", "GridDistX", "GridDistY"):
        if key not in job:
            mode = sections.get("General", {}).get("JobMode", "?")
            raise MapReadError(cpr, f"[Job] has no {key}: not a grid map (JobMode={mode})")
    cols = as_int(cpr, job["xCells"], "[Job] xCells")
    rows = as_int(cpr, job["yCells"], "[Job] yCells")
    step = (as_float(cpr, job["GridDistX"], "[Job] GridDistX"),
            as_float(cpr, job["GridDistY"], "[Job] GridDistY"))
    if "Fields" not in sections:
        raise MapReadError(cpr, "no [Fields] section (the layout of the .crc)")
    dtype = record_dtype(cpr, sections["Fields"])
    phases = _phases(cpr, sections)

    n = rows * cols
    expected = n * dtype.itemsize
    actual = crc.stat().st_size
    if actual != expected:
        what = "truncated" if actual < expected else "longer than the header says"
        raise MapReadError(crc, f"{what}: {rows} x {cols} points of {dtype.itemsize} bytes "
                                f"({expected:,} bytes) expected from {cpr.name}, "
                                f"the file has {actual:,} bytes")
    data = np.fromfile(crc, dtype=dtype, count=n).reshape(rows, cols)
    euler = np.stack([data["phi1"], data["Phi"], data["phi2"]], axis=-1)
    channels = {c: data[c] for c in CHANNELS if c in dtype.names}
    meta = {"header": sections, "files": [cpr.name, crc.name]}
    return build_map(cpr, euler, data["phase"], phases, step, channels, meta)


register(Format("cpr", (".cpr", ".crc"), read=read))
