"""``ebsdphase evaluate``: score predictions (or a model on maps) against labels."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ebsdphase.cli._common import (console, finish_report, handle_errors, name_width, narrow_table, percent,
                                   progress_bar, short_name, warn_one_class)


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
    """One row per map: CA, balanced accuracy, kappa, the recall of each class, the first
    class's true and predicted fractions, the unlabelled share; narrow enough for an
    80-column terminal (long map names are shortened in the middle; F1, precision and IoU
    are in metrics.json)."""
    names = list(result.classes.names)
    table = narrow_table(title)
    headers = ["CA %", "bal. %", "kappa", *[f"recall %\n{n}" for n in names],
               f"{names[0]} %\ntrue / pred", "unlab.\n%"]
    table.add_column("map", no_wrap=True)
    for h in headers:
        table.add_column(h, justify="right", no_wrap=True)

    def cells(m):
        fr = m.fractions
        total = m.n_labelled + m.n_unlabelled
        out = [percent(m.accuracy), percent(m.balanced_accuracy), "-" if m.kappa != m.kappa else f"{m.kappa:.3f}"]
        out += [percent(r, 1) for r in m.recall]
        out.append(f"{percent(fr['true'][names[0]], 1)} / {percent(fr['predicted'][names[0]], 1)}")
        out.append(percent(m.n_unlabelled / total, 1) if total else "-")
        return out

    sections = [[(name, m, None) for name, m in result.per_map.items()],
                [(f"group {name}", m, "cyan") for name, m in (result.groups or {}).items()],
                [("all", result.overall, "bold")]]
    rows = {id(m): cells(m) for part in sections for _, m, _ in part}
    width = name_width(headers, minimum=12, rows=list(rows.values()), gap=2, edges=0)
    for part in sections:
        if not part:
            continue
        if table.row_count:
            table.add_section()
        for label, m, style in part:
            table.add_row(short_name(label, width), *rows[id(m)], style="bold red" if m.majority_only else style)
    console.print(table)
    console.print("CA: correct / labelled pixels; bal.: mean recall of the classes (50 % for a model that "
                  "calls every pixel one of two classes); F1, precision and IoU per class: metrics.json",
                  style="dim")
    one_class = [name for name, m in result.per_map.items() if m.majority_only]
    if result.overall.majority_only:
        one_class.append("all maps together")
    for name in one_class:
        warn_one_class(name)
