"""Oxford Channel Text Files (``.ctf``, HKL Channel 5 / AZtec exports): reader and writer.

Layout: a tab-separated header (``XCells``, ``YCells``, ``XStep``, ``YStep``, acquisition
values, ``Phases N`` followed by one line per phase
``a;b;c<TAB>alpha;beta;gamma<TAB>name<TAB>Laue group number<TAB>space group...``), the
column line ``Phase X Y Bands Error Euler1 Euler2 Euler3 MAD BC BS`` and one data row per
point. Euler angles are Bunge, in degrees; phase 0 means not indexed.

Reading is forgiving where a documented recovery exists and strict elsewhere:

* decimal commas (European Windows exports) are read as decimal points;
* columns are taken by the names of the column line (any order, extra columns become
  channels with lower-case names); without a column line the standard 11 are assumed;
* the grid comes from the X, Y columns: points may be in any order; when the header's
  XCells/YCells/XStep/YStep disagree with the points, the data wins and an
  :class:`~ebsdphase.core.errors.EbsdphaseWarning` says so;
* a truncated file (partial last line or partial last row), non-numeric fields and
  scattered (non-grid) points are a :class:`~ebsdphase.core.errors.MapReadError` naming the file
  and the problem.

Writing produces the standard header and the 11 standard columns (what MTEX, AZtecCrystal
and orix expect): Euler angles in degrees with 4 decimals, MAD with 4 decimals, Bands,
Error, BC and BS as integers (not-indexed pixels get Error 3, "no solution", when the map
has no error channel). A .ctf numbers phases 1..N in header order, so the map's phase ids
are renumbered in increasing order; a space group of 0 (unknown) is written as one of the
phase's Laue class (229 for bcc-sounding cubic names, else 225; 194 for 6/mmm, ...)
because orix requires one. Channels other than bands, error, mad, bc, bs cannot be stored
in a .ctf and are left out with a warning.
"""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np
from numba import njit

from ebsdphase.core.atomic import atomic_path
from ebsdphase.core.ebsdmap import EBSDMap, Phase
from ebsdphase.core.errors import EbsdphaseWarning, MapReadError
from ebsdphase.core.iron import is_bcc_iron
from ebsdphase.io import _text
from ebsdphase.io._vendor import OXFORD_LAUE, oxford_laue
from ebsdphase.io.registry import Format, register

STANDARD_COLUMNS = ("Phase", "X", "Y", "Bands", "Error", "Euler1", "Euler2", "Euler3",
                    "MAD", "BC", "BS")
#: map channel -> .ctf column written for it (in column order)
WRITTEN_CHANNELS = {"bands": "Bands", "error": "Error", "mad": "MAD", "bc": "BC", "bs": "BS"}
_LAUE_NUMBER = {name: number for number, name in OXFORD_LAUE.items()}
_ACQUISITION_LINE = "Euler angles refer to Sample Coordinate system (CS0)!"
_PHASE_LINE = re.compile(r"^\s*[-+\d.,eE]+;[-+\d.,eE]+;[-+\d.,eE]+\s*$")


# -- reading ----------------------------------------------------------------------------------

def _parse_header(buf: np.ndarray) -> tuple[dict, dict, list[str], list[Phase], int | None, int]:
    """(keys, acquisition, column names, phases, declared phase count, data start byte)."""
    keys: dict[str, str] = {}
    acquisition: dict[str, str] = {}
    columns: list[str] = []
    phases: list[Phase] = []
    declared: int | None = None
    for start, nxt, line in _text.iter_lines(buf):
        fields = [f.strip() for f in line.split("\t")]
        first = fields[0]
        tokens = line.split()
        if tokens and all(_text.is_number(t) for t in tokens):
            return keys, acquisition, columns, phases, declared, start
        if first.lower() == "phase" and len(fields) > 3:
            columns = [f for f in fields if f]
            return keys, acquisition, columns, phases, declared, nxt
        if _PHASE_LINE.match(first) and len(fields) >= 3:
            phases.append(_phase_from_fields(fields))
        elif first.startswith("Euler angles refer to"):
            rest = fields[1:]
            acquisition.update({rest[i]: rest[i + 1] for i in range(0, len(rest) - 1, 2)})
        elif first == "Phases":
            declared = _text.to_int(fields[1] if len(fields) > 1 else None)
        elif first:
            keys[first] = fields[1] if len(fields) > 1 else ""
    return keys, acquisition, columns, phases, declared, buf.size


