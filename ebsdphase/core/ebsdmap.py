"""The EBSDMap value: one square-grid EBSD map, whatever file it came from."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Laue groups understood by the crystal kernels, keyed by the names files use.
LAUE_ALIASES = {
    "m-3m": "m-3m", "m3m": "m-3m", "cubic": "m-3m", "432": "m-3m",
    "6/mmm": "6/mmm", "622": "6/mmm", "hexagonal": "6/mmm",
}


@dataclass(frozen=True)
class Phase:
    """One entry of a map's phase table.

    ``laue`` is the Laue group in Hermann-Mauguin notation ("m-3m" for cubic iron,
    "6/mmm" for hcp); ``lattice`` is (a, b, c) in angstrom and (alpha, beta, gamma) in
    degrees.
    """

    name: str
    laue: str = "m-3m"
    lattice: tuple[float, float, float, float, float, float] = (0, 0, 0, 90, 90, 90)
    space_group: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "laue": self.laue, "lattice": list(self.lattice),
                "space_group": self.space_group}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Phase":
        return cls(name=d["name"], laue=d.get("laue", "m-3m"),
                   lattice=tuple(float(v) for v in d.get("lattice", (0, 0, 0, 90, 90, 90))),
                   space_group=int(d.get("space_group", 0)))


@dataclass(eq=False)
class EBSDMap:
    """A square-grid EBSD map.

    Attributes
    ----------
    quaternions : (rows, cols, 4) float32
        Unit quaternions (w, x, y, z), sample -> crystal (Bunge convention, see
        :mod:`ebsdphase.core.euler`). Non-indexed pixels hold (0, 0, 0, 0).
    phase_id : (rows, cols) int16
        Key into ``phases``; 0 means not indexed.
    phases : dict[int, Phase]
        Phase table (ids >= 1).
    step : (x, y) float
        Step in micrometres along columns (x) and rows (y).
    channels : dict[str, (rows, cols) float32]
        Scalar per-pixel channels with lower-case names (bc, bs, mad, bands, error,
        iq, ci, fit, sem, ...).
    """

    quaternions: np.ndarray
    phase_id: np.ndarray
    phases: dict[int, Phase]
    step: tuple[float, float]
    channels: dict[str, np.ndarray] = field(default_factory=dict)
    source: str | None = None
    format: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: derived quantities (kam, grains, ...) computed once per map; never saved.
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.quaternions = np.asarray(self.quaternions, dtype=np.float32)
        self.phase_id = np.asarray(self.phase_id, dtype=np.int16)
        if self.quaternions.ndim != 3 or self.quaternions.shape[2] != 4:
            raise ValueError(f"quaternions must be (rows, cols, 4), got {self.quaternions.shape}")
        if self.phase_id.shape != self.quaternions.shape[:2]:
            raise ValueError(f"phase_id shape {self.phase_id.shape} != grid {self.shape}")
        self.step = (float(self.step[0]), float(self.step[1]))
        chans = {}
        for name, arr in self.channels.items():
            arr = np.asarray(arr, dtype=np.float32)
            if arr.shape != self.shape:
                raise ValueError(f"channel {name!r} shape {arr.shape} != grid {self.shape}")
            chans[name.lower()] = arr
        self.channels = chans

    # -- geometry -----------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.quaternions.shape[0]), int(self.quaternions.shape[1]))

    @property
    def rows(self) -> int:
        return self.shape[0]

    @property
    def cols(self) -> int:
        return self.shape[1]

    @property
    def size_um(self) -> tuple[float, float]:
        """Physical width (x) and height (y) in micrometres."""
        return (self.cols * self.step[0], self.rows * self.step[1])

    # -- derived masks ------------------------------------------------------------------
    @property
    def indexed(self) -> np.ndarray:
        """(rows, cols) bool: pixels with a phase and an orientation."""
        return self.phase_id > 0

    @property
    def indexed_fraction(self) -> float:
        n = self.rows * self.cols
        return float(np.count_nonzero(self.indexed)) / n if n else 0.0

    def phase_counts(self) -> dict[int, int]:
        """Pixel count per phase id, 0 (not indexed) included when present."""
        ids, counts = np.unique(self.phase_id, return_counts=True)
        return {int(i): int(c) for i, c in zip(ids, counts)}

    # -- validity -----------------------------------------------------------------------
    def impossible(self) -> str | None:
        """What no real map can hold, or None: a step that is not a positive finite length,
        negative phase ids, indexed pixels whose orientation is not a rotation (NaN,
        infinite, or a quaternion far from unit length)."""
        sx, sy = (float(s) for s in self.step)
        if not (np.isfinite(sx) and np.isfinite(sy) and sx > 0 and sy > 0):
            return f"step {sx:g} x {sy:g} um: a step must be a positive finite length"
        if self.phase_id.size and int(self.phase_id.min()) < 0:
            n = int(np.count_nonzero(self.phase_id < 0))
            return f"{n} points have a negative phase id ({int(self.phase_id.min())})"
        n_bad = 0
        q_all = self.quaternions.reshape(-1, 4)
        indexed = self.indexed.reshape(-1)
        # in slices of 1 M points: the float64 norms of a 16 M-point map would be 1.3 GB of
        # temporaries, more than the map
        for a in range(0, q_all.shape[0], 1 << 20):
            q = q_all[a:a + (1 << 20)][indexed[a:a + (1 << 20)]].astype(np.float64)
            norm = np.sqrt(np.einsum("ij,ij->i", q, q))
            n_bad += int(np.count_nonzero(~np.isfinite(norm) | (np.abs(norm - 1.0) > 1e-2)))
        if n_bad:
            return (f"{n_bad} indexed points have orientations that are not rotations "
                    "(NaN, infinite or not unit quaternions)")
        return None

    # -- slicing ------------------------------------------------------------------------
    def __getitem__(self, key: Any) -> "EBSDMap":
        if not isinstance(key, tuple):
            key = (key, slice(None))
        if len(key) != 2 or not all(isinstance(k, slice) for k in key):
            raise TypeError("index an EBSDMap with two slices: map[r0:r1, c0:c1]")
        rs, cs = key
        sy = rs.step or 1
        sx = cs.step or 1
        if sx < 1 or sy < 1:
            raise ValueError("EBSDMap slices need positive steps")
        return dataclasses.replace(
            self,
            quaternions=np.ascontiguousarray(self.quaternions[rs, cs]),
            phase_id=np.ascontiguousarray(self.phase_id[rs, cs]),
            channels={k: np.ascontiguousarray(v[rs, cs]) for k, v in self.channels.items()},
            step=(self.step[0] * sx, self.step[1] * sy),
            phases=dict(self.phases),
            metadata=dict(self.metadata),
            cache={},
        )

    def copy(self) -> "EBSDMap":
        return self[:, :]

    def __repr__(self) -> str:
        chans = ", ".join(self.channels)
        return (f"EBSDMap({self.rows} x {self.cols}, step {self.step[0]:g} x {self.step[1]:g} um, "
                f"phases {[p.name for p in self.phases.values()]}, channels [{chans}], "
                f"source={self.source!r})")

    # -- constructors -------------------------------------------------------------------
    @classmethod
    def from_euler(
        cls,
        euler: np.ndarray,
        phase_id: np.ndarray,
        phases: dict[int, Phase],
        step: tuple[float, float],
        channels: dict[str, np.ndarray] | None = None,
        **kwargs: Any,
    ) -> "EBSDMap":
        """Build a map from Bunge Euler angles in radians (rows, cols, 3)."""
        from ebsdphase.core.euler import euler_to_quat

        q = euler_to_quat(euler).astype(np.float32)
        phase_id = np.asarray(phase_id, dtype=np.int16)
        q[phase_id <= 0] = 0.0
        return cls(quaternions=q, phase_id=phase_id, phases=phases, step=step,
                   channels=channels or {}, **kwargs)

    def euler(self) -> np.ndarray:
        """Bunge Euler angles in radians (rows, cols, 3); zeros on non-indexed pixels."""
        from ebsdphase.core.euler import quat_to_euler

        return quat_to_euler(self.quaternions)
