"""Maintainer script: from what field of view does a model answer a map as it answers the whole? (validation maps only)

    python scripts/extent_validation.py MODEL [MODEL ...] [--write]

A small map holds few grains: a model that scales its quality channel over the map's own
bright tail reads a map that is all martensite as if half of it were ferrite, and every
model answers the pixels near a map's edge from part of their context. How small is too
small is measured, not guessed: on the validation maps of ``scripts/smooth_validation.py``
(one per paper preset, 428 x 568, seeds 6100-6103, at 0.05, 0.1 and 0.2 um; used neither in
training nor in the held-out test), square crops of 48-192 pixels (2.4-38 um) that are
>= 80 % one phase are predicted alone, as the card says (sub-lattices, smoothing), and
compared with the same pixels of the whole-map prediction. Per field of view (the crop's
side in um): the number of crops, the worst, the 5th percentile and the mean agreement.

``--write`` records in each card ``min_extent_um`` (:func:`choose`): the smallest field of
view from which on 95 % of the crops (half-overlapping, on a grid) agree on at least 97 % of
their pixels (the crop target of the real-maps issue), at that size and every larger one
measured. ``predict`` then warns about a map whose shorter side is smaller
(``Bundle.outside_training``).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from smooth_validation import validation_maps  # the same 12 validation maps (this folder)

SIZES = (48, 64, 96, 128, 192)
#: the crop target: a crop agrees with the whole map on at least this share of its pixels ...
AGREEMENT = 0.97
#: ... for at least this share of the crops of one field of view
SHARE_OF_CROPS = 0.95


def score(bundle, maps) -> dict[float, list[float]]:
    """{field of view in um: [agreement of each crop of that size]}."""
    from ebsdphase.evaluation import checks
    from ebsdphase.prediction.engine import predict

    out: dict[float, list[float]] = {}
    for s in maps:
        whole = predict(s.map, bundle).classes
        step = float(s.map.step[0])
        for size in SIZES:
            # half-overlapping crops: enough of the larger sizes for a 5th percentile
            for r, c, _, _ in checks.crop_boxes(s.labels, size, 0.8, stride=size // 2):
                part = predict(s.map[r:r + size, c:c + size], bundle).classes
                out.setdefault(round(size * step, 2), []).append(
                    float(np.mean(part == whole[r:r + size, c:c + size])))
    return dict(sorted(out.items()))


def summary(agreements: dict[float, list[float]]) -> list[dict]:
    return [{"extent_um": e, "crops": len(v), "worst": round(min(v), 4),
             "p5": round(float(np.percentile(v, 100 * (1 - SHARE_OF_CROPS))), 4), "mean": round(float(np.mean(v)), 4)}
            for e, v in agreements.items()]


def choose(rows: list[dict]) -> float | None:
    """The smallest field of view from which every measured size has its 5th percentile at
    :data:`AGREEMENT` or more; None when even the largest does not."""
    chosen = None
    for row in reversed(rows):  # from the largest down, while the sizes hold
        if row["p5"] < AGREEMENT:
            break
        chosen = row["extent_um"]
    return chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--write", action="store_true", help="record min_extent_um in each bundle's card")
    args = ap.parse_args()

    from ebsdphase.models.bundle import load_bundle

    maps = validation_maps()
    print("| model | field of view um | crops | worst | 5th percentile | mean |")
    print("|---|---|---|---|---|---|")
    for name in args.models:
        bundle = load_bundle(name)
        rows = summary(score(bundle, maps))
        for r in rows:
            print(f"| {bundle.name} | {r['extent_um']:g} | {r['crops']} | {100 * r['worst']:.1f} % | "
                  f"{100 * r['p5']:.1f} % | {100 * r['mean']:.2f} % |", flush=True)
        chosen = choose(rows)
        print(f"{bundle.name}: min_extent_um = {chosen}", flush=True)
        if args.write:
            _write(bundle, rows, chosen)


def _write(bundle, rows: list[dict], chosen: float | None) -> None:
    card = json.loads(bundle.card_path.read_text())
    card.pop("min_extent_um", None)
    if chosen is not None:
        card["min_extent_um"] = chosen
    card.setdefault("metrics", {})["extent_validation"] = {
        "data": "crops of 48-192 px of one map per paper preset, 428 x 568, seeds 6100-6103, at 0.05, 0.1 "
                "and 0.2 um (scripts/extent_validation.py)", "figures": rows, "min_extent_um": chosen}
    bundle.card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"{bundle.card_path}: min_extent_um = {chosen}")


if __name__ == "__main__":
    main()