def _phase_from_fields(fields: list[str]) -> Phase:
    abc = [_text.to_float(v, 0.0) for v in fields[0].split(";")]
    angles = [_text.to_float(v, 90.0) for v in fields[1].split(";")] if len(fields) > 1 else []
    angles = (angles + [90.0, 90.0, 90.0])[:3]
    name = fields[2] if len(fields) > 2 and fields[2] else "unnamed"
    laue = oxford_laue(_text.to_int(fields[3], 0)) if len(fields) > 3 else ""
    space_group = _text.to_int(fields[4], 0) if len(fields) > 4 else 0
    return Phase(name=name, laue=laue, lattice=tuple(abc[:3] + angles),
                 space_group=space_group or 0)


def _column_index(path: Path, columns: list[str], name: str) -> int:
    for i, c in enumerate(columns):
        if c.lower() == name.lower():
            return i
    raise MapReadError(path, f"no {name} column (columns: {' '.join(columns)})")


def read(path: Path) -> EBSDMap:
    """Read an Oxford .ctf file (see the module docstring for the rules)."""
    path = Path(path)
    buf, size, (keys, acquisition, columns, phase_list, declared, start) = _text.read_header(path, _parse_header)
    first_line = next((line for _, _, line in _text.iter_lines(buf, start, 1 << 16)
                       if line.strip()), None)
    if first_line is None:
        raise MapReadError(path, "no data rows after the header")
    ncols = len(first_line.split())
    if not columns:
        if ncols != len(STANDARD_COLUMNS):
            raise MapReadError(path, f"no column line (Phase X Y ...) and {ncols} fields per "
                                     f"row; expected the {len(STANDARD_COLUMNS)} standard ones")
        columns = list(STANDARD_COLUMNS)
    elif ncols != len(columns):
        raise MapReadError(path, f"the column line names {len(columns)} columns but the first "
                                 f"data row holds {ncols} fields")
    comma = "," in first_line or "," in keys.get("XStep", "")
    ip, ix, iy = (_column_index(path, columns, n) for n in ("Phase", "X", "Y"))
    ie = [_column_index(path, columns, n) for n in ("Euler1", "Euler2", "Euler3")]
    skip = {ip, ix, iy, *ie}
    # channels are float32 in the map: parsed as such, they are the map's arrays (no copy)
    data = _text.parse_file(path, buf, size, start, ncols, decimal_comma=comma,
                            narrow=frozenset(i for i in range(ncols) if i not in skip))
    del buf
    if data.shape[1] == 0:
        raise MapReadError(path, "no data rows after the header")
    step = (_text.to_float(keys.get("XStep")), _text.to_float(keys.get("YStep")))
    # Oxford scans are square: no hexagonal fallback
    place = _text.place_on_grid(path, data[ix], data[iy], step, hexagonal=False)
    _check_header_size(path, keys, place.shape)
    # each column goes as soon as it is used: on a 16 M-point map each float64 column is 128 MB
    data.release(ix, iy)

    phase = place.take(data[ip])
    if not _text.all_phase_numbers(phase):
        raise MapReadError(path, "the Phase column holds values that are not phase numbers "
                                 "(0 to 32767)")
    phase_id = phase.astype(np.int16)
    del phase
    data.release(ip)
    euler = [place.take(data[i]) for i in ie]
    finite = np.isfinite(euler[0]) & np.isfinite(euler[1]) & np.isfinite(euler[2])
    if not finite.all():
        phase_id[~finite] = 0
    phases = _phase_table(path, phase_list, declared, phase_id)
    quats = _text.euler_to_quaternions(*euler, phase_id, degrees=True)
    del euler, finite
    data.release(*ie)
    channels = {_text.channel_name(c): place.take(data[i]).astype(np.float32, copy=False)
                for i, c in enumerate(columns) if i not in skip}
    metadata = {"header": keys, "acquisition": acquisition, "euler_unit": "degree",
                "decimal_comma": comma}
    return EBSDMap(quaternions=quats, phase_id=phase_id, phases=phases, step=place.step,
                   channels=channels, metadata=metadata)


