"""Maintainer script: should a model predict fine maps on sub-lattices? (validation maps only)

    python scripts/sublattice_validation.py MODEL [MODEL ...] [--steps 0.05,0.07,0.1] [--write]

For each model and step, one synthetic map per paper preset (428 x 568, seeds 6100-6103:
used neither in training, 1000-1219, nor in the held-out test, 5000-5110) is predicted
whole and on its 2 x 2 sub-lattices (each pixel answered at twice the step), and the
accuracy of both printed.

``--write`` (MODEL a bundle folder) records the choice in the model card: where the
sub-lattices win at the finest steps and lose from some step on, ``finest_step_um`` is the
geometric mean of the last winning and the first losing step (maps finer than that are
predicted on sub-lattices), with the figures under ``metrics.sublattice_validation``; where
they never win, nothing. ``make_pretrained.sh`` runs it on every model before the held-out
test, so the choice is made on validation maps, never on the test maps.
"""

from __future__ import annotations

import argparse

import numpy as np

PRESETS = ("t1", "t2", "t3", "complex")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--steps", default="0.05,0.07,0.1")
    ap.add_argument("--write", action="store_true", help="record finest_step_um in each bundle's card")
    args = ap.parse_args()

    from ebsdphase.models.bundle import load_bundle
    from ebsdphase.prediction.engine import assemble, cleaned_for, predict_probabilities, sublattices
    from ebsdphase.synth import synthesize

    print("| model | step um | whole | 2 x 2 sub-lattices | per preset (whole / sub) |")
    print("|---|---|---|---|---|")
    steps = sorted(float(s) for s in args.steps.split(","))
    for name in args.models:
        b = load_bundle(name)
        rows = []
        for step in steps:
            whole, sub, cells = [], [], []
            for i, preset in enumerate(PRESETS):
                s = synthesize(preset, 6100 + i, (428, 568), step)
                ok = s.labels < 255
                if b.recipe.missing(s.map):
                    continue
                p_whole = predict_probabilities(b, b.recipe.build(s.map))
                # a model that cleans its maps cleans before splitting, as predict does
                parts = [predict_probabilities(b, b.recipe.build(m))
                         for m in sublattices(cleaned_for(b, s.map), 2)]
                p_sub = assemble(parts, s.map.shape)
                a = float(np.mean(p_whole.argmax(-1)[ok] == s.labels[ok]))
                c = float(np.mean(p_sub.argmax(-1)[ok] == s.labels[ok]))
                whole.append(a)
                sub.append(c)
                cells.append(f"{preset} {100 * a:.1f}/{100 * c:.1f}")
            rows.append({"step_um": step, "whole": round(float(np.mean(whole)), 5),
                         "sublattices": round(float(np.mean(sub)), 5)})
            print(f"| {b.name} | {step:g} | {100 * np.mean(whole):.2f} % | {100 * np.mean(sub):.2f} % | "
                  f"{', '.join(cells)} |", flush=True)
        if args.write:
            _write(b, rows)


def _choose(rows: list[dict]) -> float | None:
    """The finest_step_um these figures call for (None: never predict on sub-lattices)."""
    wins = [r["sublattices"] > r["whole"] for r in rows]
    if not wins[0]:
        return None
    last = max(i for i in range(len(wins)) if all(wins[: i + 1]))
    if last == len(rows) - 1:
        return rows[last]["step_um"]
    return round(float(np.sqrt(rows[last]["step_um"] * rows[last + 1]["step_um"])), 4)


def _write(bundle, rows: list[dict]) -> None:
    import json

    card_path = bundle.card_path
    card = json.loads(card_path.read_text())
    finest = _choose(rows)
    card.pop("finest_step_um", None)
    if finest is not None:
        card["finest_step_um"] = finest
    card.setdefault("metrics", {})["sublattice_validation"] = {
        "data": "one map per paper preset, 428 x 568, seeds 6100-6103 (scripts/sublattice_validation.py)",
        "accuracy": rows, "finest_step_um": finest}
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"{card_path}: finest_step_um = {finest}")


if __name__ == "__main__":
    main()
