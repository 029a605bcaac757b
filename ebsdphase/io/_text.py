"""What the text map readers (.ctf, .ang, OIM grain files) share.

* :func:`parse_numbers`: the numeric body of a text map, parsed by numba straight from the
  raw bytes, in chunks cut at line ends and parsed in parallel. ``numpy.loadtxt`` turns
  every field into a Python-level token first and needs seconds for a 1 M-point map; this
  parser reads each byte once, and ``read_map`` on such a .ctf is about 10x faster than
  ``loadtxt`` alone (``benchmarks/bench_read.py``). Fields are separated by spaces or tabs,
  lines by ``\\n`` (a ``\\r`` before it is ignored), blank lines are skipped. With
  ``decimal_comma`` a ``,`` is the decimal mark (European Channel 5 exports).
* :func:`place_on_grid`: the strict square-grid placement of scan points (x, y), with the
  diagnoses a user can act on (truncated last row, scattered points, duplicates). Points may
  come in any order. Hexagonal scans are resampled by the rule of :mod:`ebsdphase.io._grid`.
* :func:`euler_to_quaternions`: Bunge Euler angles -> float32 quaternions with the zero
  quaternion on non-indexed pixels, in one parallel numba pass (the same formula as
  :func:`ebsdphase.core.euler.euler_to_quat`).
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit, prange

from ebsdphase.core.errors import EbsdphaseWarning, ImpossibleValues, MapReadError
from ebsdphase.io import _grid

# status codes returned by the numba parser
_OK, _BAD_NUMBER, _FEW_FIELDS, _MANY_FIELDS, _FULL = 0, 1, 2, 3, 4

# exact doubles: m / 10**k is then correctly rounded for m < 2**53, as strtod would do
_POW10 = np.array([10.0**k for k in range(23)], dtype=np.float64)

_SPACE, _TAB, _CR, _LF = 32, 9, 13, 10


@njit(cache=True, nogil=True)
def _is_blank(c):  # pragma: no cover - numba
    return c == _SPACE or c == _TAB or c == _CR


@njit(cache=True, nogil=True)
def _number(buf, pos, n, comma, pow10):  # pragma: no cover - numba
    """Parse one number at buf[pos]; returns (value, end position, ok)."""
    neg = False
    c = buf[pos]
    if c == 45:  # '-'
        neg = True
        pos += 1
    elif c == 43:  # '+'
        pos += 1
    mant = 0
    ndig = 0
    exp10 = 0
    seen = False
    while pos < n:
        d = buf[pos] - 48
        if d < 0 or d > 9:
            break
        seen = True
        if ndig < 18:
            mant = mant * 10 + d
            if mant > 0:
                ndig += 1
        else:
            exp10 += 1  # digits beyond int64 precision only scale the value
        pos += 1
    if pos < n and (buf[pos] == 46 or (comma and buf[pos] == 44)):
        pos += 1
        while pos < n:
            d = buf[pos] - 48
            if d < 0 or d > 9:
                break
            seen = True
            if ndig < 18:
                mant = mant * 10 + d
                if mant > 0:
                    ndig += 1
                exp10 -= 1
            pos += 1
    if not seen:
        # NaN is the one non-numeric token vendors write (empty cells of AZtec exports)
        if pos + 2 < n and (buf[pos] | 32) == 110 and (buf[pos + 1] | 32) == 97 \
                and (buf[pos + 2] | 32) == 110:
            return np.nan, pos + 3, True
        return 0.0, pos, False
    if pos < n and (buf[pos] == 101 or buf[pos] == 69):  # exponent
        pos += 1
        esign = 1
        if pos < n and (buf[pos] == 45 or buf[pos] == 43):
            if buf[pos] == 45:
                esign = -1
            pos += 1
        e = 0
        edig = 0
        while pos < n:
            d = buf[pos] - 48
            if d < 0 or d > 9:
                break
            if e < 10000:
                e = e * 10 + d
            edig += 1
            pos += 1
        if edig == 0:
            return 0.0, pos, False
        exp10 += esign * e
    value = float(mant)
    # exact powers of ten (<= 1e22) keep typical values correctly rounded; extreme
    # exponents, never seen in EBSD files, only need to land close
    while exp10 < -22 and value != 0.0:
        value /= 1e22
        exp10 += 22
    while exp10 > 22 and value != np.inf:
        value *= 1e22
        exp10 -= 22
    if exp10 < 0:
        value = value / pow10[max(-exp10, 0) if exp10 >= -22 else 0]
    elif exp10 > 0:
        value = value * pow10[min(exp10, 22)]
    if neg:
        value = -value
    return value, pos, True


@njit(cache=True, nogil=True)
def _parse_body(buf, pos, end, ncols, comma, skip_rest, out, off, cap,
                pow10):  # pragma: no cover - numba
    """Parse the lines of buf[pos:end] into out[:, off:off + cap] (column-major).

    Returns (rows, status, error position). One flat loop over the bytes: a call per field
    and a tuple return cost 5x in throughput, so the common number shape (sign, digits,
    point, digits) is parsed inline; anything else (exponent, NaN, > 18 digits, garbage)
    goes through :func:`_number`, which also decides whether the field is an error.
    """
    row = 0
    col = 0
    line_start = pos
    while pos < end:
        c = buf[pos]
        if c <= _SPACE:  # one compare for the common case of a field's first byte
            if c == _LF:
                if col != 0:
                    if col < ncols:
                        return row, _FEW_FIELDS, line_start
                    row += 1
                    col = 0
                pos += 1
                line_start = pos
                continue
            if c == _SPACE or c == _TAB or c == _CR:
                pos += 1
                continue
            return row, _BAD_NUMBER, pos  # another control character
        if col == 0 and row >= cap:
            return row, _FULL, line_start
        if col >= ncols:
            if not skip_rest:
                return row, _MANY_FIELDS, line_start
            while pos < end and buf[pos] != _LF:
                pos += 1
            continue
        field_start = pos
        neg = False
        if c == 45:
            neg = True
            pos += 1
        mant = 0
        ndig = 0
        while pos < end:
            d = np.uint64(buf[pos]) - np.uint64(48)  # wraps: one unsigned compare per digit
            if d > 9:
                break
            mant = mant * 10 + np.int64(d)
            ndig += 1
            pos += 1
        frac = 0
        if pos < end and (buf[pos] == 46 or (comma and buf[pos] == 44)):
            pos += 1
            while pos < end:
                d = np.uint64(buf[pos]) - np.uint64(48)
                if d > 9:
                    break
                mant = mant * 10 + np.int64(d)
                frac += 1
                pos += 1
        # a stray control character after the number is caught at the top of the loop
        done = pos >= end or buf[pos] <= _SPACE
        if done and ndig + frac > 0 and ndig + frac <= 18:
            v = mant / pow10[frac]
            out[col, off + row] = -v if neg else v
        else:
            v, pos, ok = _number(buf, field_start, end, comma, pow10)
            if not ok or not (pos >= end or _is_blank(buf[pos]) or buf[pos] == _LF):
                return row, _BAD_NUMBER, field_start
            out[col, off + row] = v
        col += 1
    if col != 0:
        if col < ncols:
            return row, _FEW_FIELDS, line_start
        row += 1
    return row, _OK, pos


@njit(cache=True, parallel=True)
def _parse_chunks(buf, bounds, ncols, comma, skip_rest, out, offsets, pow10,
                  rows, status, errpos):  # pragma: no cover - numba
    """Parse chunk k = buf[bounds[k]:bounds[k+1]] (cut after a newline) into the columns
    out[:, offsets[k]:offsets[k+1]], all chunks in parallel."""
    for k in prange(bounds.size - 1):
        # the whole (C-contiguous) array and an offset: a slice would be typed as 'any
        # layout' and index ~10 % slower
        r, st, p = _parse_body(buf, bounds[k], bounds[k + 1], ncols, comma, skip_rest, out,
                               offsets[k], offsets[k + 1] - offsets[k], pow10)
        rows[k] = r
        status[k] = st
        errpos[k] = p


class _ParseFailure(Exception):
    def __init__(self, status: int, pos: int, rows: int):
        self.status, self.pos, self.rows = status, pos, rows


def _chunk_bounds(buf: np.ndarray, start: int, end: int) -> np.ndarray:
    """Chunk limits in buf[start:end], each cut just after a newline (>= 4 MB a chunk)."""
    from numba import get_num_threads

    k = max(1, min(4 * get_num_threads(), (end - start) >> 22))
    cuts = [start]
    for j in range(1, k):
        target = start + (end - start) * j // k
        window = buf[target:min(end, target + (1 << 16))]  # a line is far shorter than that
        nl = int(np.argmax(window == _LF))
        cut = target + nl + 1
        if window.size and window[nl] == _LF and cuts[-1] < cut < end:
            cuts.append(cut)
    cuts.append(end)
    return np.asarray(cuts, dtype=np.int64)


def _parse_chunk(buf: np.ndarray, start: int, end: int, ncols: int, comma: bool,
                 skip_rest: bool) -> np.ndarray:
    bounds = _chunk_bounds(buf, start, end)
    nchunks = bounds.size - 1
    # numpy's vectorised count is twice as fast as a numba loop here
    counts = np.array([np.count_nonzero(buf[a:b] == _LF) for a, b in zip(bounds[:-1], bounds[1:])],
                      dtype=np.int64)
    offsets = np.zeros(nchunks + 1, dtype=np.int64)
    np.cumsum(counts + 1, out=offsets[1:])  # a chunk holds at most (newlines + 1) rows
    out = np.empty((ncols, int(offsets[-1])), dtype=np.float64)
    rows = np.zeros(nchunks, dtype=np.int64)
    status = np.zeros(nchunks, dtype=np.int64)
    errpos = np.zeros(nchunks, dtype=np.int64)
    _parse_chunks(buf, bounds, ncols, comma, skip_rest, out, offsets, _POW10, rows, status,
                  errpos)
    failed = np.flatnonzero(status != _OK)
    if failed.size:
        k = int(failed[0])
        raise _ParseFailure(int(status[k]), int(errpos[k]), int(offsets[k] + rows[k]))
    if nchunks == 1 or np.all(rows[:-1] == counts[:-1] + 1):
        return out[:, :int(offsets[-2] + rows[-1])]
    # chunks hold fewer rows than their room (a chunk ends on a newline; blank lines): close
    # the gaps in place, chunk by chunk to the left, instead of concatenating a second copy
    # of the table (1.4 GiB for a 4000 x 4000 .ctf)
    filled = 0
    for k in range(nchunks):
        a, n = int(offsets[k]), int(rows[k])
        if a != filled:
            out[:, filled:filled + n] = out[:, a:a + n]  # numpy buffers an overlapping copy
        filled += n
    return out[:, :filled]


def line_number(buf: np.ndarray, pos: int) -> int:
    """1-based line number of byte ``pos``."""
    return int(np.count_nonzero(buf[:pos] == _LF)) + 1


def line_text(buf: np.ndarray, pos: int, limit: int = 60) -> str:
    """The line holding byte ``pos``, decoded and shortened for an error message."""
    lo = pos
    while lo > 0 and buf[lo - 1] != _LF:
        lo -= 1
    hi = pos
    while hi < buf.size and buf[hi] != _LF and hi - lo < limit + 1:
        hi += 1
    text = bytes(buf[lo:hi]).decode("latin-1").rstrip("\r")
    return text[:limit] + ("..." if hi - lo > limit else "")


def _field_text(buf: np.ndarray, pos: int) -> str:
    hi = pos
    while hi < buf.size and buf[hi] not in (_SPACE, _TAB, _CR, _LF) and hi - pos < 30:
        hi += 1
    return bytes(buf[pos:hi]).decode("latin-1")


def parse_numbers(path: Path, buf: np.ndarray, start: int, ncols: int, *,
                  decimal_comma: bool = False, skip_rest: bool = False, line_offset: int = 0,
                  final: bool = True) -> np.ndarray:
    """Parse the numeric table in ``buf[start:]`` (raw file bytes) -> (ncols, points) float64.

    Column-major, so that each column (``table[j]``) is a contiguous array.

    Every line must hold ``ncols`` numbers; with ``skip_rest`` anything after them (e.g. a
    phase name) is ignored, otherwise a longer line is an error. Errors are
    :class:`MapReadError` naming the file, the line and the problem; a last line with too few
    fields is reported as a truncated file (only when ``final``: ``buf`` ends the file).
    ``line_offset``: lines of the file before ``buf`` (for the line numbers of errors).
    """
    try:
        return _parse_chunk(buf, start, buf.size, ncols, decimal_comma, skip_rest)
    except _ParseFailure as f:
        line = line_number(buf, f.pos) + line_offset
        if f.status == _BAD_NUMBER:
            raise MapReadError(path, f"line {line}: non-numeric field "
                                     f"{_field_text(buf, f.pos)!r}") from None
        if f.status == _MANY_FIELDS:
            raise MapReadError(path, f"line {line}: more than {ncols} fields "
                                     f"({line_text(buf, f.pos)!r})") from None
        if f.status == _FEW_FIELDS:
            nl = np.flatnonzero(buf[f.pos:] == _LF)
            after = buf[f.pos + int(nl[0]) + 1:] if nl.size else buf[:0]
            last = final and not np.any(after > _SPACE)
            if last:
                raise MapReadError(path, f"file is truncated: the last line ({line}) holds "
                                         f"fewer than {ncols} fields") from None
            raise MapReadError(path, f"line {line}: fewer than {ncols} fields "
                                     f"({line_text(buf, f.pos)!r})") from None
        raise MapReadError(path, f"line {line}: cannot parse the data") from None


#: files up to this size are read and parsed whole (fastest: one allocation, one parallel
#: pass); bigger ones block by block (:func:`parse_file`), so that the text of a big map
#: and its table are never in memory together (a 4000 x 4000 .ctf: 1 GiB of text, 1.4 GiB
#: as a float64 table), their header from the first HEAD_BYTES
WHOLE_BYTES = 256 << 20
HEAD_BYTES = 4 << 20
#: the text parsed at a time in a big file
BLOCK_BYTES = 32 << 20


class Table:
    """The columns of a parsed numeric table: ``table[j]`` is column ``j`` as a contiguous
    (points,) array, float64, or float32 for the columns parsed as ``narrow``."""

    def __init__(self, columns: list[np.ndarray | None]) -> None:
        self.columns = columns
        self.rows = int(columns[0].size) if columns and columns[0] is not None else 0

    def __getitem__(self, j: int) -> np.ndarray:
        col = self.columns[j]
        if col is None:
            raise KeyError(f"column {j} was released")
        return col

    def release(self, *js: int) -> None:
        """Drop columns no longer needed (their memory goes once no grid views them)."""
        for j in js:
            self.columns[j] = None

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.columns), self.rows


def _head_holds_data(head: np.ndarray, size: int, start: int) -> bool:
    """True when ``head`` is the whole file or holds the header and a whole first data line
    after ``start`` (what a reader needs to know the columns before parsing in blocks)."""
    return head.size == size or bool(np.any(head[start:start + (1 << 16)] == _LF))


def read_header(path: Path, parse):  # noqa: ANN001, ANN201 - a reader's header parser and its result
    """``(bytes, file size, parse(bytes))`` for a reader whose ``parse(buf)`` returns the
    header with the data's start byte last: the first :data:`HEAD_BYTES` of a file over
    :data:`WHOLE_BYTES` (the rest is parsed in blocks by :func:`parse_file`), or the whole
    file when it is smaller or the head does not reach past the header and a first data line."""
    buf, size = _read(path, head_only=True)
    header = parse(buf)
    if not _head_holds_data(buf, size, header[-1]):  # a long header: read it all
        buf, size = _read(path, head_only=False)
        header = parse(buf)
    return buf, size, header


def parse_file(path: Path, head: np.ndarray, size: int, start: int, ncols: int, *,
               decimal_comma: bool = False, skip_rest: bool = False, narrow: frozenset[int] = frozenset()) -> Table:
    """Parse the numeric table of ``path`` from byte ``start`` to the end, as
    :func:`parse_numbers` does (same rules, same errors, line numbers of the whole file).

    ``head`` holds the file's first bytes (the whole file when ``head.size == size``: parsed
    in one go); a bigger file is read into one reused buffer of :data:`BLOCK_BYTES` at a
    time, each block cut after its last newline, parsed, and its rows copied into the
    columns, so the text is never all in memory. The columns are allocated once, from the
    first block's bytes per row (with room to spare: pages never written cost no memory),
    and grown only if the rest of the file has shorter lines. Columns in ``narrow`` are
    kept as float32 (channels that end up float32 anyway), the others as float64
    (coordinates, angles, phase numbers).
    """
    dtypes = [np.float32 if j in narrow else np.float64 for j in range(ncols)]
    if head.size == size:
        data = parse_numbers(path, head, start, ncols, decimal_comma=decimal_comma, skip_rest=skip_rest)
        return Table([data[j].astype(np.float32) if j in narrow else data[j] for j in range(ncols)])
    block_bytes = BLOCK_BYTES
    buf = np.empty(block_bytes * 2, np.uint8)  # the carried part of a line + a block
    cols: list[np.ndarray] | None = None
    n = have = 0
    lines_before = line_number(head, start) - 1
    try:
        with open(path, "rb") as f:
            f.seek(start)
            while True:
                if buf.size < have + block_bytes:  # a line longer than a block: make room
                    bigger = np.empty(have + block_bytes, np.uint8)
                    bigger[:have] = buf[:have]
                    buf = bigger
                got = _read_into(f, buf[have:have + block_bytes])
                total = have + got
                final = got < block_bytes
                cut = total if final else _last_line_end(buf[:total])
                if cut is None:  # no line end yet: read on
                    have = total
                    continue
                block = buf[:cut]
                data = parse_numbers(path, block, 0, ncols, decimal_comma=decimal_comma, skip_rest=skip_rest,
                                     line_offset=lines_before, final=final)
                rows = data.shape[1]
                if cols is None:  # bytes per row of this block -> rows in the file, +10 %
                    guess = rows if final else int(rows * (size - start) / max(cut, 1) * 1.1) + 1024
                    cols = [np.empty(max(guess, rows), dt) for dt in dtypes]
                if n + rows > cols[0].size:  # shorter lines later on (non-indexed rows): grow
                    read = f.tell() - (total - cut) - start  # bytes of the table parsed so far
                    left = max(size - start - read, 0)
                    grown = n + rows + int((n + rows) / max(read, 1) * left * 1.25) + 1024
                    bigger = [np.empty(grown, c.dtype) for c in cols]
                    for b, c in zip(bigger, cols):
                        b[:n] = c[:n]  # only what is filled: the new tail's pages stay unwritten
                    cols = bigger
                for j in range(ncols):
                    cols[j][n:n + rows] = data[j]
                n += rows
                del data
                if final:
                    break
                lines_before += int(np.count_nonzero(block == _LF))
                have = total - cut
                buf[:have] = buf[cut:total]  # the unfinished line moves to the front
    except OSError as exc:
        raise MapReadError(path, f"cannot read the file ({exc.strerror})") from None
    assert cols is not None
    return Table([c[:n] for c in cols])


def _read_into(f, out: np.ndarray) -> int:
    """Fill ``out`` from ``f`` (fewer bytes only at the end of the file)."""
    view, done = memoryview(out), 0
    while done < out.size:
        got = f.readinto(view[done:])
        if not got:
            break
        done += got
    return done


def _last_line_end(block: np.ndarray) -> int | None:
    """Just after the last newline of ``block`` (None: it has none)."""
    tail = min(block.size, 1 << 20)  # a line is far shorter than 1 MiB
    nl = np.flatnonzero(block[block.size - tail:] == _LF)
    if nl.size:
        return block.size - tail + int(nl[-1]) + 1
    nl = np.flatnonzero(block[:block.size - tail] == _LF)
    return int(nl[-1]) + 1 if nl.size else None


@njit(cache=True)
def _phase_numbers(v):  # pragma: no cover - numba
    for x in v:
        if not (0.0 <= x <= 32767.0) or x != np.floor(x):  # NaN fails the range test
            return False
    return True


def all_phase_numbers(values: np.ndarray) -> bool:
    """Every value a whole number in 0..32767 (a phase id), checked without a temporary
    array the size of the map."""
    return bool(values.size == 0 or _phase_numbers(np.ascontiguousarray(values).ravel()))


def read_bytes(path: Path) -> np.ndarray:
    """The whole file as a uint8 array (one read; the parsers work on bytes)."""
    return _read(path, head_only=False)[0]


def _read(path: Path, head_only: bool) -> tuple[np.ndarray, int]:
    """The file's bytes (with ``head_only``, only :data:`HEAD_BYTES` of a file over
    :data:`WHOLE_BYTES`) and its size; one-line errors for an unreadable or empty file."""
    try:
        size = path.stat().st_size
        count = min(size, HEAD_BYTES) if head_only and size > WHOLE_BYTES else size
        with open(path, "rb") as f:
            data = np.fromfile(f, dtype=np.uint8, count=count)  # no intermediate bytes object
    except OSError as exc:
        raise MapReadError(path, f"cannot read the file ({exc.strerror})") from None
    if data.size == size and re.search(rb"\S", memoryview(data)) is None:  # stops at the first non-blank byte
        raise MapReadError(path, "file is empty")
    return data, size


def iter_lines(buf: np.ndarray, start: int = 0, limit_bytes: int = 4 << 20):
    """Yield (line start, next line start, decoded line without EOL) from ``start`` on.

    For headers only: stops after ``limit_bytes`` so a header-less 100 MB file is not
    decoded line by line.
    """
    raw = bytes(buf[start:start + limit_bytes])
    pos = 0
    while pos < len(raw):
        nl = raw.find(b"\n", pos)
        nxt = len(raw) if nl < 0 else nl + 1
        yield start + pos, start + nxt, raw[pos:nxt].decode("latin-1").rstrip("\r\n")
        if nl < 0:
            return
        pos = nxt


_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def is_number(token: str) -> bool:
    return bool(_NUMBER.match(token)) or token.lower() == "nan"


def to_float(text: str | None, default: float | None = None) -> float | None:
    """A header value as float (decimal comma accepted), ``default`` when absent/garbled."""
    if text is None:
        return default
    try:
        v = float(text.strip().replace(",", "."))
    except ValueError:
        return default
    return v if math.isfinite(v) else default


def to_int(text: str | None, default: int | None = None) -> int | None:
    v = to_float(text)
    if v is None or v != int(v):
        return default
    return int(v)


def channel_name(column: str) -> str:
    """A file's column name as a channel name: lower case, words joined by '_'."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", column.strip()).strip("_").lower()
    return name or "unnamed"