def _check_header_size(path: Path, keys: dict[str, str], shape: tuple[int, int]) -> None:
    hx, hy = _text.to_int(keys.get("XCells")), _text.to_int(keys.get("YCells"))
    if (hx is not None and hx != shape[1]) or (hy is not None and hy != shape[0]):
        warnings.warn(f"{path}: header says {hy} x {hx} cells (YCells x XCells) but the data "
                      f"holds {shape[0]} x {shape[1]}; using the data", EbsdphaseWarning,
                      stacklevel=4)


def _phase_table(path: Path, phase_list: list[Phase], declared: int | None,
                 phase_id: np.ndarray) -> dict[int, Phase]:
    if declared is not None and declared != len(phase_list):
        warnings.warn(f"{path}: header announces {declared} phases but lists "
                      f"{len(phase_list)}", EbsdphaseWarning, stacklevel=4)
    phases = {i + 1: p for i, p in enumerate(phase_list)}
    used = np.flatnonzero(np.bincount(phase_id.ravel()))
    unknown = [int(p) for p in used if p > 0 and int(p) not in phases]
    if unknown:
        warnings.warn(f"{path}: phase number(s) {unknown[:5]} used in the data are not in the "
                      "header; named 'phase N'", EbsdphaseWarning, stacklevel=4)
        for p in unknown:
            phases[p] = Phase(name=f"phase {p}", laue="")
    return phases


# -- writing ----------------------------------------------------------------------------------

@njit(cache=True)
def _format_rows(cols, decimals, out):  # pragma: no cover - numba
    """Write cols (k, n) as n tab-separated CRLF lines into out; returns the byte count."""
    k, n = cols.shape
    digits = np.empty(24, dtype=np.uint8)
    pos = 0
    for i in range(n):
        for j in range(k):
            v = cols[j, i]
            d = decimals[j]
            if v != v:  # NaN
                out[pos] = 78
                out[pos + 1] = 97
                out[pos + 2] = 78
                pos += 3
            else:
                scale = 10.0 ** d
                m = np.int64(np.rint(abs(v) * scale))
                if v < 0 and m != 0:
                    out[pos] = 45
                    pos += 1
                nd = 0
                while m > 0 or nd <= d:
                    digits[nd] = 48 + m % 10
                    m //= 10
                    nd += 1
                for t in range(nd - 1, -1, -1):
                    out[pos] = digits[t]
                    pos += 1
                    if t == d and d > 0:
                        out[pos] = 46
                        pos += 1
            out[pos] = 9 if j < k - 1 else 13
            pos += 1
        out[pos] = 10
        pos += 1
    return pos


def _laue_number(laue: str) -> int:
    return _LAUE_NUMBER.get(laue, 11)


def _space_group(phase: Phase) -> int:
    """The phase's space group, or a representative of its Laue class (orix needs one)."""
    if 1 <= phase.space_group <= 230:
        return phase.space_group
    if phase.laue == "m-3m":
        # the same rule as the out-of-range check reads back: a phase it cannot tell is
        # written as bcc iron, so a map does not come back as 100 % "another phase"
        return 225 if is_bcc_iron(phase) is False else 229
    return {"-1": 2, "2/m": 12, "mmm": 47, "4/m": 87, "4/mmm": 139, "-3": 148, "-3m": 166,
            "6/m": 175, "6/mmm": 194, "m-3": 204}.get(phase.laue, 225)


def _phase_line(phase: Phase) -> str:
    a, b, c, al, be, ga = (float(v) for v in phase.lattice)
    if a <= 0 or b <= 0 or c <= 0:  # unknown lattice: a valid placeholder, not zeros
        a = b = c = 1.0
        al, be, ga = (90.0, 90.0, 120.0) if phase.laue in ("6/mmm", "6/m", "-3m", "-3") \
            else (90.0, 90.0, 90.0)
    name = re.sub(r"[\t\r\n]+", " ", phase.name).strip() or "unnamed"
    return (f"{a:.6g};{b:.6g};{c:.6g}\t{al:.6g};{be:.6g};{ga:.6g}\t{name}\t"
            f"{_laue_number(phase.laue)}\t{_space_group(phase)}")


