"""The channel recipe: which per-pixel inputs a model sees and how they are normalised.

One definition shared by ``prepare``, ``train`` and ``predict``: a dataset stores its
recipe, a model bundle copies it, and prediction on a new map rebuilds the inputs from
the recipe alone. No statistic of the training set is ever stored, so a new map needs
nothing but itself.

Channel names
-------------
``kam``
    Kernel average misorientation in degrees, always recomputed from the orientations
    with the recipe's ``kam_order`` / ``kam_threshold`` (never read from the file, so maps
    from different vendors give the same channel). Standardised like a scalar channel.
``quality``
    The vendor-neutral pattern-quality channel: band slope (``bs``) on Oxford files,
    image quality (``iq``) on EDAX/TSL files, band contrast (``bc``) where that is all the
    file has (the first of these the map holds). One model then serves every vendor.
``step``
    The map's step as a constant channel, log2(step / 0.1 um): 0 at the paper's 0.1 um, +1
    per doubling. KAM grows with the step (lattice curvature adds more per pixel) and the
    same microstructure spans fewer pixels, so a KAM of 0.7 deg is martensite at 0.1 um but
    can be deformed ferrite at 1 um; with the step among its inputs a network trained
    across steps knows which. Constant over the map, so crops and gains cannot move it.
``quat``
    Four channels (q0..q3 = w, x, y, z) of orientations homogenised per grain (all pixels
    of a grain expressed with the same symmetry equivalent, grains detected with
    ``grain_angle``). Not standardised: the components already lie in [-1, 1]. Non-indexed
    pixels are 0 in all four channels, a value no unit quaternion has.
anything else
    A scalar channel of the map (``bs``, ``bc``, ``iq``, ``ci``, ``mad``, ...), looked up
    in ``map.channels``.

Normalisation ``invariant`` (recipe version 2, the default)
-----------------------------------------------------------
A pixel's input must not depend on what else is in the map (a crop of a map, its phase
balance) nor on the camera's gain, so nothing is standardised per map:

- angle-like channels (``kam``, ``mad``) and bounded scores (``ci``, ``fit``) keep their
  physical values on a fixed scale (degrees for KAM, in [0, threshold]);
- pattern-quality channels (``bs``, ``bc``, ``iq``, ``quality``, ...) differ by orders of
  magnitude between vendors and set-ups (BC 0-255, IQ 1e3 on one EDAX map, 1e5 on another),
  so each is divided by its 98th percentile over the map's indexed pixels. That removes
  the gain exactly, and the 98th percentile is the bright tail of the map, which barely
  moves with the phase fractions: ferrite's tail as long as a few per cent of the map is
  ferrite, the recovered (auto-tempered) laths' in fully martensitic maps. What is left
  of that dependence (a 100 % martensite crop of a two-phase map, up to ~25 %) is taught
  to the network by a random gain on these channels during training
  (:func:`relative_jitter`), so it decides on contrast and texture, not on one level;
  ``train --own-scale`` also re-scales a share of the training crops over their own
  percentile (:func:`own_scale`), the level's real dependence on a crop's content.

Non-indexed pixels: ``fill_unindexed``
--------------------------------------
By default a non-indexed pixel is 0 in every channel. Indexing fails most where patterns
are poor (lath boundaries, martensite), so a network can learn to read the phase from the
density of non-indexed pixels; a map cleaned by AZtec or OIM (no such pixel left) or a
ferrite map with a poor preparation then fools it. With ``fill_unindexed`` the recipe first
cleans the map as those programs do (:mod:`ebsdphase.core.cleanup`: orientation and phase of
the nearest indexed pixel, the pixel's own pattern quality), so a raw and a cleaned map of
one region give the same input and the phase must come from the orientations themselves.

Normalisation ``zscore-per-map`` (recipe version 1, the paper's)
----------------------------------------------------------------
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

from ebsdphase.core.errors import EbsdphaseError

if TYPE_CHECKING:
    from ebsdphase.core.ebsdmap import EBSDMap

NORMALISATIONS = ("invariant", "zscore-per-map", "none")
#: channels kept on their physical scale by the ``invariant`` normalisation
FIXED_SCALE_CHANNELS = frozenset({"kam", "step", "mad", "ci", "fit", "error", "bands", "grain_id", "phase"})
#: percentile of the indexed pixels that scales pattern-quality channels to ~1
QUALITY_PERCENTILE = 98.0
#: source channels of ``quality``, in order of preference
QUALITY_SOURCES = ("bs", "iq", "bc")
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
    #: False: a property of the whole map, the same on non-indexed pixels (``step``)
    per_pixel: bool = True


def _kam(ebsd: "EBSDMap", recipe: "ChannelRecipe") -> np.ndarray:
    from ebsdphase.crystal import kam

    return kam(ebsd, recipe.kam_order, recipe.kam_threshold)


def _quaternions(ebsd: "EBSDMap", recipe: "ChannelRecipe") -> np.ndarray:
    from ebsdphase.crystal import grains, homogenize

    ids = grains(ebsd, recipe.grain_angle)
    q = homogenize(ebsd, ids)  # a fresh float32 array, ours to edit
    q[~ebsd.indexed] = 0.0
    return q


def quality_source(ebsd: "EBSDMap") -> str | None:
    """The map channel that ``quality`` reads (bs, else iq, else bc), or None."""
    return next((c for c in QUALITY_SOURCES if c in ebsd.channels), None)


def _quality(ebsd: "EBSDMap", recipe: "ChannelRecipe") -> np.ndarray:
    return ebsd.channels[quality_source(ebsd)]


#: the step that the ``step`` channel calls 0 (the paper's maps), micrometres
REFERENCE_STEP_UM = 0.1


def _step(ebsd: "EBSDMap", recipe: "ChannelRecipe") -> np.ndarray:
    step = float(max(ebsd.step))
    return np.full(ebsd.shape, np.log2(step / REFERENCE_STEP_UM), np.float32)


#: the channel registry: every channel computed from the orientations (or, for
#: ``quality``, chosen among the map's channels), by name
DERIVED_CHANNELS: dict[str, DerivedChannel] = {
    "kam": DerivedChannel(("kam",), _kam),
    "quality": DerivedChannel(("quality",), _quality),
    "step": DerivedChannel(("step",), _step, per_pixel=False),
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
    normalisation: str = "invariant"
    unindexed_value: float = 0.0
    #: clean every map before building its inputs: non-indexed pixels take the orientation
    #: of their nearest indexed pixel (:mod:`ebsdphase.core.cleanup`, as AZtec/OIM do), so the
    #: model cannot read the phase from where indexing failed, and a raw and a cleaned map
    #: of the same region look alike to it
    fill_unindexed: bool = False

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
        if not isinstance(self.fill_unindexed, (bool, np.bool_)):
            raise EbsdphaseError(f"fill_unindexed must be true or false, got {self.fill_unindexed!r}")
        object.__setattr__(self, "fill_unindexed", bool(self.fill_unindexed))

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

    @property
    def version(self) -> int:
        """2 for the map-independent ``invariant`` inputs, 1 for the paper's per-map z-score."""
        return 2 if self.normalisation == "invariant" else 1

    def relative_labels(self) -> list[str]:
        """Output channels scaled by a percentile of the map (``invariant`` only): the ones
        whose level is only known up to a factor, jittered in training."""
        if self.normalisation != "invariant":
            return []
        return [c for c in self.channel_labels() if _is_relative(c)]

    # -- (de)serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["names"] = list(self.names)
        if not self.fill_unindexed:
            # written only when set: recipes without it read and compare as they always did
            del d["fill_unindexed"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ChannelRecipe":
        known = {"names", "kam_order", "kam_threshold", "grain_angle", "normalisation",
                 "unindexed_value", "fill_unindexed"}
        if "names" not in d:
            raise EbsdphaseError("channel recipe lacks 'names'")
        unknown = sorted(set(d) - known)
        if unknown:
            # a recipe written by a newer version could change what the model sees
            raise EbsdphaseError(f"channel recipe has unknown fields: {', '.join(unknown)}")
        kw = {k: v for k, v in d.items() if k in known}
        kw["names"] = tuple(kw["names"])
        # recipes written before version 2 did not always name their normalisation: theirs
        # was the per-map z-score, and they must keep predicting exactly as they did
        kw.setdefault("normalisation", "zscore-per-map")
        return cls(**kw)

    @classmethod
    def parse(cls, text: str, **params: Any) -> "ChannelRecipe":
        """'bs,kam' or 'bs+kam' (spaces ignored) -> recipe with default parameters."""
        return cls(parse_names(text), **params)

    # -- building inputs ------------------------------------------------------------------
    def missing(self, ebsd: "EBSDMap") -> list[str]:
        """Channels of the recipe that ``ebsd`` cannot provide."""
        def have(n: str) -> bool:
            if n == "quality":
                return quality_source(ebsd) is not None
            return n in DERIVED_CHANNELS or n in ebsd.channels
        return [n for n in self.names if not have(n)]

    def build(self, ebsd: "EBSDMap") -> np.ndarray:
        """The model input of ``ebsd``: (rows, cols, n_channels) float32, normalised."""
        missing = self.missing(ebsd)
        if missing:
            have = ", ".join(sorted(ebsd.channels)) or "none"
            derived = ", ".join(DERIVED_CHANNELS)
            raise EbsdphaseError(f"{ebsd.source or 'map'}: no channel {', '.join(missing)} "
                                 f"(scalar channels in this map: {have}; derived: {derived})")
        if self.fill_unindexed:
            from ebsdphase.core.cleanup import cleaned

            ebsd = cleaned(ebsd)
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
            out[..., k] = self._scalar(raw, indexed, name) if derived is None or derived.per_pixel else raw
            k += 1
        return out

    def _scalar(self, raw: np.ndarray, indexed: np.ndarray, name: str = "") -> np.ndarray:
        raw = np.asarray(raw, np.float32)
        valid = indexed & np.isfinite(raw)
        out = raw.astype(np.float32, copy=True)
        if self.normalisation == "invariant":
            if _is_relative(name) and valid.any():
                out = (raw / _quality_scale(raw[valid])).astype(np.float32)
        elif self.normalisation == "zscore-per-map" and valid.any():
            out = zscore(raw, valid)
        out[~valid] = self.unindexed_value
        return out


def zscore(raw: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``raw`` shifted and scaled by the mean and standard deviation of its ``valid``
    pixels, float32 (the paper's per-map standardisation; ``valid`` must not be empty).
    A constant channel carries no contrast: it is only shifted."""
    v = raw[valid].astype(np.float64)
    std = v.std()
    return ((raw - v.mean()) / (std if std > 1e-12 else 1.0)).astype(np.float32)


def _is_relative(label: str) -> bool:
    return label not in FIXED_SCALE_CHANNELS and label not in QUAT_LABELS


def _quality_scale(values: np.ndarray) -> float:
    """The 98th percentile of a quality channel's indexed values (> 0), the unit it is
    expressed in; falls back to the largest magnitude for channels that are mostly 0."""
    v = np.abs(values.astype(np.float64))
    s = float(np.percentile(v, QUALITY_PERCENTILE))
    if not s > 1e-12:
        s = float(v.max())
    return s if s > 1e-12 else 1.0


#: default range [1/G, G] of the random gain on quality channels in training (train --quality-gain)
QUALITY_GAIN = 1.25


def relative_jitter(x: np.ndarray, channels: list[int], rng: np.random.Generator,
                    gain: float = QUALITY_GAIN, offset: float = 0.05) -> np.ndarray:
    """Multiply the percentile-scaled channels of each crop in a (n, H, W, C) batch by a
    random gain in [1/gain, gain] (log-uniform) and add an offset in [-offset, offset].

    The 98th percentile that scales them moves a little with the phase fractions of a map
    (most in a map that is nearly all martensite); training under this jitter makes the
    network decide on contrast and texture, so that a crop and the whole map agree.
    Non-indexed pixels (exactly 0) stay 0. Changes ``x`` in place and returns it.
    """
    if not channels or len(x) == 0:
        return x
    n = len(x)
    g = np.exp(rng.uniform(-np.log(gain), np.log(gain), (n, 1, 1, len(channels)))).astype(np.float32)
    o = rng.uniform(-offset, offset, (n, 1, 1, len(channels))).astype(np.float32)
    sub = x[..., channels]
    x[..., channels] = np.where(sub != 0, sub * g + o, 0.0)
    return x


def own_scale(x: np.ndarray, channels: list[int], rng: np.random.Generator, share: float) -> np.ndarray:
    """Re-express the percentile-scaled channels of a random ``share`` of the crops in a
    (n, H, W, C) batch over each crop's own 98th percentile of its indexed pixels, as if
    the crop were the whole map.

    A user's crop, or a map that is nearly all one phase, is scaled by its own bright tail,
    which sits lower the less ferrite it holds; a random gain (:func:`relative_jitter`)
    teaches tolerance of a level that moves at random, this teaches the level's real
    dependence on the crop's content, which the network can read from the texture.
    Non-indexed pixels (exactly 0) stay 0; a crop with none indexed is left as it is.
    The crop's indexed pixels are taken to be its non-zero ones (a dataset keeps no mask):
    exact for the recipes' ``unindexed_value`` 0 and quality channels, which are > 0 where
    indexed. Changes ``x`` in place and returns it.
    """
    return _remap_indexed(x, channels, rng, share, lambda on: on / np.float32(_quality_scale(on)))


def flatten_quality(x: np.ndarray, channels: list[int], rng: np.random.Generator, share: float) -> np.ndarray:
    """Replace the quality channels of a random ``share`` of the crops in a (n, H, W, C) batch
    by their median over the crop's indexed pixels: the level stays, the pattern goes.

    A quality channel's pattern is the least portable cue a model has: how bright a coarse
    tempered lath or a recovered plate looks depends on the detector, the preparation and
    the clean-up, which no generator covers, while KAM is a physical angle. Crops with a flat
    quality make the network learn the phase from KAM and texture as well, so the quality
    pattern confirms rather than decides. Non-indexed pixels (exactly 0) stay 0, as in
    :func:`own_scale`; a crop with none indexed is left as it is. Changes ``x`` in place and
    returns it.
    """
    return _remap_indexed(x, channels, rng, share, np.median)


def _remap_indexed(x: np.ndarray, channels: list[int], rng: np.random.Generator, share: float,
                   remap) -> np.ndarray:
    """For a random ``share`` of the crops of a (n, H, W, C) batch, each of ``channels``'
    indexed (non-zero) values replaced by ``remap(values)``, in place (one crop chosen per
    uniform draw, so a given rng picks the same crops whatever ``remap`` is)."""
    if not channels or share <= 0 or len(x) == 0:
        return x
    pick = np.flatnonzero(rng.uniform(size=len(x)) < share)
    for i in pick:
        for c in channels:
            v = x[i, ..., c]
            on = v != 0
            if on.any():
                v[on] = remap(v[on])
    return x


def _canonical(name: str) -> str:
    n = str(name).strip().lower()
    if not n:
        raise EbsdphaseError("empty channel name in the recipe")
    return ALIASES.get(n, n)


def parse_names(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """'bs,kam' / 'bs+kam' / ['bs', 'kam'] -> ('bs', 'kam'): canonical channel names
    (lower case, aliases resolved), the one parser of every channel list."""
    parts = text.replace("+", ",").split(",") if isinstance(text, str) else list(text)
    names = tuple(_canonical(p) for p in parts if str(p).strip())
    if not names:
        raise EbsdphaseError(f"no channel names in {text!r} (e.g. 'bs', 'bs,kam' or 'quat')")
    return names


# -- channels as the labelling stage sees them ------------------------------------------
# Labelling (thresholds, the pixel forest, the baselines) looks at a map the way an expert
# looks at a BS image: non-indexed pixels keep their values, since their low pattern
# quality is itself a hint of martensite. These functions are that view of the channels.

#: channels where a *higher* value means more dislocations / worse patterns, i.e.
#: martensite (KAM; MAD and TSL "fit" are angular misfits of the indexing). Every other
#: channel is a pattern-quality index (BS, BC, IQ, CI, ...) where higher means ferrite.
HIGH_IS_DEFECTIVE = frozenset({"kam", "mad", "fit"})


def channel_values(ebsd: "EBSDMap", name: str, kam_order: int = 1,
                   kam_threshold: float = 3.0) -> np.ndarray:
    """The raw (rows, cols) float32 values of scalar channel ``name``: a channel of the
    map, or a one-component derived channel (``kam``, ``quality``, ``step``)."""
    key = _canonical(name)
    recipe = ChannelRecipe((key,), kam_order=kam_order, kam_threshold=kam_threshold)
    derived = DERIVED_CHANNELS.get(key)
    if derived is not None and len(derived.labels) > 1:
        raise EbsdphaseError(f"channel {key!r} has {len(derived.labels)} components; "
                             "a scalar channel is needed here (e.g. bs, iq, kam)")
    if recipe.missing(ebsd):
        have = ", ".join(sorted(ebsd.channels)) or "none"
        raise EbsdphaseError(f"{ebsd.source or 'map'}: no channel {key!r} "
                             f"(channels in this map: {have}; derived: kam, quality, step)")
    raw = derived.compute(ebsd, recipe) if derived is not None else ebsd.channels[key]
    return np.asarray(raw, np.float32)


def standardised(ebsd: "EBSDMap", name: str) -> np.ndarray:
    """Channel ``name`` z-scored with the mean and std of the indexed pixels (all finite
    pixels when none is indexed), non-indexed pixels kept; non-finite values become 0.
    Lets one pixel forest serve maps recorded with different detector gains."""
    raw = channel_values(ebsd, name)
    valid = ebsd.indexed & np.isfinite(raw)
    if not valid.any():
        valid = np.isfinite(raw)
    out = zscore(raw, valid) if valid.any() else np.zeros(raw.shape, np.float32)
    out[~np.isfinite(out)] = 0.0
    return out
