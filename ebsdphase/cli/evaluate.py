"""``ebsdphase evaluate``: score predictions (or a model on maps) against labels."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ebsdphase.cli._common import console, finish_report, handle_errors, percent, progress_bar, warn


@handle_errors
def command(
    inputs: list[str] = typer.Argument(..., help="Prediction folders/files (.phases.h5), or with --model: "
                                                 "map files, folders or globs."),
    labels: Optional[Path] = typer.Option(None, "--labels", "-l", help="Folder of <stem>.labels.png files "
                                          "(default: beside each map)."),
    output: Path = typer.Option(..., "--output", "-o", help="Report folder (metrics.json, PNGs)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Predict INPUTS (maps) with this model "
                                        "bundle or pretrained name first."),
    group_by: Optional[str] = typer.Option(None, "--group-by", help="Regular expression on map names; its "
                                           "first group (or match) names the sample group, e.g. '^(T\\d)_'."),
    tile: Optional[int] = typer.Option(None, "--tile", help="With --model: predict in tiles of N x N pixels."),
    overlap: int = typer.Option(0, "--overlap", help="With --model and --tile: tile overlap in pixels."),
    force: bool = typer.Option(False, "--force", help="With --model: redo predictions that are up to date."),
) -> None:
    """Pixel accuracy (CA), confusion matrix, precision/recall, true vs predicted fractions,
    and an accuracy map per map (white correct, one colour per kind of error)."""
    if model is not None:
        from ebsdphase.evaluation.run import evaluate_maps

        result, _ = evaluate_maps(inputs, model, output, labels=labels, group_by=group_by, tile=tile,
                                  overlap=overlap, force=force, progress=progress_bar)
    else:
        from ebsdphase.evaluation.run import evaluate_predictions

        result = evaluate_predictions(inputs, labels, output, group_by=group_by)
    print_evaluation(result)
    finish_report(result.skipped, f"report: {result.report_dir / 'metrics.json'}")


def print_evaluation(result, title: str = "Evaluation") -> None:
    names = list(result.classes.names)
    table = Table(title=title, title_justify="left")
    table.add_column("map", overflow="fold")
    table.add_column("CA %", justify="right")
    table.add_column("bal. %", justify="right")
    table.add_column("kappa", justify="right")
    for n in names:
        table.add_column(f"R {n}", justify="right")
        table.add_column(f"F1 {n}", justify="right")
    table.add_column(f"{names[0]} true/pred %", justify="right")
    table.add_column("unlabelled", justify="right")

    def row(label, m, style=None):
        fr = m.fractions
        cells = [label, percent(m.accuracy), percent(m.balanced_accuracy),
                 "-" if m.kappa != m.kappa else f"{m.kappa:.3f}"]
        for r, f in zip(m.recall, m.f1):
            cells += [percent(r, 1), percent(f, 1)]
        cells.append(f"{percent(fr['true'][names[0]], 1)} / {percent(fr['predicted'][names[0]], 1)}")
        cells.append(f"{m.n_unlabelled:,}")
        table.add_row(*cells, style="bold red" if m.majority_only else style)

    for name, m in result.per_map.items():
        row(name, m)
    if result.groups:
        table.add_section()
        for name, m in result.groups.items():
            row(f"group {name}", m, style="cyan")
    table.add_section()
    row("all", result.overall, style="bold")
    console.print(table)
    console.print("CA: correct / labelled pixels; bal.: mean recall of the classes (50 % for a model that "
                  "calls every pixel one of two classes); precision and IoU: metrics.json", style="dim")
    one_class = [name for name, m in result.per_map.items() if m.majority_only]
    if result.overall.majority_only:
        one_class.append("all maps together")
    for name in one_class:
        warn(f"{name}: one class predicted on every labelled pixel; its CA says nothing about the "
             "phases (balanced accuracy and kappa do)")
