"""Maintainer script: the held-out synthetic table of ``make_pretrained.sh`` for README.md.

    python scripts/pretrained_table.py WORK_DIR

Reads ``WORK_DIR/eval-synth-*/metrics.json`` (one ``ebsdphase evaluate`` per model over the
12 held-out maps) and prints, per model: pooled accuracy, balanced accuracy (mean recall of
ferrite and martensite, which a majority-class model cannot win), the worst map, and the
largest ferrite-fraction error; then accuracy per held-out map.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def _scores(m: dict) -> tuple[float, float, float | None]:
    cm = np.asarray(m["confusion_matrix"], dtype=float)
    acc = float(np.trace(cm) / max(cm.sum(), 1))
    rows = cm.sum(axis=1)
    recall = np.diag(cm)[rows > 0] / rows[rows > 0]
    bal = float(recall.mean())
    fr = m.get("fractions") or {}
    err = None
    if fr.get("true") and fr.get("predicted"):
        err = abs(fr["true"]["ferrite"] - fr["predicted"]["ferrite"])
    return acc, bal, err


def main(work: Path) -> None:
    evals = sorted(work.glob("eval-synth-*/metrics.json"))
    print("| model | accuracy | balanced acc. | worst map | max ferrite-fraction error |")
    print("|---|---|---|---|---|")
    per_map = {}
    for path in evals:
        key = path.parent.name.removeprefix("eval-synth-")
        d = json.loads(path.read_text())
        acc, bal, _ = _scores(d)
        maps = {name: _scores(m) for name, m in d["per_map"].items()}
        per_map[key] = maps
        worst = min(v[0] for v in maps.values())
        errs = [v[2] for v in maps.values() if v[2] is not None]
        print(f"| `dp-{key}` | {100 * acc:.2f} % | {100 * bal:.2f} % | {100 * worst:.2f} % | "
              f"{100 * max(errs):.1f} points |" if errs else "")
    if per_map:
        names = sorted(next(iter(per_map.values())))
        print()
        print("| map | " + " | ".join(f"dp-{k}" for k in per_map) + " |")
        print("|---|" + "---|" * len(per_map))
        for n in names:
            print(f"| {n} | " + " | ".join(f"{100 * per_map[k][n][0]:.2f}" if n in per_map[k] else "-"
                                          for k in per_map) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
