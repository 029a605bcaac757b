"""Learning from one labelled map: real two-phase maps, top part for training, bottom for testing.

    python benchmarks/bench_real_splits.py [--configs paper,default,finetune] [--epochs 60] [--seed 0]

For each map of ``ebsdphase.evaluation.splits.REAL_SPLITS`` (SDSS ferrite/austenite on
IQ+CI+KAM, TRIP BCC/FCC on BC+BS+KAM; labels from the indexed phase, which the network never
sees), the top 60 % is written as one labelled map, ``prepare`` makes a dataset of it with
its defaults (one map: validation on spatial blocks; crop size from the map), and each
training configuration is trained on it and evaluated on the bottom 40 %:

- ``paper``: the 0.1.0 defaults (Adadelta 1.0, unweighted loss, best val_loss, pixel
  answers), depth 5;
- ``default``: ``ebsdphase train``'s current defaults (their card asks ``predict`` to smooth
  by grains; the pixel answers are reported too);
- ``finetune``: the current defaults starting from the pretrained ``dp-quality-kam``
  (channels quality,kam,step), against ``scratch-qk``, the same channels from scratch.

The baselines run on the test part: grain-threshold on the map's quality channel (polarity
from strokes of the test labels) and the pixel forest on the network's channels (strokes
covering 1 % of the test labels, as ``compare`` does). Accuracy, balanced accuracy, the
austenite recall and epochs to the best validation score are printed as one table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

CONFIGS = {
    "paper": dict(optimizer="adadelta", monitor="val_loss", class_weight="none", dihedral=False, smooth=None,
                  params={"depth": 5}),
    "adam": dict(optimizer="adam", monitor="val_loss", class_weight="none", dihedral=False, params={"depth": 5}),
    "adam-bal": dict(optimizer="adam", monitor="val_balanced_accuracy", class_weight="balanced", dihedral=False,
                     params={"depth": 5}),
    "default": dict(params={"depth": 5}),
    "d3": dict(params={"depth": 3}),
    "d3-f32": dict(params={"depth": 3, "filters": 32}),
    "scratch-qk": dict(params={"depth": 5}, channels="quality,kam,step"),
    "finetune": dict(init="dp-quality-kam", channels="quality,kam,step"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="paper,default,scratch-qk,finetune")
    ap.add_argument("--maps", default="SDSS,TRIP")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default=None, help="keep the datasets and runs here")
    ap.add_argument("--tta", action="store_true", help="predict the test part with --tta")
    args = ap.parse_args()

    import inspect

    from ebsdphase.core.classes import read_labels, labels_path
    from ebsdphase.dataset.prepare import prepare
    from ebsdphase.evaluation.baselines import run_baseline
    from ebsdphase.evaluation.checks import shared_data_dir
    from ebsdphase.evaluation.metrics import evaluate
    from ebsdphase.evaluation.splits import REAL_SPLITS
    from ebsdphase.io import read_map
    from ebsdphase.prediction.engine import predict
    from ebsdphase.models.bundle import load_bundle
    from ebsdphase.training.loop import train

    data = shared_data_dir(Path(__file__))
    if data is None:
        raise SystemExit("../shared/data not found")
    work = Path(args.work or tempfile.mkdtemp(prefix="ebsdphase-splits-"))
    train_params = set(inspect.signature(train).parameters)
    rows = []
    for split in (s for s in REAL_SPLITS if s.name in args.maps.split(",")):
        from ebsdphase.evaluation.splits import write_split

        train_map, test_map = write_split(split, data, work / "maps")
        test = read_map(test_map)
        truth = read_labels(labels_path(test_map, None), test.shape)
        for config in args.configs.split(","):
            spec = dict(CONFIGS[config])
            channels = spec.pop("channels", split.channels)
            ds = work / f"{split.name}-{channels.replace(',', '+')}.h5"
            if not ds.exists():
                prepare([train_map], None, channels, ds, seed=args.seed)
            kwargs = {k: v for k, v in spec.items() if k in train_params}
            skipped = sorted(set(spec) - set(kwargs))
            run_dir = work / f"run-{split.name}-{config}-s{args.seed}"
            t0 = time.perf_counter()
            res = train(ds, run_dir, epochs=args.epochs, seed=args.seed, **kwargs)
            secs = time.perf_counter() - t0
            label = f"U-Net {config}" + (" +tta" if args.tta else "") + \
                (f" (no {', '.join(skipped)} here)" if skipped else "")
            # what `predict` gives by default (the card's post-processing), and the pixel answers
            for smooth, tag in (("card", ""), ("none", " (pixel answers)")):
                pred = predict(test, res.bundle, tta=args.tta, smooth=smooth)
                rows.append((split.name, label + tag, evaluate(pred, truth, res_classes(res)),
                             f"{res.best_epoch}/{res.epochs_run}", f"{secs:.0f}"))
                if load_bundle(res.bundle).smooth is None:
                    break  # the card asks for nothing: both are the pixel answers
        for spec in (f"grain-threshold:{split.quality}", f"forest:{split.channels.replace(',', '+')}"):
            t0 = time.perf_counter()
            notes: dict = {}
            pred = run_baseline(spec, test, truth, seed=args.seed, notes=notes)
            label = spec + (f" ({split.classes[notes['high_class']]} above)" if "high_class" in notes else "")
            rows.append((split.name, label, evaluate(pred, truth, res_classes(None, split)), "-",
                         f"{time.perf_counter() - t0:.0f}"))

    print(f"\nwork folder: {work}\n")
    print("| map | method | accuracy | balanced acc. | kappa | austenite recall | best epoch / run | s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, method, m, epochs, secs in rows:
        print(f"| {name} | {method} | {100 * m.accuracy:.1f} % | {100 * m.balanced_accuracy:.1f} % | "
              f"{m.kappa:.3f} | {100 * m.recall[1]:.1f} % | {epochs} | {secs} |")


def res_classes(res, split=None):
    from ebsdphase.core.classes import ClassSet

    if res is not None:
        from ebsdphase.models.bundle import load_bundle

        return load_bundle(res.bundle).classes
    return ClassSet(split.classes)


if __name__ == "__main__":
    main()
