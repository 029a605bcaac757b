"""Per-pixel channel values for labelling: raw, or standardised for the pixel forest.

Unlike the model's channel recipe (:mod:`ebsdphase.features`), labelling keeps the
channel values of non-indexed pixels: their low pattern quality is itself a hint of
martensite, and the threshold and forest stages see the map the way an expert looking
at a BS image does. ``kam`` is computed from the orientations (3 x 3 kernel, 3 deg, as in
section 2.3 of the paper).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ebsdphase.core.errors import EbsdphaseError

if TYPE_CHECKING:
    from ebsdphase.core.ebsdmap import EBSDMap

#: Channels where a *higher* value means more dislocations / worse patterns, i.e.
#: martensite (KAM; MAD and TSL "fit" are angular misfits of the indexing). Every other
#: channel is a pattern-quality index (BS, BC, IQ, CI, ...) where higher means ferrite.
HIGH_IS_DEFECTIVE = frozenset({"kam", "mad", "fit"})


def channel_values(ebsd: "EBSDMap", name: str, kam_order: int = 1,
                   kam_threshold: float = 3.0) -> np.ndarray:
    """The raw values of channel ``name`` of ``ebsd`` as (rows, cols) float32."""
    key = name.strip().lower()
    if key == "kam":
        from ebsdphase.crystal import kam

        return np.asarray(kam(ebsd, kam_order, kam_threshold), np.float32)
    if key not in ebsd.channels:
        have = ", ".join(sorted(ebsd.channels)) or "none"
        raise EbsdphaseError(f"{ebsd.source or 'map'}: no channel {key!r} "
                             f"(channels in this map: {have}; derived: kam)")
    return ebsd.channels[key]


def standardised(ebsd: "EBSDMap", name: str) -> np.ndarray:
    """Channel ``name`` shifted and scaled with the mean and std of the indexed pixels.

    Per-map standardisation (as in section 3.2 of the paper) lets one forest be applied to
    maps with different detector gains. Non-finite values become 0 (the mean).
    """
    raw = channel_values(ebsd, name)
    valid = ebsd.indexed & np.isfinite(raw)
    if not valid.any():
        valid = np.isfinite(raw)
    out = np.zeros(raw.shape, np.float32)
    if valid.any():
        v = raw[valid].astype(np.float64)
        std = v.std()
        out = ((raw - v.mean()) / (std if std > 1e-12 else 1.0)).astype(np.float32)
    out[~np.isfinite(out)] = 0.0
    return out


def parse_channels(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """'bs,kam' / 'bs+kam' / ['bs', 'kam'] -> ('bs', 'kam')."""
    if isinstance(text, str):
        parts = text.replace("+", ",").split(",")
    else:
        parts = list(text)
    names = tuple(p.strip().lower() for p in parts if p.strip())
    if not names:
        raise EbsdphaseError(f"no channel names in {text!r} (e.g. 'bs' or 'bs,kam')")
    return names
