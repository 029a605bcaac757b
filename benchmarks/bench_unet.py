"""U-Net speed on CPU under each installed Keras backend, against the paper's figures.

    flock /tmp/ebsdphase-heavy.lock python benchmarks/bench_unet.py [--backends jax,torch]
                                                                   [--steps 3] [--channels 2]

For every backend (each in its own process: Keras fixes its backend at import) it times

* predicting one whole 864 x 1136 map with the paper's 7-step U-Net (first call, which
  includes JAX's compilation for that shape, and a second call);
* one training step (Adadelta, categorical cross-entropy) on a batch of 8 crops of
  224 x 224 and of 104 x 104 (median of ``--steps`` steps after a warm-up step);

and turns the step times into seconds per epoch for the paper's setting (864 training
crops, batches of 8) next to the paper's ~700 s (224 x 224) and ~120 s (104 x 104) per
epoch on a 4-core i5-8250U laptop CPU (section 4.1 and 5.2).

The default CPU backend in ``ebsdphase/models/__init__.py`` was chosen from this script's
output. Measured 2026-11-25 on 2 shared cores (keras 3.15.1, jax 0.10.2, torch 2.13.0 CPU):

    backend  predict 864x1136 (1st call)  step 8x224 (1st)  step 8x104 (1st)  epoch 224  epoch 104
    jax                 2.51s      4.20s       6.42s  14.3s     1.15s  11.5s     694s 0.99x  124s 1.03x
    torch               5.72s      6.79s       4.36s   9.1s     0.60s   0.7s     471s 0.67x   65s 0.54x

i.e. on 2 cores this laptop-class setting already matches the paper's 4-core epochs with
JAX and beats them by 1.5-1.9x with PyTorch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

PAPER_EPOCH_S = {224: 700.0, 104: 120.0}
N_TRAIN_CROPS = 864
BATCH = 8


def worker(steps: int, channels: int) -> dict:
    import numpy as np

    import keras
    from ebsdphase.models.unet import build_unet

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    out: dict = {"backend": keras.backend.backend(), "threads": os.cpu_count()}

    model = build_unet(channels, 2, depth=7)
    out["params"] = int(model.count_params())
    x = rng.standard_normal((1, 864, 1136, channels)).astype("float32")
    t = time.perf_counter()
    model.predict_on_batch(x)
    out["predict_first_s"] = time.perf_counter() - t
    t = time.perf_counter()
    model.predict_on_batch(x)
    out["predict_s"] = time.perf_counter() - t

    for crop in (224, 104):
        model = build_unet(channels, 2, depth=7)
        model.compile(optimizer=keras.optimizers.Adadelta(learning_rate=1.0), loss="categorical_crossentropy")
        xb = rng.standard_normal((BATCH, crop, crop, channels)).astype("float32")
        yb = np.eye(2, dtype="float32")[rng.integers(0, 2, (BATCH, crop, crop))]
        t = time.perf_counter()
        model.train_on_batch(xb, yb)
        out[f"train{crop}_first_s"] = time.perf_counter() - t
        times = []
        for _ in range(steps):
            t = time.perf_counter()
            model.train_on_batch(xb, yb)
            times.append(time.perf_counter() - t)
        out[f"train{crop}_step_s"] = statistics.median(times)
        out[f"train{crop}_epoch_s"] = out[f"train{crop}_step_s"] * N_TRAIN_CROPS / BATCH
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backends", default="jax,torch")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(worker(args.steps, args.channels)), flush=True)
        return

    results = []
    for backend in args.backends.split(","):
        env = dict(os.environ, KERAS_BACKEND=backend)
        proc = subprocess.run([sys.executable, __file__, "--worker", "--steps", str(args.steps),
                               "--channels", str(args.channels)], env=env, capture_output=True, text=True)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode or not line:
            print(f"{backend}: not measured ({(proc.stderr.strip().splitlines() or ['?'])[-1]})")
            continue
        results.append(json.loads(line[0][7:]))

    print(f"7-step U-Net, {args.channels} input channels, 2 classes, CPU ({os.cpu_count()} cores visible)")
    head = f"{'backend':8} {'predict 864x1136':>18} {'(1st call)':>11} {'step 8x224':>11} {'(1st)':>7} " \
           f"{'step 8x104':>11} {'(1st)':>7} {'epoch 224':>10} {'vs paper':>9} {'epoch 104':>10} {'vs paper':>9}"
    print(head)
    for r in results:
        print(f"{r['backend']:8} {r['predict_s']:17.2f}s {r['predict_first_s']:10.2f}s "
              f"{r['train224_step_s']:10.2f}s {r['train224_first_s']:6.1f}s "
              f"{r['train104_step_s']:10.2f}s {r['train104_first_s']:6.1f}s "
              f"{r['train224_epoch_s']:9.0f}s {r['train224_epoch_s'] / PAPER_EPOCH_S[224]:8.2f}x "
              f"{r['train104_epoch_s']:9.0f}s {r['train104_epoch_s'] / PAPER_EPOCH_S[104]:8.2f}x")
    if len(results) > 1:
        ref = results[0]
        for r in results[1:]:
            print(f"{r['backend']} / {ref['backend']}: predict {r['predict_s'] / ref['predict_s']:.2f}x, "
                  f"train 224 {r['train224_step_s'] / ref['train224_step_s']:.2f}x, "
                  f"train 104 {r['train104_step_s'] / ref['train104_step_s']:.2f}x")
    print("paper: ~700 s / epoch (224 x 224), ~120 s / epoch (104 x 104), 864 crops, 4-core i5-8250U")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