# -- placing points on the grid ----------------------------------------------------------------

@dataclass
class Placement:
    """Where each pixel's values come from.

    ``index`` is None when the points are already the grid in row-major order (the usual
    case: no copy needed); otherwise (rows, cols) int64 indices into the point arrays.
    """

    shape: tuple[int, int]
    step: tuple[float, float]
    index: np.ndarray | None
    hexagonal: bool = False

    def take(self, values: np.ndarray) -> np.ndarray:
        """Per-point values (n,) -> grid (rows, cols)."""
        if self.index is None:
            return values.reshape(self.shape)
        return values[self.index]


@njit(cache=True, nogil=True)
def _cells(x, y, x0, y0, sx, sy, tol):  # pragma: no cover - numba
    """Row-major cell of each point; (lin, rows, cols, ordered, first off-grid point)."""
    n = x.size
    c = np.empty(n, dtype=np.int64)
    r = np.empty(n, dtype=np.int64)
    maxc = 0
    maxr = 0
    for i in range(n):
        fc = (x[i] - x0) / sx
        fr = (y[i] - y0) / sy
        rc = np.rint(fc)
        rr = np.rint(fr)
        if not (abs(fc - rc) <= tol and abs(fr - rr) <= tol) or rc > 1e9 or rr > 1e9:
            return c, 0, 0, False, i
        c[i] = int(rc)
        r[i] = int(rr)
        if c[i] > maxc:
            maxc = c[i]
        if r[i] > maxr:
            maxr = r[i]
    ncols = maxc + 1
    ordered = True
    for i in range(n):
        c[i] = r[i] * ncols + c[i]
        if c[i] != i:
            ordered = False
    return c, maxr + 1, ncols, ordered, -1