def write(ebsd: EBSDMap, path: Path) -> None:
    """Write ``ebsd`` as an Oxford .ctf (atomically); see the module docstring."""
    path = Path(path)
    rows, cols = ebsd.shape
    sx, sy = ebsd.step
    dropped = sorted(set(ebsd.channels) - set(WRITTEN_CHANNELS))
    if dropped:
        warnings.warn(f"{path}: a .ctf has no column for channel(s) {', '.join(dropped)}; "
                      "they are not written", EbsdphaseWarning, stacklevel=3)

    # .ctf phase numbers are 1..N in header order
    used = sorted(int(p) for p in np.unique(ebsd.phase_id) if p > 0)
    ids = sorted(set(ebsd.phases) | set(used))
    renumber = np.zeros(max(ids, default=0) + 1, dtype=np.int64)
    for new, old in enumerate(ids, start=1):
        renumber[old] = new
    pid = ebsd.phase_id.astype(np.int64).ravel()
    phase_col = np.where(pid > 0, renumber[np.clip(pid, 0, None)], 0)

    euler = np.degrees(ebsd.euler()).reshape(-1, 3)
    indexed = phase_col > 0
    euler[~indexed] = 0.0
    cc, rr = np.meshgrid(np.arange(cols), np.arange(rows))
    n = rows * cols

    def chan(name: str, default: np.ndarray | float) -> np.ndarray:
        if name in ebsd.channels:
            return np.asarray(ebsd.channels[name], np.float64).ravel()
        return np.broadcast_to(np.asarray(default, np.float64), (n,))

    def as_int(v: np.ndarray) -> np.ndarray:
        return np.rint(np.nan_to_num(v, nan=0.0))

    xy_dec = max(4, int(math.ceil(-math.log10(min(sx, sy)))) + 3)
    table = np.stack([
        phase_col.astype(np.float64), cc.ravel() * sx, rr.ravel() * sy,
        as_int(chan("bands", 0.0)), as_int(chan("error", np.where(indexed, 0.0, 3.0))),
        euler[:, 0], euler[:, 1], euler[:, 2],
        chan("mad", 0.0), as_int(chan("bc", 0.0)), as_int(chan("bs", 0.0)),
    ])
    decimals = np.array([0, xy_dec, xy_dec, 0, 0, 4, 4, 4, 4, 0, 0], dtype=np.int64)
    finite = np.where(np.isfinite(table), np.abs(table), 0.0)
    widths = [len(str(int(m))) + int(d) + 3 for m, d in zip(finite.max(axis=1, initial=0),
                                                              decimals)]
    out = np.empty(n * (sum(widths) + 2) + 16, dtype=np.uint8)
    length = _format_rows(np.ascontiguousarray(table), decimals, out)

    acq = ebsd.metadata.get("acquisition", {}) if isinstance(ebsd.metadata, dict) else {}
    acq_values = {"Mag": "0", "Coverage": "100", "Device": "0", "KV": "0", "TiltAngle": "70",
                  "TiltAxis": "0"}
    acq_values.update({k: str(v) for k, v in acq.items() if k in acq_values})
    lines = [
        "Channel Text File",
        f"Prj\t{Path(ebsd.source).name if ebsd.source else 'ebsdphase'}",
        "Author\tebsdphase",
        "JobMode\tGrid",
        f"XCells\t{cols}",
        f"YCells\t{rows}",
        f"XStep\t{sx:.10g}",
        f"YStep\t{sy:.10g}",
        "AcqE1\t0",
        "AcqE2\t0",
        "AcqE3\t0",
        _ACQUISITION_LINE + "".join(f"\t{k}\t{v}" for k, v in acq_values.items()),
        f"Phases\t{len(ids)}",
        *(_phase_line(ebsd.phases.get(i, Phase(f"phase {i}", laue=""))) for i in ids),
        "\t".join(STANDARD_COLUMNS),
    ]
    header = ("\r\n".join(lines) + "\r\n").encode("utf-8")
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(header)
        f.write(out[:length].data)


register(Format("ctf", (".ctf",), read=read, write=write))
