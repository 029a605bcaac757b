"""Speed of the synthetic map generator on a paper-sized map (856 x 1136 at 0.1 um).

    flock /tmp/ebsdphase-heavy.lock python benchmarks/bench_synth.py [--repeat 3]

Goal (issue 4): one 856 x 1136 map in under 20 s on the 2-core dev machine. After a
warm-up (numba JIT, cached to disk), times per preset the generation itself
(``ebsdphase.synth.synthesize``) and the complete ``ebsdphase synth`` output (generation,
.ctf, label PNG, JSON). As an in-process reference it times writing that same map as .ctf,
so the ratio says how much of a CLI run is generation and how much is text output.
Times are medians of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

SHAPE = (856, 1136)
GOAL_S = 20.0


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--presets", default="t1,t2,t3,complex")
    args = ap.parse_args()

    from ebsdphase.io import write_map
    from ebsdphase.synth import synthesize
    from ebsdphase.synth.generate import write_synthetic

    synthesize("t3", 0, (64, 64), 0.1)  # JIT warm-up
    print(f"synthetic map {SHAPE[0]} x {SHAPE[1]} at 0.1 um, median of {args.repeat}")
    print(f"{'preset':8s} {'generate s':>10s} {'+ files s':>10s} {'ctf write s':>11s} "
          f"{'gen/ctf':>8s} {'total/goal':>10s}")
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets.split(","):
            seeds = iter(range(10_000))
            gen = _median(lambda: synthesize(preset, next(seeds), SHAPE, 0.1), args.repeat)
            result = synthesize(preset, 0, SHAPE, 0.1)
            ctf = _median(lambda: write_map(result.map, f"{tmp}/ref.ctf"), args.repeat)
            total = _median(lambda: write_synthetic(synthesize(preset, 1, SHAPE, 0.1), tmp, "m"),
                            args.repeat)
            print(f"{preset:8s} {gen:10.2f} {total:10.2f} {ctf:11.2f} {gen / ctf:8.2f} "
                  f"{total / GOAL_S:10.2f}")
    print(f"goal: total < {GOAL_S:.0f} s (total/goal < 1)")


if __name__ == "__main__":
    main()
