"""Placing scan points on the map grid, shared by every reader that gets x, y per point.

Two layouts occur in EBSD files:

* square grid: point (x, y) goes to row ``rint((y - y0) / ystep)``, column
  ``rint((x - x0) / xstep)`` (:func:`square_index`);
* hexagonal grid (EDAX/TSL ``HexGrid``): rows ``ystep`` apart (``ystep = xstep * sqrt(3)/2``),
  every other row shifted by ``xstep / 2``. ebsdphase works on square grids, so such a scan
  is resampled (:func:`hex_to_square_index`) by this rule, the one every reader uses:

  **hex -> square rule.** The square grid has the hex grid's steps: columns every XSTEP
  starting at the smallest x of the scan, rows every YSTEP (one square row per hex row);
  it has as many columns as the longest hex row. Each square pixel takes the values of
  the hex point nearest to it. On a hex grid the nearest point always lies in the same
  row (at most XSTEP/2 away, the next row is YSTEP = 0.87 XSTEP away), so the search is
  done within the row; in the shifted rows a pixel lies exactly between two points and
  the tie goes to the LEFT one (smaller x). A pixel of a row with no points stays
  not indexed. Nothing is interpolated: every pixel holds one measured point, so
  orientations stay measured orientations. The map step becomes (XSTEP, YSTEP).

Both functions return an index array (rows, cols) int64 into the point arrays, -1 where no
point falls; :func:`take` applies it to any per-point array.
"""

from __future__ import annotations

import numpy as np

#: the one-line reason readers give in the warning when they resample a hex grid
HEX_WARNING = ("hexagonal grid resampled onto a square grid (step XSTEP x YSTEP, each pixel "
               "takes the nearest hex point, ties to the left)")


#: a grid may hold at most this many pixels per scan point (plus a little): more means the
#: points are scattered, not on a grid, and the map would be mostly holes (or not fit in memory)
_MAX_PIXELS_PER_POINT = 2


def _row_col_origin(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    return float(np.min(x)), float(np.min(y))


def _check_extent(x: np.ndarray, y: np.ndarray, xstep: float, ystep: float) -> None:
    """Refuse coordinates that cannot be a grid before any large array is allocated."""
    if not (np.isfinite(xstep) and np.isfinite(ystep)) or xstep <= 0 or ystep <= 0:
        raise ValueError(f"grid steps must be positive, got {xstep:g} x {ystep:g}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("point coordinates are not all finite numbers")
    n = x.size
    cols = (float(np.max(x)) - float(np.min(x))) / xstep + 1
    rows = (float(np.max(y)) - float(np.min(y))) / ystep + 1
    if rows * cols > _MAX_PIXELS_PER_POINT * n + 64:
        raise ValueError(f"the {n:,} points are scattered, not on a grid: they span "
                         f"{rows:,.0f} rows x {cols:,.0f} columns of {xstep:g} x {ystep:g} um")


def is_hex_grid(x: np.ndarray, y: np.ndarray, xstep: float, ystep: float) -> bool:
    """True when odd rows are shifted by half an x step against even rows (a hex grid)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.size < 2 or not (xstep > 0 and ystep > 0) or not np.all(np.isfinite(x) & np.isfinite(y)):
        return False
    x0, y0 = _row_col_origin(x, y)
    rows = np.rint((y - y0) / ystep)  # float: wild coordinates must not overflow a cast
    frac = np.mod((x - x0) / xstep, 1.0)
    odd = np.mod(rows, 2.0) == 1.0
    if not odd.any():
        return False
    half = np.abs(frac[odd] - 0.5) < 0.25
    return bool(np.mean(half) > 0.5)


def square_index(x: np.ndarray, y: np.ndarray, xstep: float, ystep: float,
                 shape: tuple[int, int] | None = None) -> np.ndarray:
    """Index (rows, cols) of the point at each pixel of a square grid, -1 where none.

    ``shape`` defaults to the extent of the points. Points falling outside ``shape`` are
    dropped; when two points fall on one pixel the later one wins.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.size == 0:
        return np.full(shape or (0, 0), -1, dtype=np.int64)
    _check_extent(x, y, xstep, ystep)
    x0, y0 = _row_col_origin(x, y)
    cols = np.rint((x - x0) / xstep).astype(np.int64)
    rows = np.rint((y - y0) / ystep).astype(np.int64)
    if shape is None:
        shape = (int(rows.max()) + 1, int(cols.max()) + 1)
    index = np.full(shape, -1, dtype=np.int64)
    inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    index[rows[inside], cols[inside]] = np.flatnonzero(inside)
    return index


def _nearest_in_rows(xs, starts, order, x0, xstep, ncols, tol):  # pragma: no cover - numba
    nrows = starts.size - 1
    out = np.full((nrows, ncols), -1, dtype=np.int64)
    for i in range(nrows):
        lo = starts[i]
        hi = starts[i + 1]
        if lo == hi:
            continue
        p = lo  # first point of the row with x > pixel x (pixels visited left to right)
        for j in range(ncols):
            xj = x0 + j * xstep
            while p < hi and xs[p] <= xj:
                p += 1
            left = p - 1
            right = p
            if left < lo:
                k = right
            elif right >= hi:
                k = left
            else:
                dl = xj - xs[left]
                dr = xs[right] - xj
                k = right if dr < dl - tol else left
            out[i, j] = order[k]
    return out


_compiled = None


def _kernel():
    """The numba-compiled row search, built on first use: reading an .h5 or .cpr map
    should not pay numba's import time."""
    global _compiled
    if _compiled is None:
        from numba import njit

        _compiled = njit(cache=True)(_nearest_in_rows)
    return _compiled


def hex_to_square_index(x: np.ndarray, y: np.ndarray, xstep: float, ystep: float) -> np.ndarray:
    """Index (rows, cols) of the hex point each square pixel takes (module docstring rule)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.size == 0:
        return np.full((0, 0), -1, dtype=np.int64)
    _check_extent(x, y, xstep, ystep)
    x0, y0 = _row_col_origin(x, y)
    rows = np.rint((y - y0) / ystep).astype(np.int64)
    nrows = int(rows.max()) + 1
    order = np.lexsort((x, rows))
    counts = np.bincount(rows, minlength=nrows)
    starts = np.zeros(nrows + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    ncols = int(counts.max())
    return _kernel()(x[order], starts, order.astype(np.int64), x0, float(xstep), ncols,
                     1e-4 * float(xstep))


def take(values: np.ndarray, index: np.ndarray, fill: float | int = 0) -> np.ndarray:
    """``values[index]`` on the grid, with ``fill`` where ``index`` is -1.

    ``values`` may carry trailing dimensions (e.g. (n, 3) Euler angles).
    """
    values = np.asarray(values)
    out = values[np.where(index >= 0, index, 0)]
    missing = index < 0
    if missing.any():
        out[missing] = fill
    return out
