"""Agreement with the true labels of every labelling stage, per synthetic preset and route.

    python benchmarks/label_agreement.py [--shape 200 260] [--seeds 0 1 2] [--json OUT.json]
    (use flock /tmp/ebsdphase-heavy.lock ... for full-size maps: --shape 856 1136)

Routes: Otsu on pixel BS; Otsu on grain-averaged BS; the forest on 1 % strokes (BS, and
BS + KAM). Stages: prelabel, majority (grains at 2 deg), unindexed (martensite rule with
the erode/dilate clean-up). Agreement = share of pixels whose class equals the truth.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

ROUTES = {
    "otsu-bs": dict(),
    "otsu-bs-grain": dict(grain_average=True),
    "forest-bs": dict(prelabel="forest", channel="bs"),
    "forest-bs+kam": dict(prelabel="forest", channel="bs,kam"),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", type=int, nargs=2, default=(200, 260))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--presets", nargs="+", default=["t1", "t2", "t3", "complex"])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from ebsdphase.labelling import label_map, strokes_from_labels
    from ebsdphase.synth import generate

    table: dict[str, dict[str, dict[str, list[float]]]] = {}
    for preset in args.presets:
        for seed in args.seeds:
            ebsd, truth = generate(preset, seed, tuple(args.shape), 0.1)
            strokes = strokes_from_labels(truth, 0.01, seed=seed)
            for route, kw in ROUTES.items():
                kw = dict(kw)
                if kw.get("prelabel") == "forest":
                    kw["scribbles"] = strokes
                res = label_map(ebsd, seed=seed, **kw)
                for stage, a in res.agreement(truth).items():
                    table.setdefault(preset, {}).setdefault(route, {}).setdefault(stage, []).append(a)

    print(f"agreement (%), mean over seeds {args.seeds} [min], maps {args.shape[0]} x {args.shape[1]}")
    print(f"{'preset':8} {'route':15} {'prelabel':>16} {'majority':>16} {'unindexed':>16}")
    for preset, routes in table.items():
        for route, stages in routes.items():
            cells = [f"{100 * np.mean(v):6.2f} [{100 * min(v):6.2f}]" for v in stages.values()]
            print(f"{preset:8} {route:15} " + " ".join(f"{c:>16}" for c in cells))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"shape": args.shape, "seeds": args.seeds, "agreement": table}, fh, indent=2)


if __name__ == "__main__":
    main()
