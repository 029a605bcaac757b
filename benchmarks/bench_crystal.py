"""Speed of the crystallography kernels on a paper-sized map (856 x 1136).

    flock /tmp/ebsdphase-heavy.lock python benchmarks/bench_crystal.py [--repeat 5]

Builds a synthetic single-phase cubic map (Voronoi grains with random orientations, a
small orientation gradient and scatter inside each grain, 3 % non-indexed pixels, every
pixel written as a random symmetry equivalent) and times, after JIT warm-up:

* KAM (order 1, 3 deg): the numba kernel against a vectorised numpy reference with the
  same closed-form cubic disorientation, in the same process (goal: >= 10x, < 0.15 s);
* grain reconstruction (3 deg; goal < 0.5 s), with and without small-grain merging;
* homogenisation of the quaternions (no goal; for the record).

Then the cold-start cost: a fresh process that reads a map and computes its KAM, with an
empty numba cache (compiles) and again with the cache filled by the first run.
Times are medians of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

SHAPE = (856, 1136)


def synthetic_map(seed: int = 0, n_grains: int = 600):
    from scipy.spatial import cKDTree
    from scipy.spatial.transform import Rotation

    from ebsdphase import EBSDMap, Phase
    from ebsdphase.crystal.quaternion import cubic_symmetry, qmul, qnormalize

    rng = np.random.default_rng(seed)
    rows, cols = SHAPE
    seeds = rng.uniform((0, 0), (rows, cols), size=(n_grains, 2))
    ii, jj = np.mgrid[:rows, :cols]
    pix = np.stack([ii.ravel(), jj.ravel()], axis=1).astype(float)
    _, cell = cKDTree(seeds).query(pix)
    oris = qnormalize(rng.normal(size=(n_grains, 4)))
    # in-grain gradient: up to ~0.02 deg per pixel about a random axis per grain, + scatter
    axes = rng.normal(size=(n_grains, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    dist = np.linalg.norm(pix - seeds[cell], axis=1)
    rotvec = axes[cell] * np.radians(0.02) * dist[:, None]
    rotvec += rng.normal(scale=np.radians(0.15), size=rotvec.shape)
    q = qmul(Rotation.from_rotvec(rotvec).as_quat(scalar_first=True), oris[cell])
    ops = cubic_symmetry()
    q = qmul(ops[rng.integers(0, 24, size=len(q))], q) * rng.choice([-1.0, 1.0], size=(len(q), 1))
    phase = (rng.random(len(q)) > 0.03).astype(np.int16)
    q = q.reshape(rows, cols, 4).astype(np.float32)
    phase = phase.reshape(rows, cols)
    q[phase == 0] = 0
    return EBSDMap(quaternions=q, phase_id=phase, phases={1: Phase("ferrite", "m-3m")},
                   step=(0.1, 0.1))


def numpy_kam(q: np.ndarray, phase: np.ndarray, threshold: float = 3.0) -> np.ndarray:
    """Vectorised numpy KAM (8 neighbours, closed-form cubic disorientation)."""
    from ebsdphase.crystal.quaternion import qinv, qmul

    rows, cols = phase.shape
    qc = q.astype(np.float64)
    conj = qinv(qc)
    total = np.zeros((rows, cols))
    count = np.zeros((rows, cols))
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di == dj == 0:
                continue
            rs = slice(max(0, -di), rows - max(0, di))
            cs = slice(max(0, -dj), cols - max(0, dj))
            rn = slice(max(0, di), rows - max(0, -di))
            cn = slice(max(0, dj), cols - max(0, -dj))
            m = np.abs(qmul(qc[rn, cn], conj[rs, cs]))
            m /= np.linalg.norm(m, axis=-1, keepdims=True) + 1e-300
            m = -np.sort(-m, axis=-1)
            w = np.maximum.reduce([m[..., 0], (m[..., 0] + m[..., 1]) / np.sqrt(2),
                                   m.sum(axis=-1) / 2])
            ang = np.degrees(2 * np.arccos(np.clip(w, -1, 1)))
            ok = (phase[rs, cs] > 0) & (phase[rn, cn] == phase[rs, cs]) & (ang <= threshold)
            total[rs, cs] += np.where(ok, ang, 0.0)
            count[rs, cs] += ok
    out = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    out[phase <= 0] = 0
    return out.astype(np.float32)


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


COLD_SCRIPT = r"""
import time
t0 = time.perf_counter()
import numpy as np
from ebsdphase import EBSDMap, Phase, read_map
from ebsdphase.crystal import kam
src = {src!r}
if src:
    m = read_map(src)
