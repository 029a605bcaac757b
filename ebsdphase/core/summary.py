"""A JSON-ready summary of a map (what ``ebsdphase info`` shows)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ebsdphase.core.ebsdmap import EBSDMap


def summarize(ebsd: EBSDMap) -> dict[str, Any]:
    n = ebsd.rows * ebsd.cols
    counts = ebsd.phase_counts()
    phases = []
    if counts.get(0):
        phases.append({"id": 0, "name": "not indexed", "laue": "-", "pixels": counts[0],
                       "fraction": counts[0] / n})
    for pid, phase in sorted(ebsd.phases.items()):
        c = counts.get(pid, 0)
        phases.append({"id": pid, "name": phase.name, "laue": phase.laue, "pixels": c,
                       "fraction": c / n if n else 0.0})
    channels = {}
    for name, arr in ebsd.channels.items():
        finite = arr[np.isfinite(arr)]
        if finite.size:
            channels[name] = {"min": float(finite.min()), "mean": float(finite.mean()),
                              "max": float(finite.max())}
        else:
            channels[name] = {"min": float("nan"), "mean": float("nan"), "max": float("nan")}
    return {
        "source": ebsd.source or "",
        "format": ebsd.format or "",
        "rows": ebsd.rows,
        "cols": ebsd.cols,
        "step": list(ebsd.step),
        "size_um": list(ebsd.size_um),
        "indexed_fraction": ebsd.indexed_fraction,
        "phases": phases,
        "channels": channels,
    }
