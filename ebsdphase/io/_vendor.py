"""Vendor conventions shared by several readers: symmetry codes, EDAX 'not indexed' marks.

Laue groups are written in Hermann-Mauguin notation ("m-3m", "6/mmm", ...), the names
:class:`ebsdphase.core.ebsdmap.Phase` uses.
"""

from __future__ import annotations

import numpy as np

#: Oxford (Channel 5 / AZtec: .ctf, .cpr, .h5oina) Laue group numbers.
OXFORD_LAUE = {1: "-1", 2: "2/m", 3: "mmm", 4: "4/m", 5: "4/mmm", 6: "-3", 7: "-3m",
               8: "6/m", 9: "6/mmm", 10: "m-3", 11: "m-3m"}

#: EDAX/TSL symmetry codes (.ang "# Symmetry", .osc, OIM HDF5 "Symmetry").
TSL_LAUE = {1: "-1", 2: "2/m", 22: "mmm", 4: "4/m", 42: "4/mmm", 3: "-3", 32: "-3m",
            6: "6/m", 62: "6/mmm", 23: "m-3", 43: "m-3m"}

#: EDAX marks "no solution" points with Euler angles of 4 pi; anything above 2 pi is one.
_EULER_LIMIT = 2.0 * np.pi + 1e-3


def oxford_laue(code: int) -> str:
    """Laue group name for an Oxford Laue group number ("" when unknown)."""
    return OXFORD_LAUE.get(int(code), "")


def tsl_laue(code: int) -> str:
    """Laue group name for an EDAX/TSL symmetry code ("" when unknown)."""
    return TSL_LAUE.get(int(code), "")


def edax_phase_ids(phase: np.ndarray, euler: np.ndarray, ci: np.ndarray | None,
                   n_phases: int) -> np.ndarray:
    """EDAX per-point phase numbers -> ebsdphase phase ids (0 = not indexed).

    EDAX rules (.ang, .osc, OIM HDF5): a point is not indexed when its Euler angles hold
    the "no solution" code (4 pi; any angle above 2 pi) or its CI is negative (OIM writes
    -1). OIM writes phase 0 for every point of a single-phase scan, so with one phase in
    the table phase 0 means phase 1; with several phases, 0 means not indexed.
    """
    ids = np.asarray(phase).astype(np.int16, copy=True)
    if n_phases <= 1:
        ids[ids == 0] = 1
    bad = np.any(np.asarray(euler) > _EULER_LIMIT, axis=-1)
    if ci is not None:
        bad |= np.asarray(ci) < 0
    ids[bad] = 0
    negative = ids < 0
    if negative.any():
        import warnings

        from ebsdphase.core.errors import EbsdphaseWarning

        warnings.warn(f"{int(negative.sum())} points have a negative phase number ({int(ids[negative].min())}); "
                      "they are read as not indexed", EbsdphaseWarning, stacklevel=3)
        ids[negative] = 0
    return ids


#: (last space group number of the range, Laue group): the 230 space groups by crystal class
_SPACE_GROUP_LAUE = ((2, "-1"), (15, "2/m"), (74, "mmm"), (88, "4/m"), (142, "4/mmm"),
                     (148, "-3"), (167, "-3m"), (176, "6/m"), (194, "6/mmm"), (206, "m-3"),
                     (230, "m-3m"))


def laue_from_space_group(number: int) -> str:
    """Laue group of an International Tables space group number ("" when out of 1-230)."""
    n = int(number)
    if n < 1:
        return ""
    for last, laue in _SPACE_GROUP_LAUE:
        if n <= last:
            return laue
    return ""
