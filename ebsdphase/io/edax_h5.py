"""EDAX OIM HDF5 maps (``.h5`` / ``.oh5``, "H5 OIM" export).

Layout: root datasets ``' Manufacturer'`` and ``' Version'`` (OIM writes the names with a
leading space), one group per scan, ``<scan>/EBSD/Data/{Phi1, Phi, Phi2 (radians),
X Position, Y Position, IQ, CI, Fit, SEM Signal, Phase, PRIAS ...}`` and
``<scan>/EBSD/Header/{nColumns, nRows, Step X, Step Y, Grid Type, Phase/<i>/...}``.

Square grids are stored row by row; hexagonal grids are placed by their coordinates and
resampled by the rule of :mod:`ebsdphase.io._grid` (with a warning). Points OIM could not
measure carry x = y = -1111111 ("Grid points with invalid data" in the header notes) and
become not indexed, as do points with the EDAX "no solution" code
(:func:`ebsdphase.io._vendor.edax_phase_ids`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ebsdphase.core.ebsdmap import EBSDMap, Phase
from ebsdphase.core.errors import EbsdphaseWarning, MapReadError
from ebsdphase.io import _grid
from ebsdphase.io._common import h5_numbered_groups, as_float, as_int, build_map, h5_get, h5_scan, read_h5, sniff_h5
from ebsdphase.io._vendor import edax_phase_ids, tsl_laue
from ebsdphase.io.registry import Format, register

INVALID = -1111111.0
#: dataset in <scan>/EBSD/Data -> channel name
CHANNELS = {"IQ": "iq", "CI": "ci", "Fit": "fit", "SEM Signal": "sem",
            "PRIAS Bottom Strip": "prias_bottom", "PRIAS Center Square": "prias_center",
            "PRIAS Top Strip": "prias_top"}


def _manufacturer(f: h5py.File) -> str:
    return str(h5_get(f, " Manufacturer", "Manufacturer", default="") or "")


def _scan(f: h5py.File) -> str | None:
    return h5_scan(f, "Phi1")


def _is_edax(f: h5py.File) -> bool:
    return "EDAX" in _manufacturer(f).upper() or _scan(f) is not None


def sniff(path: Path) -> bool:
    """True for an EDAX OIM HDF5 file (manufacturer EDAX or a scan with EBSD/Data/Phi1)."""
    return sniff_h5(path, _is_edax)


def _phases(path: Path, header: Any) -> dict[int, Phase]:
    phases: dict[int, Phase] = {}
    for key, g in h5_numbered_groups(header, "Phase"):
        lattice = tuple(float(round(as_float(path, h5_get(g, f"Lattice Constant {k}", default=d),
                                             f"Phase {key} lattice constant {k}"), 5))
                        for k, d in (("a", 0), ("b", 0), ("c", 0),
                                     ("alpha", 90), ("beta", 90), ("gamma", 90)))
        code = h5_get(g, "Symmetry", default=0)
        phases[int(key)] = Phase(name=str(h5_get(g, "MaterialName", default=f"phase {key}")),
                                 laue=tsl_laue(code) if np.isscalar(code) else "",
                                 lattice=lattice)  # type: ignore[arg-type]
    return dict(sorted(phases.items()))


def _read(path: Path, f: h5py.File) -> EBSDMap:
    scan = _scan(f)
    if scan is None:
        raise MapReadError(path, "not an EDAX OIM map: no <scan>/EBSD/Data/Phi1 dataset")
    data = f[scan]["EBSD"]["Data"]
    header = f[scan]["EBSD"].get("Header", {})
    cols = as_int(path, h5_get(header, "nColumns"), "Header/nColumns")
    rows = as_int(path, h5_get(header, "nRows"), "Header/nRows")
    step = (as_float(path, h5_get(header, "Step X"), "Header/Step X"),
            as_float(path, h5_get(header, "Step Y"), "Header/Step Y"))
    grid_type = str(h5_get(header, "Grid Type", default="SqrGrid"))
    for need in ("Phi1", "Phi", "Phi2"):
        if need not in data:
            raise MapReadError(path, f"EBSD/Data has no {need!r} dataset")
    euler = np.stack([np.asarray(data[k][()], np.float64).reshape(-1) for k in ("Phi1", "Phi", "Phi2")], -1)
    n = euler.shape[0]

    def column(name: str, default: float = 0.0) -> np.ndarray:
        if name not in data:
            return np.full(n, default)
        v = np.asarray(data[name][()]).reshape(-1)
        if v.size != n:
            raise MapReadError(path, f"EBSD/Data/{name} has {v.size} points, Phi1 has {n}")
        return v

    x, y = column("X Position", np.nan), column("Y Position", np.nan)
    invalid = (x == INVALID) | (y == INVALID)
    phases = _phases(path, header)
    ci = column("CI") if "CI" in data else None
    phase = edax_phase_ids(column("Phase"), euler, ci, len(phases))
    phase[invalid] = 0
    chans = {ch: column(ds) for ds, ch in CHANNELS.items() if ds in data}

    hexgrid = "hex" in grid_type.lower()
    if hexgrid:
        ok = ~invalid & np.isfinite(x) & np.isfinite(y)
        if not ok.any():
            raise MapReadError(path, "hexagonal grid without valid point coordinates")
        try:
            sub = _grid.hex_to_square_index(x[ok], y[ok], *step)
        except ValueError as exc:
            raise MapReadError(path, str(exc)) from None
        index = np.where(sub >= 0, np.flatnonzero(ok)[np.maximum(sub, 0)], -1)
        warnings.warn(f"{path}: {_grid.HEX_WARNING}", EbsdphaseWarning, stacklevel=4)
    else:
        if n != rows * cols:
            raise MapReadError(path, f"{n:,} points in EBSD/Data, but the header grid "
                                     f"nRows x nColumns = {rows} x {cols} needs {rows * cols:,}")
        index = np.arange(n).reshape(rows, cols)
    meta = {"scan": scan, "grid": "hexagonal, resampled to square" if hexgrid else "square",
            "manufacturer": _manufacturer(f), "version": str(h5_get(f, " Version", "Version", default=""))}
    return build_map(path, _grid.take(euler, index), _grid.take(phase, index), phases, step,
                     {k: _grid.take(v, index) for k, v in chans.items()}, meta)


def read(path: Path) -> EBSDMap:
    """Read the first scan of an EDAX OIM HDF5 file."""
    return read_h5(path, _read, "EDAX .h5", "an EDAX .h5")


register(Format("edax-h5", (".h5", ".oh5"), read=read, sniff=sniff))