else:
    rng = np.random.default_rng(0)
    q = rng.normal(size=(84, 103, 4)); q /= np.linalg.norm(q, axis=-1, keepdims=True)
    m = EBSDMap(quaternions=q, phase_id=np.ones((84, 103), np.int16),
                phases={{1: Phase("fe", "m-3m")}}, step=(1, 1))
t1 = time.perf_counter()
kam(m)
t2 = time.perf_counter()
print(f"{{t1 - t0:.3f}} {{t2 - t1:.3f}}")
"""


def cold_start() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    trip = os.path.join(here, "..", "..", "shared", "data", "trip_steel_ctf", "test_ctfFile.ctf")
    src = os.path.abspath(trip) if os.path.exists(trip) else ""
    code = COLD_SCRIPT.format(src=src)
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        print(f"cold start: fresh process, read {'the TRIP .ctf map' if src else 'a small map'}, "
              "then kam(map)")
        for label in ("empty numba cache (compiles)", "numba cache filled"):
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                 text=True, check=True)
            wall = time.perf_counter() - t0
            load, first = (float(x) for x in out.stdout.split())
            print(f"  {label:30s} process {wall:6.2f} s   import+read {load:5.2f} s   "
                  f"first kam() {first:6.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from ebsdphase.crystal import grains, homogenize
    from ebsdphase.crystal._grains import grain_labels
    from ebsdphase.crystal._kam import kam_array

    t0 = time.perf_counter()
    m = synthetic_map()
    print(f"map {SHAPE[0]} x {SHAPE[1]} built in {time.perf_counter() - t0:.1f} s; "
          f"numba threads: {os.environ.get('NUMBA_NUM_THREADS', 'default')}, cpus {os.cpu_count()}")

    t0 = time.perf_counter()
    k = kam_array(m.quaternions, m.phase_id, m.phases)  # JIT compile or cache load
    print(f"first KAM call (JIT / cache load): {time.perf_counter() - t0:.2f} s")

    t_nb = timed(lambda: kam_array(m.quaternions, m.phase_id, m.phases), args.repeat)
    t_np = timed(lambda: numpy_kam(m.quaternions, m.phase_id), max(1, args.repeat // 2))
    ref = numpy_kam(m.quaternions, m.phase_id)
    diff = float(np.max(np.abs(k - ref)))
    ratio = t_np / t_nb
    print(f"KAM order 1, 3 deg   numba {t_nb:.3f} s   numpy {t_np:.3f} s   "
          f"speed-up {ratio:.1f}x   (goal >= 10x, < 0.15 s)   max |diff| {diff:.2e} deg")

    grain_labels(m.quaternions, m.phase_id, m.phases)  # warm-up
    t_g = timed(lambda: grain_labels(m.quaternions, m.phase_id, m.phases), args.repeat)
    grain_labels(m.quaternions, m.phase_id, m.phases, min_size=5)
    t_g5 = timed(lambda: grain_labels(m.quaternions, m.phase_id, m.phases, min_size=5), args.repeat)
    ids = grains(m)
    print(f"grains 3 deg          {t_g:.3f} s   (goal < 0.5 s; {ids.max() + 1} grains)")
    print(f"grains 3 deg, min 5   {t_g5:.3f} s")

    homogenize(m, ids)
    t_h = timed(lambda: homogenize(m, ids), args.repeat)
    print(f"homogenize            {t_h:.3f} s")

    cold_start()


if __name__ == "__main__":
    main()
