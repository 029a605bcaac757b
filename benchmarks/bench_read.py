"""Reading a 856 x 1136 .ctf (the paper's map size): ``read_map`` against ``numpy.loadtxt``.

Generates a map with random orientations, two phases, 10 % not indexed and random Bands,
Error, MAD, BC, BS in a temporary folder, writes it with ebsdphase's .ctf writer, then
times, in the same process:

* ``numpy.loadtxt`` of the data rows (header lines skipped) - what orix does;
* ``ebsdphase.read_map`` (parsing, grid placement, quaternions, channels: a full EBSDMap).

Goal (issue 2): ``read_map`` at least 8x faster than ``numpy.loadtxt``. Run as
``flock /tmp/ebsdphase-heavy.lock python benchmarks/bench_read.py``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from ebsdphase import EBSDMap, Phase, read_map, write_map


def make_map(rows: int, cols: int, seed: int = 0) -> EBSDMap:
    rng = np.random.default_rng(seed)
    euler = rng.uniform(0, 1, (rows, cols, 3)) * [2 * np.pi, np.pi, 2 * np.pi]
    phase_id = rng.integers(1, 3, (rows, cols)).astype(np.int16)
    phase_id[rng.uniform(size=(rows, cols)) < 0.1] = 0
    channels = {
        "bands": rng.integers(5, 12, (rows, cols)),
        "error": np.where(phase_id > 0, 0, 3),
        "mad": rng.uniform(0.1, 1.5, (rows, cols)),
        "bc": rng.integers(20, 255, (rows, cols)),
        "bs": rng.integers(20, 255, (rows, cols)),
    }
    phases = {1: Phase("Iron bcc", "m-3m", (2.87, 2.87, 2.87, 90, 90, 90), 229),
              2: Phase("Iron fcc", "m-3m", (3.59, 3.59, 3.59, 90, 90, 90), 225)}
    return EBSDMap.from_euler(euler, phase_id, phases, (0.1, 0.1), channels)


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=856)
    ap.add_argument("--cols", type=int, default=1136)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.ctf"
        ebsd = make_map(args.rows, args.cols)
        t0 = time.perf_counter()
        write_map(ebsd, path)
        t_write = time.perf_counter() - t0
        with open(path, "rb") as f:
            header_lines = next(i for i, line in enumerate(f) if line.startswith(b"Phase\t")) + 1
        size_mb = path.stat().st_size / 1e6

        t0 = time.perf_counter()
        first = read_map(path)  # numba functions load from their cache (or compile) here
        t_first = time.perf_counter() - t0
        assert first.shape == (args.rows, args.cols)

        t_ours = best_of(lambda: read_map(path), args.repeat)
        t_loadtxt = best_of(lambda: np.loadtxt(path, skiprows=header_lines), args.repeat)

    from numba import get_num_threads

    print(f"map {args.rows} x {args.cols} = {args.rows * args.cols:,} points, "
          f".ctf {size_mb:.1f} MB (written in {t_write:.2f} s); numba threads: "
          f"{get_num_threads()} (set NUMBA_NUM_THREADS=1 for the single-core figure)")
    print(f"numpy.loadtxt         {t_loadtxt:8.3f} s   (best of {args.repeat})")
    print(f"ebsdphase.read_map    {t_ours:8.3f} s   (best of {args.repeat}; "
          f"first call {t_first:.3f} s incl. numba cache load)")
    print(f"ratio loadtxt / read_map = {t_loadtxt / t_ours:.1f}x   (goal >= 8x)")


if __name__ == "__main__":
    main()
