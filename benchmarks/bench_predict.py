"""End-to-end prediction of one 856 x 1136 map, file to outputs, with a pretrained model.

    flock /tmp/ebsdphase-heavy.lock python benchmarks/bench_predict.py [--model dp-bs-kam|all|paper]
                                      [--format ctf|ebsd.h5] [--repeat 2] [--tile 512 --overlap 128]

A synthetic T2 map (``ebsdphase.synth``) is written as a file, then
``ebsdphase.prediction.folder.predict_paths`` goes from that file to the outputs
(``.phases.h5``, ``.phases.png``, ``fractions.csv``). ``--model`` is a pretrained name
(``all``: each pretrained model in turn) or ``paper``: the paper's 7-step, 32-filter BS+KAM
U-Net with random weights (the time does not depend on them). Printed: the cold run (keras import, model build and JAX
compilation for this shape included), then warm runs with the split between reading,
KAM, other features, inference and writing, against the goal (5 s on this machine), the
paper's "< 30 s per map", and a bare forward pass of the same input measured in the same
process (the floor any pipeline has to pay); then tiled prediction and its agreement
with whole-map prediction.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

GOAL_S = 1.5
PAPER_S = 30.0
SHAPE = (856, 1136)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="dp-bs-kam")
    ap.add_argument("--format", default="ctf", choices=("ctf", "ebsd.h5"))
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--tile", type=int, default=512, help="also time tiled prediction (0: skip)")
    ap.add_argument("--overlap", type=int, default=128)
    args = ap.parse_args()


    from ebsdphase.features import ChannelRecipe
    from ebsdphase.io import write_map
    from ebsdphase.core.classes import ClassSet
    from ebsdphase.synth import generate

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        ebsd, _ = generate("t2", seed=0, shape=SHAPE, step=0.1)
        src = write_map(ebsd, tmp / f"t2.{args.format}")
        print(f"map {SHAPE[0]} x {SHAPE[1]} written as {src.name} "
              f"({src.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s (not timed below)")

        t = time.perf_counter()
        import ebsdphase.models  # noqa: F401 - picks the keras backend
        import keras

        from ebsdphase.models.bundle import save_bundle
        from ebsdphase.models.unet import build_unet

        if args.model == "paper":
            keras.utils.set_random_seed(0)
            recipe = ChannelRecipe(("bs", "kam"))
            params = {"depth": 7, "filters": 32, "dropout": 0.2, "upsampling": "transpose"}
            model = build_unet(recipe.n_channels, 2, **params)
            cards = [save_bundle(model, tmp / "bundle", "bench", "unet", params, recipe, ClassSet())]
        elif args.model == "all":
            from ebsdphase.models.pretrained import list_pretrained

            cards = sorted(list_pretrained())
        else:
            cards = [args.model]
        print(f"keras {keras.__version__} ({keras.backend.backend()}), set-up {time.perf_counter() - t:.1f} s")
        for card in cards:
            _bench(card, src, tmp, args)


def _bench(card, src, tmp, args) -> None:
    import numpy as np

    from ebsdphase.models.bundle import load_bundle

    from ebsdphase.prediction.folder import predict_paths

    out = tmp / "out"
    t = time.perf_counter()
    bundle = load_bundle(card)
    recipe = bundle.recipe
    print(f"== {bundle.name}: {bundle.architecture} {bundle.params}, channels {recipe}, "
          f"{bundle.model.count_params():,} parameters")
    run = predict_paths([src], bundle, out, force=True)
    cold = time.perf_counter() - t
    assert not run.failed, run.failed
    print(f"cold run (model load + compile + everything): {cold:.2f} s")

    totals = []
    for i in range(args.repeat):
        t = time.perf_counter()
        run = predict_paths([src], bundle, out, force=True)
        totals.append(time.perf_counter() - t)
        st = run.stages
        other = totals[-1] - sum(st.values())
        print(f"warm run {i + 1}: total {totals[-1]:.2f} s = read {st['read']:.2f} + kam {st['kam']:.2f} "
              f"+ features {st['features']:.2f} + inference {st['inference']:.2f} + write {st['write']:.2f} "
              f"+ other {other:.2f}")

    x = np.zeros((1, SHAPE[0] + (-SHAPE[0]) % bundle.multiple, SHAPE[1] + (-SHAPE[1]) % bundle.multiple,
                  recipe.n_channels), np.float32)
    bundle.model.predict_on_batch(x)
    t = time.perf_counter()
    bundle.model.predict_on_batch(x)
    forward = time.perf_counter() - t
    best = min(totals)
    print(f"bare forward pass of the same size: {forward:.2f} s")

    if args.tile:
        from ebsdphase.prediction.engine import predict
        from ebsdphase.io import read_map

        m = read_map(src)
        whole = predict(m, bundle)
        predict(m, bundle, tile=args.tile, overlap=args.overlap)  # compile the tile shape
        t = time.perf_counter()
        tiled = predict(m, bundle, tile=args.tile, overlap=args.overlap)
        dt = time.perf_counter() - t
        agree = float(np.mean(tiled.classes == whole.classes))
        print(f"tiled --tile {args.tile} --overlap {args.overlap}: {dt:.2f} s (map in memory), "
              f"{100 * agree:.3f} % of pixels equal to whole-map prediction, max |dp| "
              f"{float(np.abs(tiled.probabilities - whole.probabilities).max()):.2e}")
    print(f"{bundle.name}: best end-to-end {best:.2f} s: {best / GOAL_S:.2f} x the {GOAL_S:g} s goal, "
          f"{best / PAPER_S:.2f} x the paper's {PAPER_S:.0f} s, {best / forward:.2f} x the bare forward pass "
          f"({'meets' if best < GOAL_S else 'misses'} the goal; cpu_count={os.cpu_count()})")


if __name__ == "__main__":
    main()
