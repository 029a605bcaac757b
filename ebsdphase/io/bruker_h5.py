"""Bruker Esprit HDF5 maps (``.h5``, "h5ebsd" export).

Layout: root ``Manufacturer`` ("Bruker Nano"), one scan group (e.g. ``Scan 0``) with
``EBSD/Data/{phi1, PHI, phi2 (degrees), Phase (0 = not indexed), MAD, NIndexedBands,
RadonQuality, RadonBandCount, ...}`` and ``EBSD/Header/{NCOLS, NROWS, XSTEP, YSTEP,
Phases/<i>/{Name, LatticeConstants, IT}}``. Only rectangular maps stored row by row are
read; a non-rectangular region of interest gets a clear error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ebsdphase.core.ebsdmap import EBSDMap, Phase
from ebsdphase.core.errors import MapReadError
from ebsdphase.io._common import h5_numbered_groups, as_float, as_int, build_map, h5_get, h5_scan, read_h5, sniff_h5
from ebsdphase.io._vendor import laue_from_space_group
from ebsdphase.io.registry import Format, register

#: dataset in <scan>/EBSD/Data -> channel name
CHANNELS = {"MAD": "mad", "NIndexedBands": "bands", "RadonQuality": "radon_quality",
            "RadonBandCount": "radon_band_count"}


def _scan(f: h5py.File) -> str | None:
    return h5_scan(f, "phi1")


def _is_bruker(f: h5py.File) -> bool:
    maker = str(h5_get(f, "Manufacturer", default="") or "")
    return "BRUKER" in maker.upper() or _scan(f) is not None


def sniff(path: Path) -> bool:
    """True for a Bruker HDF5 map (manufacturer Bruker or a scan with EBSD/Data/phi1)."""
    return sniff_h5(path, _is_bruker)


def _phases(path: Path, header: Any) -> dict[int, Phase]:
    phases: dict[int, Phase] = {}
    for key, g in h5_numbered_groups(header, "Phases"):
        lat = np.atleast_1d(h5_get(g, "LatticeConstants", default=np.array([0, 0, 0, 90, 90, 90])))
        lat = lat.astype(np.float64).reshape(-1)
        if lat.size != 6:
            raise MapReadError(path, f"Header/Phases/{key}/LatticeConstants has {lat.size} values, not 6")
        it = h5_get(g, "IT", default=0)
        it = int(it) if np.isscalar(it) else 0
        phases[int(key)] = Phase(name=str(h5_get(g, "Name", default=f"phase {key}")),
                                 laue=laue_from_space_group(it), space_group=it,
                                 lattice=tuple(float(round(v, 5)) for v in lat))  # type: ignore[arg-type]
    return dict(sorted(phases.items()))


def _read(path: Path, f: h5py.File) -> EBSDMap:
    scan = _scan(f)
    if scan is None:
        raise MapReadError(path, "not a Bruker map: no <scan>/EBSD/Data/phi1 dataset")
    data = f[scan]["EBSD"]["Data"]
    header = f[scan]["EBSD"].get("Header", {})
    cols = as_int(path, h5_get(header, "NCOLS"), "Header/NCOLS")
    rows = as_int(path, h5_get(header, "NROWS"), "Header/NROWS")
    step = (as_float(path, h5_get(header, "XSTEP"), "Header/XSTEP"),
            as_float(path, h5_get(header, "YSTEP"), "Header/YSTEP"))
    n = rows * cols
    arrays = {}
    for name in ("phi1", "PHI", "phi2", "Phase", *CHANNELS):
        if name not in data:
            if name in CHANNELS:
                continue
            raise MapReadError(path, f"EBSD/Data has no {name!r} dataset")
        v = np.asarray(data[name][()]).reshape(-1)
        if v.size != n:
            raise MapReadError(path, f"EBSD/Data/{name} has {v.size:,} points, the grid NROWS x NCOLS "
                                     f"= {rows} x {cols} needs {n:,} (non-rectangular regions are "
                                     "not supported)")
        arrays[name] = v.reshape(rows, cols)
    euler = np.radians(np.stack([arrays[k].astype(np.float64) for k in ("phi1", "PHI", "phi2")], -1))
    channels = {ch: arrays[ds] for ds, ch in CHANNELS.items() if ds in arrays}
    meta = {"scan": scan, "version": str(h5_get(f, "Version", default=""))}
    return build_map(path, euler, arrays["Phase"], _phases(path, header), step, channels, meta)


def read(path: Path) -> EBSDMap:
    """Read the first scan of a Bruker HDF5 file."""
    return read_h5(path, _read, "Bruker .h5", "a Bruker .h5")


register(Format("bruker-h5", (".h5",), read=read, sniff=sniff))
