"""What a model saw in training, and whether a new map lies inside it.

``prepare`` measures each augmented map it writes (:func:`map_stats`), the dataset keeps
the ranges (:func:`ranges`), ``train`` copies them into the model card
(``"training_ranges"``), and ``predict`` compares every map with them
(:func:`outside`): a map at a step, indexing rate or KAM level the model never saw gets
one warning line and a column in ``fractions.csv``. Being outside is a reason to check
the result, not a refusal: a ferrite map at 1 um is still ferrite.

Statistics (all cheap next to prediction):

``step_um``
    the larger of the two steps, micrometres;
``indexed_fraction``
    share of indexed pixels;
``kam_mean_deg``
    mean KAM of the indexed pixels with the recipe's kernel (only for recipes with KAM);
``other_phase_fraction``
    share of the indexed pixels whose phase the map's phase table says is not body-centred
    iron (:func:`ebsdphase.core.iron.is_bcc_iron`: Laue group, name, cell, space group):
    austenite, nickel, a hexagonal metal; a map is outside from 1 % of its indexed pixels.
    The DP models know ferrite and martensite only and give those pixels one of the two; a
    model trained on ferrite/austenite labels keeps its own range and is not warned.

A card may also say ``min_extent_um``, the smallest field of view (the map's shorter side)
whose answers agree with those of a larger map (:func:`too_small`): a crop of a few grains
is then warned about the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from ebsdphase.core.iron import is_bcc_iron

if TYPE_CHECKING:
    from ebsdphase.core.ebsdmap import EBSDMap
    from ebsdphase.features import ChannelRecipe

#: how far past a training range a map may lie before it is called outside. None for the
#: step: it is set by the user, not measured, and the training steps cover their range
#: densely up to its ends (half of the augmentations coarsen 2x), so a step past the end is
#: one the model never saw. Measured statistics get a margin for their own scatter: an
#: absolute one for the indexing rate, a relative one for the mean KAM (noise-driven).
_MARGIN = {"step_um": ("rel", 0.0), "indexed_fraction": ("abs", 0.03), "kam_mean_deg": ("rel", 0.20),
           "other_phase_fraction": ("abs", 0.01)}
_UNITS = {"step_um": " um", "indexed_fraction": "", "kam_mean_deg": " deg", "other_phase_fraction": ""}
_LABELS = {"step_um": "step", "indexed_fraction": "indexed fraction", "kam_mean_deg": "mean KAM",
           "other_phase_fraction": "indexed pixels not body-centred iron"}
_PERCENT = ("indexed_fraction", "other_phase_fraction")

def other_phases(ebsd: "EBSDMap") -> dict[str, float]:
    """{phase name: share of the indexed pixels} for the phases that are not body-centred
    iron by :func:`is_bcc_iron` (phases it cannot tell count as iron)."""
    counts = {i: c for i, c in ebsd.phase_counts().items() if i > 0}
    n = sum(counts.values())
    out: dict[str, float] = {}
    for i, c in counts.items():
        phase = ebsd.phases.get(i)
        if n and phase is not None and is_bcc_iron(phase) is False:
            out[phase.name] = out.get(phase.name, 0.0) + c / n
    return out


def other_phase_names(ebsd: "EBSDMap") -> str:
    """The other phases of :func:`other_phases` for a warning: their names, with their
    shares where there are several."""
    others = other_phases(ebsd)
    return ", ".join(n if len(others) == 1 else f"{n} {share:.0%}" for n, share in others.items())


def map_stats(ebsd: "EBSDMap", recipe: "ChannelRecipe") -> dict[str, float]:
    """The statistics of one map that training ranges are kept for."""
    out = {"step_um": float(max(ebsd.step)), "indexed_fraction": float(np.mean(ebsd.indexed))}
    if ebsd.indexed.any():
        out["other_phase_fraction"] = float(sum(other_phases(ebsd).values()))
    if "kam" in recipe.names and ebsd.indexed.any():
        from ebsdphase.crystal import kam

        k = kam(ebsd, recipe.kam_order, recipe.kam_threshold)
        out["kam_mean_deg"] = float(np.mean(k[ebsd.indexed]))
    return out


def ranges(stats: Iterable[dict[str, float]]) -> dict[str, list[float]]:
    """{statistic: [min, max]} over the maps a model was trained on."""
    out: dict[str, list[float]] = {}
    for s in stats:
        for k, v in s.items():
            if not np.isfinite(v):
                continue
            lo, hi = out.get(k, [v, v])
            out[k] = [min(lo, v), max(hi, v)]
    return {k: [round(lo, 6), round(hi, 6)] for k, (lo, hi) in sorted(out.items())}


def _fmt(key: str, v: float, unit: bool = True) -> str:
    if key in _PERCENT:
        return f"{v:.0%}"
    return f"{v:.3g}{_UNITS.get(key, '') if unit else ''}"


def describe_range(key: str, lo: float, hi: float) -> tuple[str, str]:
    """(what, range) of one training range, as ``models info`` shows it."""
    return _LABELS.get(key, key), f"{_fmt(key, lo, False)} - {_fmt(key, hi)}"


def outside(stats: dict[str, float], training: dict[str, Any] | None,
            details: dict[str, str] | None = None) -> list[str]:
    """Reasons (one short phrase each) why a map with ``stats`` lies outside ``training``
    ranges; empty when it lies inside or the model card has no ranges (old cards).
    ``details`` adds a word to a statistic's reason (e.g. the names of the other phases)."""
    reasons = []
    for key, value in stats.items():
        rng = (training or {}).get(key)
        if not rng or not np.isfinite(value):
            continue
        lo, hi = float(rng[0]), float(rng[1])
        kind, m = _MARGIN.get(key, ("rel", 0.1))
        lo_ok, hi_ok = (lo * (1 - m), hi * (1 + m)) if kind == "rel" else (lo - m, hi + m)
        if not lo_ok <= value <= hi_ok:
            detail = (details or {}).get(key)
            seen = _fmt(key, hi) + " only" if lo == hi else f"{_fmt(key, lo, False)}-{_fmt(key, hi)}"
            reasons.append(f"{_LABELS.get(key, key)} {_fmt(key, value)}{f' ({detail})' if detail else ''} "
                           f"(trained on {seen})")
    return reasons


def too_small(ebsd: "EBSDMap", min_extent_um: float | None) -> list[str]:
    """One reason when the map's field of view is below the card's ``min_extent_um``: a
    map of few grains (a crop) is answered differently from the same pixels in a larger
    map (measured on validation crops, ``scripts/extent_validation.py``)."""
    if not min_extent_um:
        return []
    e = float(min(ebsd.size_um))  # the field of view: the shorter side
    if e >= min_extent_um:
        return []
    return [f"field of view {e:.3g} um (answers hold from {min_extent_um:.3g} um: a smaller map holds "
            "too few grains)"]
