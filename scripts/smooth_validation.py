"""Maintainer script: should a model's answers be smoothed by grains? Chosen on validation maps only.

    python scripts/smooth_validation.py MODEL [MODEL ...] [--write]

For each model, on the validation maps of ``scripts/crop_validation.py`` (one per paper
preset, 428 x 568, seeds 6100-6103, at 0.05, 0.1 and 0.2 um; used neither in training nor
in the held-out test), the pixel answers (``none``), the half-pixel half-grain average
(``soft``) and the hard grain vote (``grains``): accuracy pooled over the 12 maps, the
largest ferrite-fraction error, and the worst agreement of the 128 x 128 crops that are
>= 80 % one phase with the whole map, at each step. ``--write`` records in each card the
choice these figures call for (:func:`choose`): ``soft`` when it is more accurate than the
pixel answers and keeps the worst crop at 0.1 um at 97 % or at least where the pixel
answers had it; else nothing. The hard vote is printed for comparison and never chosen: it
flips a grain whose mean sits near 0.5 as a whole, the crop agreement falls most.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

PRESETS = ("t1", "t2", "t3", "complex")
STEPS = (0.05, 0.1, 0.2)
MODES = ("none", "soft", "grains")


def validation_maps() -> list:
    """The 12 validation maps: one per paper preset at each of :data:`STEPS` (428 x 568,
    seeds 6100-6103; also read by ``extent_validation.py``)."""
    from ebsdphase.synth import synthesize

    return [synthesize(p, 6100 + i, (428, 568), step) for step in STEPS for i, p in enumerate(PRESETS)]


def score(bundle, maps) -> dict[str, dict]:
    """{mode: {"accuracy", "max_fraction_error", "worst_crop": {step: share}}} on ``maps``."""
    from ebsdphase.evaluation import checks
    from ebsdphase.prediction.engine import postprocess, predict

    acc = {m: [0, 0] for m in MODES}
    frac = {m: [] for m in MODES}
    crops: dict[str, dict[float, list[float]]] = {m: {} for m in MODES}
    for s in maps:
        ok = s.labels < 2
        whole = predict(s.map, bundle, smooth="none")
        parts = [(r, c, s.map[r:r + 128, c:c + 128]) for r, c, _, _ in checks.crop_boxes(s.labels)]
        parts = [(r, c, m, predict(m, bundle, smooth="none")) for r, c, m in parts]
        step = round(float(s.map.step[0]), 4)
        for mode in MODES:
            w = postprocess(bundle, s.map, whole, mode).classes
            acc[mode][0] += int(np.sum(w[ok] == s.labels[ok]))
            acc[mode][1] += int(ok.sum())
            frac[mode].append(abs(float(np.mean(w[ok] == 0)) - float(np.mean(s.labels[ok] == 0))))
            for r, c, m, p in parts:
                agree = float(np.mean(postprocess(bundle, m, p, mode).classes == w[r:r + 128, c:c + 128]))
                crops[mode].setdefault(step, []).append(agree)
    return {m: {"accuracy": round(acc[m][0] / acc[m][1], 5), "max_fraction_error": round(max(frac[m]), 4),
                "worst_crop": {str(k): round(min(v), 4) for k, v in crops[m].items()}} for m in MODES}


def choose(figures: dict[str, dict]) -> str | None:
    """"soft" if it beats the pixel answers on accuracy and keeps the worst 0.1 um crop at
    97 % or no lower than the pixel answers; else None."""
    soft, none = figures["soft"], figures["none"]
    crop_soft, crop_none = soft["worst_crop"].get("0.1", 0.0), none["worst_crop"].get("0.1", 0.0)
    if soft["accuracy"] > none["accuracy"] and (crop_soft >= 0.97 or crop_soft >= crop_none):
        return "soft"
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--write", action="store_true", help="record the choice in each bundle's card")
    args = ap.parse_args()

    from ebsdphase.models.bundle import load_bundle

    maps = validation_maps()
    print("| model | smoothing | accuracy | max fraction error | worst crop at " + " / ".join(f"{s:g}" for s in STEPS)
          + " um |")
    print("|---|---|---|---|---|")
    for name in args.models:
        bundle = load_bundle(name)
        figures = score(bundle, maps)
        for mode, f in figures.items():
            worst = " / ".join(f"{100 * v:.2f}" for v in f["worst_crop"].values())
            print(f"| {bundle.name} | {mode} | {100 * f['accuracy']:.2f} % | {100 * f['max_fraction_error']:.1f} pt "
                  f"| {worst} % |", flush=True)
        if args.write:
            _write(bundle, figures)


def _write(bundle, figures: dict) -> None:
    card = json.loads(bundle.card_path.read_text())
    chosen = choose(figures)
    card.pop("smooth", None)
    if chosen is not None:
        card["smooth"] = chosen
    card.setdefault("metrics", {})["smooth_validation"] = {
        "data": "one map per paper preset, 428 x 568, seeds 6100-6103, at 0.05, 0.1 and 0.2 um "
                "(scripts/smooth_validation.py)", "figures": figures, "smooth": chosen}
    bundle.card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"{bundle.card_path}: smooth = {chosen}")


if __name__ == "__main__":
    main()
