"""A U-Net trained on synthetic maps against the two baselines, on 3 unseen synthetic maps.

    flock /tmp/ebsdphase-heavy.lock python benchmarks/bench_compare.py [--epochs 12] [--out DIR]

The issue's acceptance check for ``compare`` (the paper's Fig. 7 set-up, reduced to what a
2-core CPU trains in minutes): training maps of the T1, T2 and T3 presets (two seeds each,
428 x 568 pixels), BS + KAM inputs, 128 x 128 crops with horizontal/vertical flips, a 5-step
U-Net with 16 top-level filters trained with Adam. Test maps: one full-size 856 x 1136 map
per preset with seeds never used in training, written as .ctf with their labels, then
``ebsdphase.evaluation.compare.compare_maps`` with ``unet:<model>,grain-threshold:bs,forest:bs``.
Prints the training time, the comparison table and where the report (metrics.json,
accuracy.png) is.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--out", type=Path, default=None, help="report folder (default: a temporary one)")
    args = ap.parse_args()

    import numpy as np

    import ebsdphase.models  # noqa: F401 - picks the keras backend
    import keras

    from ebsdphase.cli.compare import print_comparison
    from ebsdphase.evaluation.compare import compare_maps
    from ebsdphase.features import ChannelRecipe
    from ebsdphase.core.classes import ClassSet
    from ebsdphase.models.bundle import save_bundle
    from ebsdphase.models.unet import build_unet
    from ebsdphase.synth import synthesize, write_synthetic

    keras.utils.set_random_seed(0)
    recipe = ChannelRecipe(("bs", "kam"))
    crop = 128
    t = time.perf_counter()
    xs, ys = [], []
    for preset in ("t1", "t2", "t3"):
        for seed in (1, 2):
            r = synthesize(preset, seed=seed, shape=(428, 568), step=0.1)
            x = recipe.build(r.map)
            for i in range(0, x.shape[0] - crop + 1, crop):
                for j in range(0, x.shape[1] - crop + 1, crop):
                    cx, cy = x[i:i + crop, j:j + crop], r.labels[i:i + crop, j:j + crop]
                    for flip in (lambda a: a, lambda a: a[::-1], lambda a: a[:, ::-1]):
                        xs.append(flip(cx))
                        ys.append(flip(cy))
    x = np.ascontiguousarray(np.stack(xs))
    y = np.ascontiguousarray(np.stack(ys))
    print(f"training data: {len(x)} crops of {crop} x {crop} from 6 maps in {time.perf_counter() - t:.1f} s")

    params = {"depth": 5, "filters": 16, "dropout": 0.1, "upsampling": "transpose"}
    model = build_unet(recipe.n_channels, 2, **params)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    t = time.perf_counter()
    hist = model.fit(x, y, batch_size=8, epochs=args.epochs, validation_split=0.15, verbose=0, shuffle=True)
    train_s = time.perf_counter() - t
    print(f"trained {args.epochs} epochs in {train_s:.0f} s; final train CA {hist.history['accuracy'][-1]:.4f}, "
          f"val CA {hist.history['val_accuracy'][-1]:.4f}")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        card = save_bundle(model, tmp / "model", "synth-bs-kam", "unet", params, recipe, ClassSet(),
                           provenance={"data": "synthetic t1/t2/t3 seeds 1-2, 428 x 568",
                                       "epochs": args.epochs})
        test = tmp / "test"
        for preset in ("t1", "t2", "t3"):
            write_synthetic(synthesize(preset, seed=100, shape=(856, 1136), step=0.1), test, f"{preset.upper()}_test")
        out = args.out or tmp / "report"
        res = compare_maps([test], f"unet:{card},grain-threshold:bs,forest:bs", out_dir=out)
        print_comparison(res)
        acc = res.accuracies()
        unet = acc["unet:synth-bs-kam"]["all"]
        others = {k: v["all"] for k, v in acc.items() if not k.startswith("unet:")}
        verdict = all(unet > v for v in others.values())
        print(f"U-Net {100 * unet:.2f} % vs " + ", ".join(f"{k} {100 * v:.2f} %" for k, v in others.items())
              + f": the U-Net {'beats' if verdict else 'does NOT beat'} both baselines")
        print(f"report: {out}")


if __name__ == "__main__":
    main()
