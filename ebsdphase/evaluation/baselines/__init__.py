"""Non-deep-learning baselines for ``ebsdphase compare``.

Specs are ``"<method>:<channels>"``:

``grain-threshold:CHANNEL`` or ``grain-threshold:CHANNEL=VALUE``
    grain-averaged channel, Otsu's threshold (or VALUE), see
    :mod:`ebsdphase.evaluation.baselines.grain_threshold`. Needs no labels; with labels its
    polarity (which class is above the threshold) comes from strokes on them.
``forest:CHANNELS`` (e.g. ``forest:bs``, ``forest:bs+kam``)
    pixel random forest trained on strokes covering 1 % of the map's true labels, see
    :mod:`ebsdphase.evaluation.baselines.forest`. Needs the labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ebsdphase.core.errors import EbsdphaseError

if TYPE_CHECKING:
    from ebsdphase.core.ebsdmap import EBSDMap

METHODS = ("grain-threshold", "forest")


def parse_spec(spec: str) -> tuple[str, tuple[str, ...], float | None]:
    """'grain-threshold:bs=120' -> ('grain-threshold', ('bs',), 120.0)."""
    from ebsdphase.features import parse_names

    method, sep, rest = spec.strip().partition(":")
    method = method.strip().lower()
    if method not in METHODS:
        raise EbsdphaseError(f"unknown baseline {spec!r} (known: grain-threshold:CHANNEL[=VALUE], "
                             "forest:CHANNELS, e.g. grain-threshold:bs, forest:bs+kam)")
    rest = rest.strip() or "bs"
    value = None
    if "=" in rest:
        if method != "grain-threshold":
            raise EbsdphaseError(f"baseline {spec!r}: only grain-threshold takes a value")
        rest, _, v = rest.partition("=")
        try:
            value = float(v)
        except ValueError:
            raise EbsdphaseError(f"baseline {spec!r}: threshold {v!r} is not a number") from None
    channels = parse_names(rest)
    if method == "grain-threshold" and len(channels) != 1:
        raise EbsdphaseError(f"baseline {spec!r}: grain-threshold uses one channel")
    return method, channels, value


def run_baseline(spec: str, ebsd: "EBSDMap", labels: np.ndarray | None = None,
                 seed: int = 0, notes: dict | None = None) -> np.ndarray:
    """Classes (rows, cols uint8) of ``ebsd`` by the baseline ``spec`` (see module docstring);
    ``notes`` (a dict) receives what the baseline chose (threshold, polarity)."""
    method, channels, value = parse_spec(spec)
    if method == "grain-threshold":
        from ebsdphase.evaluation.baselines.grain_threshold import grain_threshold

        return grain_threshold(ebsd, channels[0], value, labels=labels, seed=seed, notes=notes)
    if labels is None:
        raise EbsdphaseError(f"baseline {spec!r} is trained on 1 % of the map's labels: give the labels")
    from ebsdphase.evaluation.baselines.forest import forest_baseline

    return forest_baseline(ebsd, labels, channels, seed=seed)


__all__ = ["METHODS", "parse_spec", "run_baseline"]
