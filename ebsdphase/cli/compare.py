"""``ebsdphase compare``: several methods on the same labelled maps (the paper's Fig. 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ebsdphase.cli._common import console, finish_report, handle_errors, percent, progress_bar, warn


@handle_errors
def command(
    maps: list[str] = typer.Argument(..., help="Map files, folders or glob patterns."),
    methods: str = typer.Option(..., "--methods", help="Comma-separated: unet:MODEL (bundle path or "
                                "pretrained name), grain-threshold:CHANNEL[=VALUE], forest:CHANNELS."),
    labels: Optional[Path] = typer.Option(None, "--labels", "-l", help="Folder of <stem>.labels.png "
                                          "(default: beside each map)."),
    output: Path = typer.Option(..., "--output", "-o", help="Report folder (metrics.json, PNGs)."),
    group_by: Optional[str] = typer.Option(None, "--group-by", help="Regular expression on map names "
                                           "naming sample groups, e.g. '^(T\\d)_'."),
    seed: int = typer.Option(0, "--seed", help="Seed of the forest baseline's strokes and trees."),
) -> None:
    """Accuracy, confusion matrix and time per map of each method on the same maps, a table
    and a grouped bar chart."""
    from ebsdphase.evaluation.compare import compare_maps

    result = compare_maps(maps, methods, labels=labels, out_dir=output, group_by=group_by, seed=seed,
                          progress=progress_bar)
    print_comparison(result)
    finish_report(result.skipped, f"report: {result.report_dir / 'metrics.json'}, "
                                  f"chart: {result.report_dir / 'accuracy.png'}")


def print_comparison(result) -> None:
    maps = result.maps
    first = result.classes.names[0]
    table = Table(title="Classification accuracy (CA %) per map and method", title_justify="left")
    table.add_column("method", no_wrap=True)
    for m in maps:
        table.add_column(m, justify="right", overflow="fold")
    table.add_column("all", justify="right", style="bold")
    table.add_column("bal. %", justify="right", style="bold")
    table.add_column("kappa", justify="right")
    table.add_column(f"{first} % pred / true", justify="right")
    table.add_column("s / map", justify="right")
    accs = result.accuracies()
    # the best method is the best by balanced accuracy: plain CA rewards calling every
    # pixel the majority class
    bal = {label: result.overall(label).balanced_accuracy for label in result.per_map}
    best = max((b for b in bal.values() if b == b), default=None)
    for label in result.per_map:
        a = accs[label]
        overall = result.overall(label)
        fr = overall.fractions
        secs = list(result.seconds[label].values())
        kappa = overall.kappa
        table.add_row(label,
                      *[percent(a[m]) for m in maps], percent(a["all"]), percent(bal[label]),
                      "-" if kappa != kappa else f"{kappa:.3f}",
                      f"{percent(fr['predicted'][first])} / {percent(fr['true'][first])}",
                      f"{sum(secs) / len(secs):.3g}" if secs else "-",
                      style="bold red" if overall.majority_only else ("green" if bal[label] == best else None))
    console.print(table)
    for label in result.per_map:
        if result.overall(label).majority_only:
            warn(f"{label}: one class predicted on every labelled pixel; its CA says nothing about the "
                 "phases (balanced accuracy and kappa do)")
