"""Text for people: names shortened to fit a table column or an axis label, percentages."""

from __future__ import annotations


def short_name(name: str, width: int) -> str:
    """``name`` cut to ``width`` characters with an ellipsis in the middle (the start and the
    end of a map name are what tell maps apart: 'Arcelor_M1…ED_gf1'); full names stay in
    the CSV files."""
    if len(name) <= width or width < 5:
        return name
    keep = width - 1
    head = (keep + 1) // 2
    return name[:head] + "…" + name[len(name) - (keep - head):]


def percent(v: float | None, digits: int = 2, missing: str = "-") -> str:
    """A fraction as a percentage for tables; ``missing`` where there is none (None or NaN)."""
    return missing if v is None or v != v else f"{100 * v:.{digits}f}"
