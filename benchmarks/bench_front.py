"""Accuracy against time of U-Nets of different sizes: the front a shipped size is chosen on.

    flock /tmp/ebsdphase-heavy.lock python benchmarks/bench_front.py RUN_DIR [RUN_DIR ...]
                                                                    [--epoch N] [--repeat 3]

Each RUN_DIR is a ``train`` run on the same dataset with the same settings but the network's
size (``-p depth=D -p filters=F``), e.g. for the KAM model (``scripts/make_pretrained.sh``
makes the dataset; the shipped size is depth 5, 16 filters, its run is the reference)::

    ebsdphase train WORK/ds-synth-kam.h5 -o WORK/front-d5f8 -p depth=5 -p filters=8 \\
        --epochs 6 --patience 4 --monitor val_loss --class-weight none --no-dihedral --quiet

For each run it prints the parameter count, a bare forward pass of one 856 x 1136 map
(warm, best of ``--repeat``, in this process: the floor of ``predict``'s time), the
training seconds per epoch (median, from ``history.csv``), and the validation accuracy and
balanced accuracy after ``--epoch`` epochs (default: the last epoch every run reached, so
every network had the same training), with the runs on the front (no other run is both
faster and more accurate) marked.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

SHAPE = (856, 1136)


def _history(run: Path) -> list[dict[str, str]]:
    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def _value(row: dict[str, str], key: str) -> float | None:
    text = row.get(key, "")
    return float(text) if text not in ("", None) else None


def _forward_seconds(bundle, repeat: int) -> float:
    import numpy as np

    rows, cols = (s + (-s) % bundle.multiple for s in SHAPE)
    x = np.zeros((1, rows, cols, bundle.input_channels), np.float32)
    bundle.model.predict_on_batch(x)  # compile this shape
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        bundle.model.predict_on_batch(x)
        best = min(best, time.perf_counter() - t)
    return best


def front(points: list[tuple[float, float]]) -> list[bool]:
    """For (time, accuracy) points: True where no other point is at least as fast and at
    least as accurate, and strictly better in one."""
    return [not any((t2 <= t and a2 >= a) and (t2 < t or a2 > a) for t2, a2 in points) for t, a in points]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--epoch", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    import ebsdphase.models  # noqa: F401 - picks the keras backend
    import keras

    from ebsdphase.models.bundle import load_bundle

    histories = {run: _history(run) for run in args.runs}
    epoch = args.epoch or min(len(h) for h in histories.values())
    rows = []
    for run, hist in histories.items():
        if len(hist) < epoch:
            raise SystemExit(f"{run}: only {len(hist)} epochs in history.csv, --epoch {epoch}")
        bundle = load_bundle(run)
        at = hist[epoch - 1]
        rows.append({
            "run": run.name, "params": bundle.params, "n": bundle.model.count_params(),
            "forward": _forward_seconds(bundle, args.repeat),
            "epoch_s": statistics.median(float(r["seconds"]) for r in hist[:epoch]),
            "acc": _value(at, "val_accuracy"), "bal": _value(at, "val_balanced_accuracy"),
        })
    rows.sort(key=lambda r: r["forward"])
    on_front = front([(r["forward"], r["acc"]) for r in rows])

    table = Table(title=f"U-Net size against accuracy after {epoch} epochs of the same training "
                        f"(keras {keras.__version__}, {keras.backend.backend()}; forward: one "
                        f"{SHAPE[0]} x {SHAPE[1]} map)", title_justify="left")
    for col in ("run", "depth", "filters", "parameters", "forward s", "train s/epoch",
                "val accuracy", "val balanced acc.", "front"):
        table.add_column(col, justify="left" if col == "run" else "right")
    for r, f in zip(rows, on_front):
        table.add_row(r["run"], str(r["params"].get("depth")), str(r["params"].get("filters")), f"{r['n']:,}",
                      f"{r['forward']:.2f}", f"{r['epoch_s']:.0f}", f"{100 * r['acc']:.2f} %",
                      "-" if r["bal"] is None else f"{100 * r['bal']:.2f} %", "yes" if f else "")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
