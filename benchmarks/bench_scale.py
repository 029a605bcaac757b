"""A folder of 24 maps of 428 x 568 predicted here and on a Dask cluster: maps per minute.

    flock /tmp/ebsdphase-heavy.lock python benchmarks/bench_scale.py [--model dp-kam]
                                      [--maps 24] [--workers 2] [--format ctf]

The maps are synthetic (4 seeds of ``ebsdphase.synth``, each written as 6 files) in the
format users have (``.ctf`` by default). The local run (``scheduler="local"``) and the
Dask run (``processes:N``, a LocalCluster on 127.0.0.1) predict the same folder into
separate output folders; printed: seconds and maps per minute of each, the ratio, the
cluster's start-up (workers started and the model loaded on each), and whether the two
runs wrote the same ``fractions.csv``. The local run is warmed first on one map (JIT and
compilation of this process); ``processes:N`` pays the cluster's start, the model load and
the compilation on each worker inside the run, as a user's would; a cluster that stays up
(started by the benchmark, its address passed as the scheduler) is timed twice: the
second run finds the model loaded and compiled on every worker. Workers are started as
``processes:N`` starts them (``ebsdphase.prediction.cluster.worker_env``: one compute
thread each when there are as many workers as cores).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

SHAPE = (428, 568)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="dp-kam")
    ap.add_argument("--maps", type=int, default=24)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--format", default="ctf", choices=("ctf", "ang", "ebsd.h5"))
    args = ap.parse_args()

    from ebsdphase.io import write_map
    from ebsdphase.prediction.folder import predict_paths
    from ebsdphase.synth import generate

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        maps = tmp / "maps"
        maps.mkdir()
        t = time.perf_counter()
        for seed in range(4):
            ebsd, _ = generate(("t1", "t2")[seed % 2], seed=100 + seed, shape=SHAPE, step=0.1)
            first = write_map(ebsd, maps / f"s{seed}_0.{args.format}")
            for k in range(1, -(-args.maps // 4)):
                if seed * (-(-args.maps // 4)) + k < args.maps:
                    (maps / f"s{seed}_{k}.{args.format}").write_bytes(first.read_bytes())
        files = sorted(maps.iterdir())[: args.maps]
        for extra in sorted(maps.iterdir())[args.maps:]:
            extra.unlink()
        print(f"{len(files)} maps of {SHAPE[0]} x {SHAPE[1]} ({args.format}) written in "
              f"{time.perf_counter() - t:.1f} s (not timed)")

        predict_paths([files[0]], args.model, tmp / "warm")  # JIT, model build, compilation
        t = time.perf_counter()
        local = predict_paths([maps], args.model, tmp / "local")
        t_local = time.perf_counter() - t

        rows = [("local (this process)", t_local, local)]
        t = time.perf_counter()
        cold = predict_paths([maps], args.model, tmp / "dask", scheduler=f"processes:{args.workers}")
        rows.append((f"processes:{args.workers} (cold)", time.perf_counter() - t, cold))
        same = (tmp / "local" / "fractions.csv").read_text() == (tmp / "dask" / "fractions.csv").read_text()

        # a cluster that stays up (what a campaign would run): the first run loads the model
        # and compiles on each worker, the next finds them warm
        from distributed import LocalCluster

        from ebsdphase.prediction.cluster import worker_env

        with LocalCluster(n_workers=args.workers, threads_per_worker=1, host="127.0.0.1",
                          dashboard_address=None, env=worker_env(args.workers)) as cluster:
            t = time.perf_counter()
            first = predict_paths([maps], args.model, tmp / "c1", scheduler=cluster.scheduler_address)
            rows.append(("running cluster, 1st run", time.perf_counter() - t, first))
            t = time.perf_counter()
            warm = predict_paths([maps], args.model, tmp / "c2", scheduler=cluster.scheduler_address)
            rows.append(("running cluster, 2nd run", time.perf_counter() - t, warm))

        print(f"{'run':<28}{'seconds':>9}{'maps/min':>10}{'vs local':>10}")
        for label, secs, run in rows:
            print(f"{label:<28}{secs:>9.1f}{60 * len(run.outputs) / secs:>10.1f}{t_local / secs:>10.2f}")
        print(f"workers {len(cold.workers)}, model loads per worker {sorted(set(cold.workers.values()))} "
              f"(2nd run on the running cluster: {sorted(set(warm.workers.values()))}); "
              f"same fractions.csv as local: {same}")
        st = local.stages
        print("local stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in st.items()))


if __name__ == "__main__":
    main()
