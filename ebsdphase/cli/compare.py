"""``ebsdphase compare``: several methods on the same labelled maps (the paper's Fig. 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ebsdphase.cli._common import (console, finish_report, handle_errors, name_width, narrow_table, percent,
                                   progress_bar, short_name, warn_one_class)


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


def _method_header(label: str) -> str:
    """A method's column header on two lines at its colon ('unet:' / 'dp-kam'): narrow, whole."""
    kind, sep, rest = label.partition(":")
    return f"{kind}{sep}\n{rest}" if sep and rest else label


def print_comparison(result) -> None:
    """One row per map, one column per method (maps are many, methods few, so the table
    grows downwards and fits an 80-column terminal); the pooled figures below."""
    maps = result.maps
    methods = list(result.per_map)
    first = result.classes.names[0]
    bal = {label: result.overall(label).balanced_accuracy for label in methods}
    # the best method is the best by balanced accuracy: plain CA rewards calling every
    # pixel the majority class
    best = max((b for b in bal.values() if b == b), default=None)
    table = narrow_table("Classification accuracy (CA %) per map and method")
    headers = [_method_header(m) for m in methods]
    accs = result.accuracies()
    secs = result.mean_seconds()
    overall = {label: result.overall(label) for label in methods}
    per_map = [(m, [percent(accs[label][m]) for label in methods]) for m in maps]
    pooled = [("all: CA %", [percent(accs[label]["all"]) for label in methods], "bold"),
              ("balanced %", [percent(bal[label]) for label in methods], "bold"),
              ("kappa", ["-" if o.kappa != o.kappa else f"{o.kappa:.3f}" for o in overall.values()], None),
              (f"{first} % pred", [percent(o.fractions["predicted"][first]) for o in overall.values()], None),
              (f"{first} % true", [percent(o.fractions["true"][first]) for o in overall.values()], None),
              ("s / map", ["-" if secs[label] is None else f"{secs[label]:.3g}" for label in methods], None)]
    width = name_width(headers, minimum=max(12, *(len(label) for label, _, _ in pooled)),
                       rows=[c for _, c in per_map] + [c for _, c, _ in pooled], gap=2, edges=0)
    table.add_column("map", no_wrap=True)
    for label, header in zip(methods, headers):
        one_class = result.overall(label).majority_only
        table.add_column(header, justify="right", no_wrap=True,
                         header_style="bold red" if one_class else ("bold green" if bal[label] == best else "bold"))
    for m, row in per_map:
        table.add_row(short_name(m, width), *row)
    table.add_section()
    for label, row, style in pooled:
        table.add_row(label, *row, style=style)
    console.print(table)
    for label in methods:
        if overall[label].majority_only:
            warn_one_class(label)
