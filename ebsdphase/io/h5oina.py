"""Oxford Instruments AZtec HDF5 maps (``.h5oina``, specification versions 1-8).

Layout read (https://github.com/oinanoanalysis/h5oina): slice group ``/1`` (the first name
in ``/Index``), ``<slice>/EBSD/Data/{Euler (n, 3) radians, Phase (0 = not indexed), Band
Contrast, Band Slope, Bands, Error, Mean Angular Deviation (radians), Pattern Quality}``,
``<slice>/EBSD/Header/{X Cells, Y Cells, X Step, Y Step, Phases/<i>/...}``. Points are in
row-major order. Angles in the file are radians; the ``mad`` channel is converted to
degrees, the unit of MAD in .ctf/.cpr files, so that one threshold fits every format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ebsdphase.core.ebsdmap import EBSDMap, Phase
from ebsdphase.core.errors import MapReadError
from ebsdphase.io._common import as_float, as_int, build_map, h5_get, h5_value, read_h5
from ebsdphase.io._vendor import oxford_laue
from ebsdphase.io.registry import Format, register

#: dataset name in <slice>/EBSD/Data -> channel name
CHANNELS = {"Band Contrast": "bc", "Band Slope": "bs", "Bands": "bands", "Error": "error",
            "Mean Angular Deviation": "mad", "Pattern Quality": "pq"}


def _slice_name(f: h5py.File) -> str | None:
    names = []
    if "Index" in f:
        idx = f["Index"][()]
        for v in np.atleast_1d(idx):
            names.append(v.decode() if isinstance(v, bytes) else str(v))
    names += sorted(k for k in f.keys() if isinstance(f[k], h5py.Group))
    for name in names:
        if name in f and "EBSD" in f[name] and "Data" in f[name]["EBSD"]:
            return name
    return None


def _phases(path: Path, header: Any) -> dict[int, Phase]:
    phases: dict[int, Phase] = {}
    if "Phases" not in header:
        return phases
    for key in sorted((k for k in header["Phases"].keys() if k.isdigit()), key=int):
        g = header["Phases"][key]
        dims = np.atleast_1d(h5_get(g, "Lattice Dimensions", default=np.zeros(3))).astype(float)
        angles = np.degrees(np.atleast_1d(h5_get(g, "Lattice Angles",
                                                 default=np.radians([90, 90, 90]))).astype(float))
        lattice = tuple(float(round(v, 5)) for v in (*dims.reshape(-1)[:3], *angles.reshape(-1)[:3]))
        laue_code = h5_get(g, "Laue Group", default=0)
        laue = oxford_laue(int(laue_code)) if np.isscalar(laue_code) else ""
        if not laue and "Laue Group" in g:
            laue = str(h5_value(g["Laue Group"].attrs.get("Symbol", "")) or "")
        sg = h5_get(g, "Space Group", default=0)
        phases[int(key)] = Phase(name=str(h5_get(g, "Phase Name", default=f"phase {key}")),
                                 laue=laue, lattice=lattice,  # type: ignore[arg-type]
                                 space_group=int(sg) if np.isscalar(sg) else 0)
    return phases


def _read(path: Path, f: h5py.File) -> EBSDMap:
    name = _slice_name(f)
    if name is None:
        raise MapReadError(path, "no EBSD map in this .h5oina (no <slice>/EBSD/Data group)")
    data, header = f[name]["EBSD"]["Data"], f[name]["EBSD"].get("Header", {})
    cols = as_int(path, h5_get(header, "X Cells"), "Header/X Cells")
    rows = as_int(path, h5_get(header, "Y Cells"), "Header/Y Cells")
    step = (as_float(path, h5_get(header, "X Step"), "Header/X Step"),
            as_float(path, h5_get(header, "Y Step"), "Header/Y Step"))
    for need in ("Euler", "Phase"):
        if need not in data:
            raise MapReadError(path, f"EBSD/Data has no {need!r} dataset")
    n = rows * cols
    euler = np.asarray(data["Euler"][()], dtype=np.float64)
    if euler.ndim != 2 or euler.shape[1] != 3 or euler.shape[0] != n:
        raise MapReadError(path, f"EBSD/Data/Euler has shape {euler.shape}, the header grid "
                                 f"{rows} x {cols} needs ({n}, 3)")
    phase = np.asarray(data["Phase"][()]).reshape(-1)
    if phase.size != n:
        raise MapReadError(path, f"EBSD/Data/Phase has {phase.size} points, the grid {rows} x {cols} "
                                 f"has {n}")
    channels: dict[str, np.ndarray] = {}
    for ds, ch in CHANNELS.items():
        if ds in data and data[ds].shape[:1] == (n,) and data[ds].ndim == 1:
            channels[ch] = np.asarray(data[ds][()], dtype=np.float64).reshape(rows, cols)
    if "mad" in channels:
        channels["mad"] = np.degrees(channels["mad"])
    meta = {"slice": name, "format_version": str(h5_get(f, "Format Version", default="")),
            "software": str(h5_get(f, "Software Version", default=""))}
    return build_map(path, euler.reshape(rows, cols, 3), phase.reshape(rows, cols),
                     _phases(path, header), step, channels, meta)


def read(path: Path) -> EBSDMap:
    """Read an Oxford .h5oina map (the first EBSD slice)."""
    return read_h5(path, _read, ".h5oina")


register(Format("h5oina", (".h5oina",), read=read))
