"""A 4000 x 4000 map (16 M points) read, KAM'd, grained and predicted in tiles: peak memory.

    flock /tmp/ebsdphase-heavy.lock python benchmarks/bench_bigmap.py [--size 4000] [--model dp-kam]
                                      [--tile 512 --overlap 64] [--keep DIR]

A synthetic 1000 x 1000 T2 map is tiled into SIZE x SIZE (mirrored so that grains run on
across the seams) and written as an Oxford ``.ctf`` (what AZtec users export). Each stage
then runs in its own process under ``/usr/bin/time -v`` so that its peak resident memory is
its own:

- ``read``: ``read_map`` of the .ctf, compared with the bytes of the map it returns
  (quaternions, phases and channels): how many copies of the map reading holds at its peak;
- ``kam+grains``: KAM (first order) and grains (5 deg) on the map;
- ``predict --tile``: ``ebsdphase predict FILE --tile T --overlap O`` end to end (read, KAM,
  inputs, tiled inference, ``.phases.h5``/``.phases.png``).

Printed: seconds and peak RSS (GiB) of each, against the 4 GiB goal.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_GIB = 4.0

READ = r"""
import sys, time
from ebsdphase.io import read_map
t = time.perf_counter(); m = read_map(sys.argv[1]); dt = time.perf_counter() - t
nbytes = m.quaternions.nbytes + m.phase_id.nbytes + sum(c.nbytes for c in m.channels.values())
print(f"RESULT {dt:.1f} {nbytes}")
"""
KAM = r"""
import sys, time
from ebsdphase.io import read_map
from ebsdphase.crystal import kam, grains
m = read_map(sys.argv[1])
t = time.perf_counter(); k = kam(m, 1, 3.0); t1 = time.perf_counter(); g = grains(m, 5.0); t2 = time.perf_counter()
print(f"RESULT {t1 - t:.1f} {t2 - t1:.1f} {int(g.max()) if hasattr(g, 'max') else 0}")
"""


def _timed(args: list[str]) -> tuple[float, float, str]:
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", *args], capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{' '.join(args[:3])} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    return wall, rss_kb / 2**20, p.stdout


def _make_map(size: int, path: Path) -> None:
    import numpy as np

    from ebsdphase.io import write_map
    from ebsdphase.synth import generate

    base, _ = generate("t2", seed=3, shape=(1000, 1000), step=0.1)
    reps = -(-size // 1000)

    def tile(a):
        # mirrored copies: every seam joins a grain to its own mirror image
        row = np.concatenate([a if i % 2 == 0 else a[:, ::-1] for i in range(reps)], axis=1)
        full = np.concatenate([row if j % 2 == 0 else row[::-1] for j in range(reps)], axis=0)
        return np.ascontiguousarray(full[:size, :size])

    import dataclasses

    big = dataclasses.replace(base, quaternions=tile(base.quaternions), phase_id=tile(base.phase_id),
                              channels={k: tile(v) for k, v in base.channels.items()}, cache={})
    write_map(big, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=4000)
    ap.add_argument("--model", default="dp-kam")
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--overlap", type=int, default=64)
    ap.add_argument("--keep", type=Path, default=None, help="folder for the map (kept for a re-run)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        src = folder / f"big{args.size}.ctf"
        if not src.exists():
            t = time.perf_counter()
            _make_map(args.size, src)
            print(f"{args.size} x {args.size} map written as {src.name} ({src.stat().st_size / 2**30:.2f} GiB) "
                  f"in {time.perf_counter() - t:.0f} s (not timed below)")
        rows = []
        from ebsdphase.core.inputs import example_map

        # the interpreter with numpy, numba and the reader's kernels: what any read costs
        _, base, _ = _timed([sys.executable, "-c", READ, str(example_map())])
        wall, rss, out = _timed([sys.executable, "-c", READ, str(src)])
        read_s, nbytes = out.split("RESULT ")[1].split()
        map_gib = int(nbytes) / 2**30
        rows.append(("read .ctf", wall, rss, f"map {map_gib:.2f} GiB; (peak - {base:.2f} GiB of a small "
                                             f"read) = {(rss - base) / map_gib:.1f} x the map"))
        wall, rss, out = _timed([sys.executable, "-c", KAM, str(src)])
        k_s, g_s, n_grains = out.split("RESULT ")[1].split()
        rows.append(("read + KAM + grains", wall, rss, f"KAM {k_s} s, grains {g_s} s ({n_grains} grains)"))
        wall, rss, out = _timed([sys.executable, "-m", "ebsdphase.cli.main", "predict", str(src), "--model",
                                 args.model, "--tile", str(args.tile), "--overlap", str(args.overlap), "--force",
                                 "-o", str(folder / "out")])
        rows.append((f"predict --tile {args.tile} --overlap {args.overlap}", wall, rss, args.model))
        print(f"{'stage (own process)':<34}{'s':>7}{'peak GiB':>10}  note")
        for label, secs, gib, note in rows:
            print(f"{label:<34}{secs:>7.0f}{gib:>10.2f}  {note}")
        worst = max(r[2] for r in rows)
        print(f"peak RSS {worst:.2f} GiB: {'under' if worst < GOAL_GIB else 'OVER'} the {GOAL_GIB:g} GiB goal")


if __name__ == "__main__":
    main()
