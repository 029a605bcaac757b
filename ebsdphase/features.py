"""The channel recipe: which per-pixel inputs a model sees and how they are normalised.

One definition shared by ``prepare``, ``train`` and ``predict``: a dataset stores its
recipe, a model bundle copies it, and prediction on a new map rebuilds the inputs from
the recipe alone. No statistic of the training set is ever stored: every map is
standardised with its own statistics (section 3.2 of the paper), so a new map needs
nothing but itself.

Channel names
-------------
``kam``
    Kernel average misorientation in degrees, always recomputed from the orientations
    with the recipe's ``kam_order`` / ``kam_threshold`` (never read from the file, so maps
    from different vendors give the same channel). Standardised like a scalar channel.
``quat``
    Four channels (q0..q3 = w, x, y, z) of orientations homogenised per grain (all pixels
    of a grain expressed with the same symmetry equivalent, grains detected with
    ``grain_angle``). Not standardised: the components already lie in [-1, 1]. Non-indexed
    pixels are 0 in all four channels, a value no unit quaternion has.
anything else
    A scalar channel of the map (``bs``, ``bc``, ``iq``, ``ci``, ``mad``, ...), looked up
    in ``map.channels``.

Normalisation (``zscore-per-map``)
----------------------------------
Scalar channels (including ``kam``) are shifted and scaled to zero mean and unit standard
deviation using the map's *indexed* pixels only (non-indexed pixels carry vendor-specific
junk values that would skew the statistics). Non-indexed pixels (and non-finite values)
are then set to ``unindexed_value``; the default 0.0 is the map mean after
standardisation, the most neutral value a convolution can see. A constant channel is
only shifted (its standard deviation is taken as 1). ``normalisation="none"`` keeps raw
values but still sets non-indexed pixels to ``unindexed_value``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ebsdphase.errors import EbsdphaseError

if TYPE_CHECKING:
    from ebsdphase.ebsdmap import EBSDMap

NORMALISATIONS = ("zscore-per-map", "none")
QUAT_LABELS = ("q0", "q1", "q2", "q3")


@dataclass(frozen=True)
class DerivedChannel:
    """A channel computed from the orientations instead of read from the file.

    ``compute(map, recipe)`` returns (rows, cols) raw values for a one-label channel, which
    is then normalised like a scalar channel of the map, or (rows, cols, len(labels))
    final values for a multi-component one.
    """

    labels: tuple[str, ...]
    compute: Callable[["EBSDMap", "ChannelRecipe"], np.ndarray]


def _kam(ebsd: "EBSDMap", recipe: "ChannelRecipe") -> np.ndarray:
    from ebsdphase.crystal import kam

    return kam(ebsd, recipe.kam_order, recipe.kam_threshold)


def _quaternions(ebsd: "EBSDMap", recipe: "ChannelRecipe") -> np.ndarray:
    from ebsdphase.crystal import grains, homogenize

    ids = grains(ebsd, recipe.grain_angle)
    q = np.asarray(homogenize(ebsd, ids), np.float32).copy()
    q[~ebsd.indexed] = 0.0
    return q


#: the channel registry: every channel computed from the orientations, by name
DERIVED_CHANNELS: dict[str, DerivedChannel] = {
    "kam": DerivedChannel(("kam",), _kam),
    "quat": DerivedChannel(QUAT_LABELS, _quaternions),
}
#: other spellings users type for the derived channels
ALIASES = {"quaternion": "quat", "quaternions": "quat", "q": "quat"}


@dataclass(frozen=True)
class ChannelRecipe:
    """Ordered input channels plus the parameters needed to rebuild them on any map."""

    names: tuple[str, ...]
    kam_order: int = 1
    kam_threshold: float = 3.0
    grain_angle: float = 3.0
    normalisation: str = "zscore-per-map"
    unindexed_value: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.names, str):
            raise EbsdphaseError("ChannelRecipe.names must be a sequence of names; "
                                 "use ChannelRecipe.parse('bs,kam') for text")
        names = tuple(_canonical(n) for n in self.names)
        if not names:
            raise EbsdphaseError("a channel recipe needs at least one channel")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise EbsdphaseError(f"channel listed twice in the recipe: {', '.join(dup)}")
        if self.normalisation not in NORMALISATIONS:
            raise EbsdphaseError(f"unknown normalisation {self.normalisation!r} "
                                 f"(known: {', '.join(NORMALISATIONS)})")
        if int(self.kam_order) < 1:
            raise EbsdphaseError(f"kam_order must be >= 1, got {self.kam_order}")
        if not self.kam_threshold > 0 or not self.grain_angle > 0:
            raise EbsdphaseError("kam_threshold and grain_angle must be positive angles (degrees)")
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "kam_order", int(self.kam_order))
        object.__setattr__(self, "kam_threshold", float(self.kam_threshold))
        object.__setattr__(self, "grain_angle", float(self.grain_angle))
        object.__setattr__(self, "unindexed_value", float(self.unindexed_value))

    # -- description ----------------------------------------------------------------------
    @property
    def n_channels(self) -> int:
        return len(self.channel_labels())

    def channel_labels(self) -> list[str]:
        """One label per output channel, e.g. ["bs", "kam"] or ["q0", "q1", "q2", "q3"]."""
        out: list[str] = []
        for n in self.names:
            out.extend(DERIVED_CHANNELS[n].labels if n in DERIVED_CHANNELS else (n,))
        return out

    def __str__(self) -> str:
        return ",".join(self.names)

    # -- (de)serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["names"] = list(self.names)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ChannelRecipe":
        known = {"names", "kam_order", "kam_threshold", "grain_angle", "normalisation",
                 "unindexed_value"}
        if "names" not in d:
            raise EbsdphaseError("channel recipe lacks 'names'")
        unknown = sorted(set(d) - known)
        if unknown:
            # a recipe written by a newer version could change what the model sees
            raise EbsdphaseError(f"channel recipe has unknown fields: {', '.join(unknown)}")
        kw = {k: v for k, v in d.items() if k in known}
        kw["names"] = tuple(kw["names"])
        return cls(**kw)

    @classmethod
    def parse(cls, text: str, **params: Any) -> "ChannelRecipe":
        """'bs,kam' or 'bs+kam' (spaces ignored) -> recipe with default parameters."""
        parts = [p.strip() for p in text.replace("+", ",").split(",")]
        names = tuple(p for p in parts if p)
        if not names:
            raise EbsdphaseError(f"no channel names in {text!r} (e.g. 'bs,kam' or 'quat')")
        return cls(names, **params)

    # -- building inputs ------------------------------------------------------------------
    def missing(self, ebsd: "EBSDMap") -> list[str]:
        """Channels of the recipe that ``ebsd`` cannot provide."""
        return [n for n in self.names if n not in DERIVED_CHANNELS and n not in ebsd.channels]

    def build(self, ebsd: "EBSDMap") -> np.ndarray:
        """The model input of ``ebsd``: (rows, cols, n_channels) float32, normalised."""
        missing = self.missing(ebsd)
        if missing:
            have = ", ".join(sorted(ebsd.channels)) or "none"
            derived = ", ".join(DERIVED_CHANNELS)
            raise EbsdphaseError(f"{ebsd.source or 'map'}: no channel {', '.join(missing)} "
                                 f"(scalar channels in this map: {have}; derived: {derived})")
        rows, cols = ebsd.shape
        out = np.empty((rows, cols, self.n_channels), np.float32)
        indexed = ebsd.indexed
        k = 0
        for name in self.names:
            derived = DERIVED_CHANNELS.get(name)
            if derived is not None and len(derived.labels) > 1:
                n = len(derived.labels)
                out[..., k:k + n] = derived.compute(ebsd, self)
                k += n
                continue
            raw = derived.compute(ebsd, self) if derived is not None else ebsd.channels[name]
            out[..., k] = self._scalar(raw, indexed)
            k += 1
        return out

    def _scalar(self, raw: np.ndarray, indexed: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, np.float32)
        valid = indexed & np.isfinite(raw)
        out = raw.astype(np.float32, copy=True)
        if self.normalisation == "zscore-per-map" and valid.any():
            v = raw[valid].astype(np.float64)
            mean = v.mean()
            std = v.std()
            # a constant channel carries no contrast; shifting it to 0 is all we can do
            scale = std if std > 1e-12 else 1.0
            out = ((raw - mean) / scale).astype(np.float32)
        out[~valid] = self.unindexed_value
        return out


def _canonical(name: str) -> str:
    n = str(name).strip().lower()
    if not n:
        raise EbsdphaseError("empty channel name in the recipe")
    return ALIASES.get(n, n)