@njit(cache=True, nogil=True)
def _invert(lin, total):  # pragma: no cover - numba
    index = np.full(total, -1, dtype=np.int64)
    for i in range(lin.size):
        if index[lin[i]] != -1:
            return index, i
        index[lin[i]] = i
    return index, -1


def _data_step(v: np.ndarray) -> float | None:
    """Smallest spacing between distinct coordinate values (None for a single value)."""
    u = np.unique(np.round(v, 6))
    d = np.diff(u)
    d = d[d > 1e-6]
    # 9 significant digits: 0.2, not the 0.1999999999999993 of a float difference
    return float(f"{d.min():.9g}") if d.size else None


def _square(path: Path, x: np.ndarray, y: np.ndarray, sx: float, sy: float
            ) -> tuple[Placement | None, str]:
    """Strict square placement; (None, reason) when the points are not that grid."""
    x0, y0 = float(x.min()), float(y.min())
    lin, nrows, ncols, ordered, bad = _cells(x, y, x0, y0, sx, sy, 0.2)
    if bad >= 0:
        return None, (f"point {bad + 1} (x {x[bad]:g}, y {y[bad]:g}) is off the "
                      f"{sx:g} x {sy:g} um grid: not a square-grid map")
    total = nrows * ncols
    if ordered and total == x.size:
        return Placement((nrows, ncols), (sx, sy), None), ""
    if total > 50 * x.size + 1_000_000:
        return None, (f"{x.size} points scattered over a {nrows} x {ncols} grid: "
                      "not a grid map")
    index, dup = _invert(lin, total)
    if dup >= 0:
        return None, f"two points at x {x[dup]:g}, y {y[dup]:g}: not a grid map"
    missing = np.flatnonzero(index < 0)
    if missing.size == 0:
        return Placement((nrows, ncols), (sx, sy), index.reshape(nrows, ncols)), ""
    if missing[0] >= (nrows - 1) * ncols and missing[-1] == total - 1 \
            and missing.size == total - missing[0]:
        return None, (f"file is truncated: the last row holds {ncols - missing.size} of "
                      f"{ncols} points")
    return None, (f"{missing.size} of {total} grid cells ({nrows} x {ncols}) have no point: "
                  "not a complete grid map")


