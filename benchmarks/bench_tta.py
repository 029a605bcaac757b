"""What test-time augmentation and grain smoothing buy: accuracy and time of ``--tta`` and ``--smooth grains``.

    python benchmarks/bench_tta.py [--model dp-kam] [--presets t1,t2,t3] [--size 512x640]

Held-out synthetic maps (seeds 7100+, never used in training) of each paper preset are
predicted plainly and with the 8 grid symmetries averaged; the table gives accuracy,
balanced accuracy and seconds per map for both. The real-map figure (SDSS test part) comes
from ``bench_real_splits.py --tta``.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="dp-kam")
    ap.add_argument("--presets", default="t1,t2,t3")
    ap.add_argument("--size", default="512x640")
    args = ap.parse_args()
    rows, cols = (int(v) for v in args.size.split("x"))

    from ebsdphase.evaluation.metrics import evaluate
    from ebsdphase.models.bundle import load_bundle
    from ebsdphase.prediction.engine import predict
    from ebsdphase.synth import generate

    bundle = load_bundle(args.model)
    from ebsdphase.prediction.engine import cleaned_for
    from ebsdphase.prediction.grains import grain_table, smooth_by_grains

    print("| map | plain acc. / bal. | --tta acc. / bal. | --smooth grains acc. / bal. | plain s | --tta s |")
    print("|---|---|---|---|---|---|")
    for i, preset in enumerate(args.presets.split(",")):
        ebsd, labels = generate(preset, seed=7100 + i, shape=(rows, cols), step=0.1)
        predict(ebsd, bundle)  # compile outside the timing
        out = []
        for tta in (False, True):
            t0 = time.perf_counter()
            pred = predict(ebsd, bundle, tta=tta)
            out.append((evaluate(pred.classes, labels), time.perf_counter() - t0))
            if not tta:
                table = grain_table(pred, cleaned_for(bundle, ebsd))
                smooth = evaluate(smooth_by_grains(pred, table).classes, labels)
        (a, ta), (b, tb) = out
        print(f"| {preset} seed {7100 + i} | {100 * a.accuracy:.2f} / {100 * a.balanced_accuracy:.2f} % | "
              f"{100 * b.accuracy:.2f} / {100 * b.balanced_accuracy:.2f} % | "
              f"{100 * smooth.accuracy:.2f} / {100 * smooth.balanced_accuracy:.2f} % | {ta:.1f} | {tb:.1f} |")


if __name__ == "__main__":
    main()
