"""Maintainer script: accuracy and crop/gain invariance of models on validation maps only.

    python scripts/crop_validation.py MODEL [MODEL ...] [--step STEP [STEP ...]] [--maps K]
    (--step default 0.1, after the models)

Used to choose between runs of one model (e.g. a fine-tune under a wider random gain,
``train --quality-gain``, against the run it started from) without looking at the test
maps: one synthetic map per paper preset (428 x 568, seeds 6100-6103, the validation maps
of ``scripts/sublattice_validation.py``: used neither in training, 1000-1219, nor in the
held-out test, 5000-5110, nor by the invariance checks, 7000+). For each model it prints
the accuracy and balanced accuracy over all maps (4 per step),
the largest error of a map's ferrite fraction (points), the mean and worst agreement of the
128 x 128 crops that are >= 80 % one phase with the whole-map prediction, and the share of
pixels predicted alike with the quality channels x 0.6, and the lowest share of indexed
pixels predicted alike when the map is cleaned (non-indexed pixels filled from their
nearest indexed neighbour, as AZtec/OIM do). Several ``--step`` values: the four
maps at each step, all pooled (e.g. to choose among the epochs of ``train --keep-epochs``
across the steps of the held-out test). ``--maps K``: K maps per preset and step (seeds
6100-6103, then 6200-6203, 6300-6303, ...; the first set is the one the other validation
scripts read), for a crop check with more crops than one map per preset gives: the worst
of 52 crops did not foresee the worst crop of ``benchmarks/bench_real.py`` (a ``dp-bc``
run of 2026-12-08). The last column gives the worst crop at each step.
"""

from __future__ import annotations

import argparse

import numpy as np

PRESETS = ("t1", "t2", "t3", "complex")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--step", type=float, nargs="+", default=[0.1])
    ap.add_argument("--maps", type=int, default=1, help="maps per preset and step (seeds 6100+i, 6200+i, ...)")
    args = ap.parse_args()
    if not 1 <= args.maps <= 9:
        ap.error("--maps: 1 to 9")

    from ebsdphase.evaluation import checks
    from ebsdphase.evaluation.metrics import aggregate, evaluate
    from ebsdphase.models.bundle import load_bundle
    from ebsdphase.prediction.engine import predict
    from ebsdphase.synth import synthesize

    maps = [(step, synthesize(p, 6100 + 100 * j + i, (428, 568), step))
            for step in args.step for j in range(args.maps) for i, p in enumerate(PRESETS)]
    print("| model | accuracy | balanced acc. | max fraction error | crops: mean / worst agreement (n) "
          "| gain x 0.6 | clean-up | worst crop per step |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.models:
        bundle = load_bundle(name)
        per_map, crops, gains, cleanups = [], [], [], []
        worst = {step: 1.0 for step in args.step}
        for step, s in maps:
            whole = predict(s.map, bundle).classes
            per_map.append(evaluate(whole, s.labels))
            here = [c["agreement"] for c in checks.crop_agreement(bundle, s.map, s.labels, whole=whole)]
            crops += here
            worst[step] = min([worst[step], *here])
            g = checks.gain_agreement(bundle, s.map, 0.6, whole=whole)
            if g is not None:
                gains.append(g)
            u = checks.cleanup_agreement(bundle, s.map, whole=whole)
            if u is not None:
                cleanups.append(u)
        m = aggregate(per_map)
        errors = [abs(x.fractions["predicted"]["ferrite"] - x.fractions["true"]["ferrite"]) for x in per_map]
        gain = f"{100 * min(gains):.2f} %" if gains else "n/a"
        cleanup = f"{100 * min(cleanups):.1f} %" if cleanups else "n/a"
        print(f"| {name} | {100 * m.accuracy:.2f} % | {100 * m.balanced_accuracy:.2f} % | {100 * max(errors):.1f} pt "
              f"| {100 * np.mean(crops):.2f} / {100 * min(crops):.2f} % ({len(crops)}) | {gain} | {cleanup} "
              f"| {' / '.join(f'{100 * w:.2f}' for w in worst.values())} % |", flush=True)


if __name__ == "__main__":
    main()