def place_on_grid(path: Path, x: np.ndarray, y: np.ndarray,
                  step: tuple[float | None, float | None] = (None, None),
                  hexagonal: bool | None = None) -> Placement:
    """Place scan points on a grid; raise :class:`MapReadError` naming the problem.

    ``step`` comes from the header (None where it lacks one) and is checked against the
    points; when the points do not fit the header step they are placed with the spacing
    found in the data (and a warning). ``hexagonal=True`` (an ``# GRID: HexGrid`` header) or
    rows found shifted by half a step select the hexagonal resampling of
    :mod:`ebsdphase.io._grid`; a HexGrid header over square data is read as square.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if x.size == 0:
        raise MapReadError(path, "no data points")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise MapReadError(path, "x/y coordinates hold NaN or infinite values")
    hsx, hsy = (s if s is not None and math.isfinite(s) and s > 0 else None for s in step)
    odd = [f"{s:g}" for s in step if s is not None and not (math.isfinite(s) and s > 0)]
    if odd:
        warnings.warn(f"{path}: header step {' x '.join(odd)} is not a length; the step of the x/y "
                      "coordinates is used", EbsdphaseWarning, stacklevel=3)
    sx, sy = hsx, hsy
    if sx is None:
        sx = _data_step(x)
    if sy is None:
        sy = _data_step(y)
    sx = sx if sx is not None else (sy or 1.0)
    sy = sy if sy is not None else sx

    if not hexagonal:
        placement, reason = _square(path, x, y, sx, sy)
        if placement is not None:
            return placement
        # The header step may disagree with the points: retry with the data's own spacing.
        dx, dy = _data_step(x) or sx, _data_step(y) or sy
        if (hsx is not None or hsy is not None) and not (np.isclose(dx, sx) and np.isclose(dy, sy)):
            retry, _ = _square(path, x, y, dx, dy)
            if retry is not None:
                warnings.warn(f"{path}: header step {sx:g} x {sy:g} um does not match the "
                              f"points; using their spacing {dx:g} x {dy:g} um",
                              EbsdphaseWarning, stacklevel=3)
                return retry
        if hexagonal is None and _grid.is_hex_grid(x, y, 2 * dx, dy):
            try:
                return _hex(path, x, y, None, hsy)
            except MapReadError:
                pass  # not a hex grid either: the square-grid diagnosis is the useful one
        raise MapReadError(path, reason)
    # hexagonal header: believe it only if the rows really are shifted
    hx = hsx if hsx is not None else _row_step(x, y, sy)
    if not _grid.is_hex_grid(x, y, hx, sy):
        placement, reason = _square(path, x, y, _data_step(x) or hx, sy)
        if placement is None:
            raise MapReadError(path, reason)
        warnings.warn(f"{path}: header says HexGrid but the points lie on a square grid; "
                      "read as square", EbsdphaseWarning, stacklevel=3)
        return placement
    return _hex(path, x, y, hsx, hsy)


def _row_step(x: np.ndarray, y: np.ndarray, sy: float) -> float:
    """Spacing of the points within a row (on a hex grid, twice the all-rows spacing)."""
    first_row = np.abs(y - y.min()) < 0.25 * sy
    return _data_step(x[first_row]) or _data_step(x) or 1.0


def _hex(path: Path, x: np.ndarray, y: np.ndarray, sx: float | None, sy: float | None
         ) -> Placement:
    header_sy = sy is not None
    sy = sy or _data_step(y) or 1.0
    sx = sx or _row_step(x, y, sy)
    fr = (y - y.min()) / sy
    rows = np.rint(fr).astype(np.int64)
    if np.abs(fr - rows).max() > 0.2:
        raise MapReadError(path, f"rows are not {sy:g} um apart: not a hexagonal grid map")
    counts = np.bincount(rows)
    if (counts == 0).any():
        raise MapReadError(path, f"hexagonal grid has {int((counts == 0).sum())} empty rows")
    order = np.lexsort((x, rows))
    xs = x[order]
    starts = np.zeros(counts.size, dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    first = xs[starts]
    offset = (first - x.min()) / sx
    shifted = np.abs(offset - 0.5) < 0.2
    if not np.all(shifted | (np.abs(offset) < 0.2)):
        raise MapReadError(path, "rows start neither at the first column nor half a step "
                                 "from it: not a hexagonal grid map")
    # every point at its row's first x + k steps, k = 0, 1, 2, ...
    k = np.arange(x.size) - np.repeat(starts, counts)
    off = np.abs((xs - np.repeat(first, counts)) / sx - k)
    if off.max() > 0.2:
        i = int(order[np.argmax(off)])
        raise MapReadError(path, f"point {i + 1} (x {x[i]:g}, y {y[i]:g}) is off the "
                                 f"{sx:g} um hexagonal grid: not a grid map")
    # rows of one kind (shifted or not) hold the same number of points; a short last row
    # is a truncated file
    for kind in (False, True):
        n_kind = counts[shifted == kind]
        if n_kind.size and (n_kind != n_kind[0]).any():
            bad = int(np.flatnonzero((shifted == kind) & (counts != n_kind[0]))[0])
            if bad == counts.size - 1 and counts[bad] < n_kind[0]:
                raise MapReadError(path, f"file is truncated: the last row holds {counts[bad]} "
                                         f"of {n_kind[0]} points")
            raise MapReadError(path, f"hexagonal grid row {bad + 1} holds {counts[bad]} points, "
                                     f"other rows {n_kind[0]}: not a grid map")
    index = _grid.hex_to_square_index(x, y, sx, sy)
    if not header_sy and rows.max() > 0:  # spacing over all rows, not one rounded gap
        sy = float(f"{(y.max() - y.min()) / rows.max():.9g}")
    warnings.warn(f"{path}: {_grid.HEX_WARNING}: {counts.size} rows of "
                  f"{'/'.join(str(c) for c in sorted(set(counts.tolist()), reverse=True))} "
                  f"points -> {index.shape[0]} x {index.shape[1]} pixels of "
                  f"{sx:g} x {sy:g} um", EbsdphaseWarning, stacklevel=3)
    return Placement(index.shape, (float(sx), float(sy)), index, hexagonal=True)


# -- orientations ------------------------------------------------------------------------------

@njit(cache=True, parallel=True)
def _quats(e1, e2, e3, phase, scale, out):  # pragma: no cover - numba
    for i in prange(e1.size):
        if phase[i] <= 0:
            out[i, 0] = 0.0
            out[i, 1] = 0.0
            out[i, 2] = 0.0
            out[i, 3] = 0.0
            continue
        phi1 = e1[i] * scale
        Phi = e2[i] * scale
        phi2 = e3[i] * scale
        sigma = 0.5 * (phi1 + phi2)
        delta = 0.5 * (phi1 - phi2)
        c = math.cos(0.5 * Phi)
        s = math.sin(0.5 * Phi)
        w = c * math.cos(sigma)
        sign = -1.0 if w < 0 else 1.0
        out[i, 0] = sign * w
        out[i, 1] = sign * -s * math.cos(delta)
        out[i, 2] = sign * -s * math.sin(delta)
        out[i, 3] = sign * -c * math.sin(sigma)


def euler_to_quaternions(e1: np.ndarray, e2: np.ndarray, e3: np.ndarray,
                         phase_id: np.ndarray, degrees: bool = False) -> np.ndarray:
    """Bunge Euler angle grids (rows, cols) -> (rows, cols, 4) float32, w >= 0.

    The convention of :mod:`ebsdphase.core.euler` (sample -> crystal, Rowenhorst 2015);
    pixels with ``phase_id <= 0`` get the zero quaternion.
    """
    shape = phase_id.shape
    out = np.empty((phase_id.size, 4), dtype=np.float32)
    scale = math.pi / 180.0 if degrees else 1.0
    e1, e2, e3 = (np.ascontiguousarray(e, np.float64).ravel() for e in (e1, e2, e3))
    indexed = np.ascontiguousarray(phase_id).ravel() > 0
    for e in (e1, e2, e3):
        v = e[indexed] * scale
        bad = ~np.isfinite(v) | (np.abs(v) > 4 * math.pi + 1e-3)
        if bad.any():
            raise ImpossibleValues(f"{int(bad.sum())} indexed points have Euler angles that are no angles "
                                   f"(e.g. {e[indexed][bad][0]:g} {'deg' if degrees else 'rad'}; "
                                   f"|angle| <= 4 pi expected)")
    _quats(e1, e2, e3, np.ascontiguousarray(phase_id).ravel(), scale, out)
    return out.reshape(shape + (4,))
