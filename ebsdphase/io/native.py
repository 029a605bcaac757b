"""The project's own map format, ``.ebsd.h5``: exact round trip, fast to reload.

Layout (HDF5, all arrays chunked and gzip-compressed):
  /quaternions  (rows, cols, 4) float32      /phase_id (rows, cols) int16
  /channels/<name> (rows, cols) float32
  attrs: format="ebsdphase-map", version=1, step_x, step_y, phases (JSON), metadata (JSON)
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from ebsdphase.core.atomic import atomic_path
from ebsdphase.core.ebsdmap import EBSDMap, Phase
from ebsdphase.core.errors import MapReadError
from ebsdphase.io.registry import Format, register

MAGIC = "ebsdphase-map"
VERSION = 1


def _sniff(path: Path) -> bool:
    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("format") == MAGIC
    except OSError:
        return False


def read(path: Path) -> EBSDMap:
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise MapReadError(path, f"not an HDF5 file ({exc})") from None
    with f:
        if f.attrs.get("format") != MAGIC:
            raise MapReadError(path, "HDF5 file is not an ebsdphase map (.ebsd.h5)")
        try:
            phases = {int(k): Phase.from_dict(v) for k, v in json.loads(f.attrs["phases"]).items()}
            return EBSDMap(
                quaternions=f["quaternions"][()],
                phase_id=f["phase_id"][()],
                phases=phases,
                step=(float(f.attrs["step_x"]), float(f.attrs["step_y"])),
                channels={k: v[()] for k, v in f["channels"].items()},
                metadata=json.loads(f.attrs.get("metadata", "{}")),
            )
        except KeyError as exc:
            raise MapReadError(path, f"ebsdphase map lacks {exc}") from None


def write(ebsd: EBSDMap, path: Path) -> None:
    rows, cols = ebsd.shape
    chunks = (min(rows, 256), min(cols, 256))
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = MAGIC
        f.attrs["version"] = VERSION
        f.attrs["step_x"], f.attrs["step_y"] = ebsd.step
        f.attrs["phases"] = json.dumps({str(k): p.to_dict() for k, p in ebsd.phases.items()})
        f.attrs["metadata"] = json.dumps(ebsd.metadata, default=str)
        opts = dict(compression="gzip", compression_opts=4, shuffle=True)
        f.create_dataset("quaternions", data=np.asarray(ebsd.quaternions, np.float32),
                         chunks=chunks + (4,), **opts)
        f.create_dataset("phase_id", data=np.asarray(ebsd.phase_id, np.int16), chunks=chunks, **opts)
        g = f.create_group("channels")
        for name, arr in ebsd.channels.items():
            g.create_dataset(name, data=np.asarray(arr, np.float32), chunks=chunks, **opts)


register(Format("ebsdphase", (".ebsd.h5",), read=read, write=write, sniff=_sniff))
