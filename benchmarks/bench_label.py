"""Time of the labelling pipeline on an 856 x 1136 map (the paper's map size).

    flock /tmp/ebsdphase-heavy.lock python benchmarks/bench_label.py [--preset t2] [--repeat 3]

Goal (issue 5): the threshold route (Otsu on BS, grains at 2 deg, majority vote,
non-indexed rule) in under 10 s. The map comes from ``ebsdphase.synth.generate``
(generation is not timed). Timed, each on a fresh copy of the map so no cached grains or
KAM are reused:

- ``library``: ``label_map(map)``, the threshold route;
- ``cli``: ``ebsdphase label MAP.ebsd.h5 -o DIR`` in a child process (start-up, reading,
  labelling, writing the PNG + JSON);
- ``forest``: the forest route trained on 1 % strokes (``bs``), for information.

Reference computed in the same run: ``crystal.grains(map, 2.0)`` alone, the part of the
route that is not the labelling's own work; ``ratio`` = library / grains.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHAPE = (856, 1136)


def best_of(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="t2")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from ebsdphase.crystal import grains
    from ebsdphase.io import write_map
    from ebsdphase.labelling import agreement, label_map, strokes_from_labels
    from ebsdphase.synth import generate

    t0 = time.perf_counter()
    ebsd, truth = generate(args.preset, 0, SHAPE, 0.1)
    print(f"map: {args.preset} {SHAPE[0]} x {SHAPE[1]} generated in {time.perf_counter() - t0:.1f} s")

    # compile the numba kernels on a small crop first: a first call's compilation is a
    # one-off per installation (cache=True), not the pipeline's cost
    label_map(ebsd[:64, :64])

    g_best, g_med = best_of(lambda: grains(ebsd.copy(), 2.0), args.repeat)
    l_best, l_med = best_of(lambda: label_map(ebsd.copy()), args.repeat)
    res = label_map(ebsd.copy())
    acc = {k: round(v, 4) for k, v in res.agreement(truth).items()}

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{args.preset}.ebsd.h5"
        write_map(ebsd, path)

        def cli() -> None:
            subprocess.run([sys.executable, "-m", "ebsdphase.cli.main", "label", str(path), "-o",
                            str(Path(tmp) / "out")], check=True, capture_output=True)

        c_best, c_med = best_of(cli, args.repeat)

    strokes = strokes_from_labels(truth, 0.01, seed=0)
    t0 = time.perf_counter()
    fres = label_map(ebsd.copy(), "forest", scribbles=strokes, channel="bs")
    f_time = time.perf_counter() - t0

    print(f"grains (reference)   best {g_best:6.2f} s  median {g_med:6.2f} s")
    print(f"library threshold    best {l_best:6.2f} s  median {l_med:6.2f} s  ratio {l_best / g_best:.2f}"
          f"  goal < 10 s: {'ok' if l_med < 10 else 'MISSED'}")
    print(f"cli threshold        best {c_best:6.2f} s  median {c_med:6.2f} s"
          f"  goal < 10 s: {'ok' if c_med < 10 else 'MISSED'}")
    print(f"forest route (bs)    {f_time:6.2f} s (one run, training included)")
    print(f"agreement threshold route: {acc}")
    print(f"agreement forest route:    { {k: round(v, 4) for k, v in fres.agreement(truth).items()} }")
    print(f"agreement of the forest alone: {agreement(fres.stages['prelabel'], truth):.4f}")


if __name__ == "__main__":
    main()
