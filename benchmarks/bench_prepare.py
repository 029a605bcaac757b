"""Time and peak memory of ``ebsdphase prepare`` on 6 maps of 856 x 1136 with augmentation.

    flock /tmp/ebsdphase-heavy.lock python benchmarks/bench_prepare.py [--channels bs,kam]
                                                                       [--maps 6] [--keep DIR]

Goal (issue 6): under 2 minutes and under 4 GiB. The maps come from
``ebsdphase.synth.generate`` when it works, else from a random-grain fallback; they are
written as ``.ebsd.h5`` so the figure is prepare's own work, not a text parser's. prepare
runs as the real CLI in a child process, so its peak RSS (``ru_maxrss`` of the children)
excludes the generation done here. As a reference computed on this machine in this run,
the script also times one ``recipe.build`` of one source map: prepare builds 12 such
inputs per map (6 full-size, 6 quarter-size), so ``ratio`` ~ 12 x 0.6 = 7.5 per map means
little overhead beyond the channel computation itself.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHAPE = (856, 1136)


def fallback_map(seed: int):
    """Voronoi grains with random orientations, small noise, a BS contrast and labels."""
    from scipy.spatial import cKDTree
    from scipy.spatial.transform import Rotation

    from ebsdphase import EBSDMap, Phase

    rng = np.random.default_rng(seed)
    rows, cols = SHAPE
    n = 2500
    seeds = rng.uniform((0, 0), SHAPE, (n, 2))
    rr, cc = np.mgrid[:rows, :cols]
    _, gid = cKDTree(seeds).query(np.stack([rr.ravel(), cc.ravel()], axis=1))
    rot = Rotation.random(n, random_state=seed).as_quat()[:, [3, 0, 1, 2]]
    q = rot[gid].reshape(rows, cols, 4) + rng.normal(0, 0.004, (rows, cols, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    labels = (gid % 3 == 0).astype(np.uint8).reshape(rows, cols)
    pid = np.where(rng.random((rows, cols)) < 0.03, 0, 1).astype(np.int16)
    q[pid == 0] = 0
    bs = (60 - 15 * labels + rng.normal(0, 4, (rows, cols))).astype(np.float32)
    m = EBSDMap(q.astype(np.float32), pid, {1: Phase("Iron bcc", "m-3m")}, (0.1, 0.1),
                {"bs": bs, "bc": bs * 2})
    return m, labels


def make_maps(folder: Path, n: int) -> str:
    from ebsdphase.io import write_map
    from ebsdphase.core.classes import write_labels

    source = "ebsdphase.synth.generate"
    for i in range(n):
        try:
            from ebsdphase.synth import generate

            m, labels = generate("t2", seed=i, shape=SHAPE, step=0.1)
        except Exception as exc:  # noqa: BLE001 - any failure of the optional generator
            source = f"random-grain fallback (synth failed: {type(exc).__name__}: {exc})"
            m, labels = fallback_map(i)
        write_map(m, folder / f"map{i}.ebsd.h5")
        write_labels(folder / f"map{i}.labels.png", labels)
    return source


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--channels", default="bs,kam")
    ap.add_argument("--maps", type=int, default=6)
    ap.add_argument("--keep", type=Path, default=None, help="reuse/keep the generated maps here")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        paths = sorted(folder.glob("map*.ebsd.h5"))[: args.maps]
        t = time.perf_counter()
        if len(paths) < args.maps:
            source = make_maps(folder, args.maps)
            paths = sorted(folder.glob("map*.ebsd.h5"))[: args.maps]
        else:
            source = f"existing maps in {folder}"
        print(f"maps: {len(paths)} x {SHAPE[0]} x {SHAPE[1]} from {source} "
              f"({time.perf_counter() - t:.1f} s)")

        from ebsdphase.features import ChannelRecipe
        from ebsdphase.io import read_map

        recipe = ChannelRecipe.parse(args.channels)
        m = read_map(paths[0])
        recipe.build(m.copy())  # numba compilation / cache load
        t = time.perf_counter()
        recipe.build(m.copy())
        ref = time.perf_counter() - t
        print(f"reference: one recipe.build({args.channels}) of one map: {ref:.2f} s")

        out = Path(tmp) / "dataset.h5"
        cmd = [sys.executable, "-m", "ebsdphase.cli.main", "prepare", *map(str, paths), "--channels",
               args.channels, "-o", str(out), "--augment", "--crop", "224", "--val", "0.2"]
        t = time.perf_counter()
        subprocess.run(cmd, check=True)
        wall = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2  # KiB -> GiB
        size = out.stat().st_size / 1024**2
        print(f"prepare: {wall:.1f} s (goal < 120 s), peak RSS {peak:.2f} GiB (goal < 4 GiB), "
              f"dataset {size:.0f} MiB")
        print(f"ratio prepare / reference build: {wall / ref:.1f} "
              f"({wall / ref / len(paths):.1f} per map; channel work alone ~7.5 per map)")


if __name__ == "__main__":
    main()
