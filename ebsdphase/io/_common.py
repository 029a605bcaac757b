"""Small helpers the binary and HDF5 readers share: building the map, opening HDF5 files and
reading their values."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from ebsdphase.core.ebsdmap import EBSDMap, Phase
from ebsdphase.core.errors import MapReadError


def build_map(path: Path, euler: np.ndarray, phase_id: np.ndarray, phases: dict[int, Phase],
              step: tuple[float, float], channels: dict[str, np.ndarray],
              metadata: dict[str, Any] | None = None) -> EBSDMap:
    """EBSDMap from Euler angles in radians (rows, cols, 3) and phase ids (0 = not indexed).

    Pixels whose Euler angles are not finite (corrupt data, NaN outside an irregular
    acquisition area) become not indexed; a phase id missing from a non-empty phase table
    is an error naming the file.
    """
    euler = np.asarray(euler, dtype=np.float64)
    phase_id = np.asarray(phase_id).astype(np.int16)
    phase_id[~np.all(np.isfinite(euler), axis=-1)] = 0
    phase_id[phase_id < 0] = 0
    if not phases:
        # A file without a phase table (e.g. a bare .h5oina): name the phases by id and
        # leave the Laue group unknown rather than guess one.
        phases = {int(p): Phase(name=f"phase {int(p)}", laue="")
                  for p in np.unique(phase_id) if p > 0}
    else:
        used = np.unique(phase_id)
        unknown = [int(p) for p in used if p > 0 and int(p) not in phases]
        if unknown:
            raise MapReadError(path, f"phase id(s) {unknown[:5]} in the data are not in the "
                                     f"phase table (ids {sorted(phases)})")
    sx, sy = (float(s) for s in step)
    if not (np.isfinite(sx) and np.isfinite(sy) and sx > 0 and sy > 0):
        raise MapReadError(path, f"grid step must be positive, got {sx:g} x {sy:g} um")
    euler = np.where(phase_id[..., None] > 0, euler, 0.0)
    chans = {k: np.asarray(v, dtype=np.float32) for k, v in channels.items()}
    return EBSDMap.from_euler(euler, phase_id, phases, (sx, sy), chans,
                              metadata=dict(metadata or {}))


def read_h5(path: Path, reader: Callable[[Path, Any], EBSDMap], name: str,
            open_as: str | None = None) -> EBSDMap:
    """Open ``path`` as HDF5 and return ``reader(path, file)``, turning h5py's errors into a
    MapReadError that names the file and the format ``name`` (e.g. "Bruker .h5"; ``open_as``,
    e.g. "a Bruker .h5", where the sentence wants an article)."""
    import h5py

    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise MapReadError(path, f"not an HDF5 file (cannot open it as {open_as or name})") from None
    with f:
        try:
            return reader(path, f)
        # h5py on a damaged file; AttributeError: a damaged link makes a named datatype of a dataset
        except (RuntimeError, OSError, KeyError, TypeError, AttributeError) as exc:
            raise MapReadError(path, f"damaged {name} file ({exc})") from None


def sniff_h5(path: Path, test: Callable[[Any], bool]) -> bool:
    """``test(file)`` on ``path`` opened as HDF5; False for a file h5py cannot read."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return test(f)
    except (OSError, ValueError, RuntimeError, KeyError):  # h5py on a damaged file
        return False


def h5_scan(f: Any, euler_dataset: str) -> str | None:
    """The first root group holding ``EBSD/Data/<euler_dataset>`` (a Bruker or EDAX scan)."""
    import h5py

    for key in f.keys():
        g = f[key]
        if (isinstance(g, h5py.Group) and "EBSD" in g and "Data" in g["EBSD"]
                and euler_dataset in g["EBSD"]["Data"]):
            return key
    return None


def h5_value(obj: Any) -> Any:
    """A scalar HDF5 dataset value as a Python value: (1,) arrays unwrapped, bytes decoded."""
    v = obj[()] if hasattr(obj, "shape") else obj
    if isinstance(v, np.ndarray):
        if v.size != 1:
            return v
        v = v.reshape(-1)[0]
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode("utf-8", "replace").strip("\x00 ").strip()
    if isinstance(v, np.generic):
        return v.item()
    return v


def h5_get(group: Any, *names: str, default: Any = None) -> Any:
    """The value of the first of ``names`` present in ``group`` (else ``default``)."""
    for name in names:
        if name in group:
            return h5_value(group[name])
    return default


def as_int(path: Path, value: Any, what: str) -> int:
    """``value`` as a positive int, or a MapReadError naming ``what``."""
    try:
        n = int(float(value))
    except (TypeError, ValueError):
        raise MapReadError(path, f"{what} is not a number: {value!r}") from None
    if n <= 0:
        raise MapReadError(path, f"{what} must be positive, got {n}")
    return n


def as_float(path: Path, value: Any, what: str) -> float:
    """``value`` as a finite float, or a MapReadError naming ``what``."""
    try:
        f = float(str(value).replace(",", ".")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise MapReadError(path, f"{what} is not a number: {value!r}") from None
    if not np.isfinite(f):
        raise MapReadError(path, f"{what} is not finite: {value!r}")
    return f


def h5_numbered_groups(header: Any, name: str):
    """``(key, group)`` for the numbered sub-groups of ``header[name]`` (the phase lists of
    vendor HDF5 files: ``Phases/1``, ``Phases/2``, ...); nothing when there is no such group."""
    group = header.get(name) if hasattr(header, "get") else None
    if group is None:
        return
    for key in group.keys():
        if key.isdigit():
            yield key, group[key]
