"""Which phases of a map's phase table are body-centred iron (ferrite, martensite, bainite).

The DP models know ferrite and martensite; a duplex or TRIP map also indexes austenite,
and a map of nickel or zircaloy nothing they know. Files describe a phase by its Laue
group, cell, space group and name, each of them sometimes missing or a placeholder (a cell
of 0, 1 or 5 angstrom, a space group a writer made up, a name such as "phase 1"), so
:func:`is_bcc_iron` weighs them in order of how much they say:

1. a Laue group that is neither cubic nor tetragonal: not iron;
2. a name that says another phase (fcc, gamma, austenite, nickel, ...): not iron;
3. a name that says body-centred iron (bcc, ferrite, martensite, bainite, alpha, body
   centred): iron, whatever the cell (user-made phases carry placeholder cells);
4. a cell in angstrom: iron when every edge lies in :data:`BCC_IRON_CELL`;
5. a space group: iron when it is Im-3m or I4/mmm;
6. a name that says iron or Fe and is not a formula (Fe3C): iron;
7. otherwise unknown (None): the caller decides, and counts it as iron.
"""

from __future__ import annotations

import re

import numpy as np

from ebsdphase.core.ebsdmap import EBSDMap, Phase

#: the cell edges (angstrom) of body-centred iron: ferrite and bainite a = 2.87, tetragonal
#: martensite c up to ~3.05; fcc iron, nickel and copper lie at 3.5-3.7
BCC_IRON_CELL = (2.75, 3.10)
#: space groups of body-centred iron: Im-3m, and I4/mmm for a tetragonal martensite cell
BCC_IRON_SPACE_GROUPS = (229, 139)
#: cells below this (angstrom) are placeholders (0, 1) or in nanometres: they say nothing
_SMALLEST_CELL = 1.5
#: words that begin the name of another phase, and element symbols of metals that are not iron
_OTHER_WORDS = ("fcc", "gamma", "austenit", "nickel", "copper", "cement", "carbide", "hcp", "titan",
                "zirc", "alumin", "sigma", "magnes", "cobalt", "brass", "bronze")
_OTHER_SYMBOLS = {"ni", "cu", "al", "ti", "zr", "mg", "co", "zn", "ag", "au"}
#: words that say body-centred iron (or a body-centred cubic phase a user made for it)
_BCC_WORDS = {"bcc", "ferrite", "martensite", "bainite", "alpha"}
#: words that say iron but not which iron
_IRON_WORDS = {"iron", "fe"}


def _words(name: str) -> list[str]:
    return [w for w in re.split("[^a-z]+", name.lower()) if w]


def is_bcc_iron(phase: Phase) -> bool | None:
    """Whether ``phase`` is body-centred iron, by the order of the module docstring; None
    when its table entry does not say."""
    if phase.laue and phase.laue not in ("m-3m", "4/mmm"):
        return False
    words = _words(phase.name)
    if any(w.startswith(o) for w in words for o in _OTHER_WORDS) or _OTHER_SYMBOLS & set(words):
        return False
    if _BCC_WORDS & set(words) or ("body" in words and any(w.startswith("cent") for w in words)):
        return True
    cell = phase.lattice[:3]
    if min(cell) > _SMALLEST_CELL:
        return all(BCC_IRON_CELL[0] <= x <= BCC_IRON_CELL[1] for x in cell)
    if phase.space_group:
        return phase.space_group in BCC_IRON_SPACE_GROUPS
    formula = re.search(r"[a-z]\d", phase.name.lower()) is not None  # Fe3C, Fe2O3: compounds
    if _IRON_WORDS & set(words) and not formula:
        return True
    return None


def iron_mask(ebsd: EBSDMap) -> np.ndarray | None:
    """(rows, cols) bool: the indexed pixels of body-centred iron (phases :func:`is_bcc_iron`
    cannot tell count as iron), or None when no pixel is indexed as another phase: then
    every indexed pixel is iron. A map whose table lists no other phase (the common case)
    costs no pass over its pixels; one whose table lists an fcc iron it never indexed, one."""
    others = [i for i, phase in ebsd.phases.items() if i > 0 and is_bcc_iron(phase) is False]
    if not others:
        return None
    other = ebsd.indexed & np.isin(ebsd.phase_id, others)
    return ebsd.indexed & ~other if other.any() else None
