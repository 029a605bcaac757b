"""``ebsdphase predict``: phase maps for map files, folders or globs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ebsdphase.cli._common import EXIT_PARTIAL, console, error, handle_errors, percent, warn


@handle_errors
def command(
    inputs: list[str] = typer.Argument(..., help="Map files, folders or glob patterns (any readable format)."),
    model: str = typer.Option(..., "--model", "-m", help="Model bundle folder, card (.json) or pretrained name."),
    output: Path = typer.Option(..., "--output", "-o", help="Output folder."),
    tile: Optional[int] = typer.Option(None, "--tile", help="Predict in N x N tiles (for maps too big for "
                                       "memory); default: the whole map at once."),
    overlap: int = typer.Option(0, "--overlap", help="Tile overlap in pixels, blended; use at least the "
                                "network's context (~64-128 px for the 7-step U-Net)."),
    ctf: bool = typer.Option(False, "--ctf", help="Also write <stem>.phases.ctf: the input with the "
                             "predicted phase in the phase column (one BCC-iron phase per class)."),
    force: bool = typer.Option(False, "--force", help="Predict again maps whose outputs are up to date."),
) -> None:
    """Predict the phase of every pixel: <stem>.phases.png, <stem>.phases.h5 (classes,
    probabilities, entropy), optional .ctf, and fractions.csv for all maps."""
    from ebsdphase.prediction.folder import predict_paths

    run = predict_paths(inputs, model, output, ctf=ctf, force=force, tile=tile, overlap=overlap, progress=True)
    print_run(run)
    for why in run.outside.values():
        warn(why)
    for stem, why in run.failed.items():
        error(why)
    if run.failed:
        raise typer.Exit(EXIT_PARTIAL)


def print_run(run) -> None:
    names = None
    table = Table(title=f"Phase fractions (model {run.model})", title_justify="left")
    table.add_column("map", overflow="fold")
    for stem, row in run.fractions.items():
        if names is None:
            names = list(row["all"])
            for n in names:
                table.add_column(f"{n} %", justify="right")
            for n in names:
                table.add_column(f"{n} % indexed", justify="right")
            table.add_column("time s", justify="right")
        idx = row["over_indexed"] or {}
        status = f"{run.seconds[stem]:.1f}" if stem in run.seconds else "up to date"
        table.add_row(stem, *[percent(row["all"][n], 1) for n in names],
                      *[percent(idx.get(n), 1) for n in names], status)
    if names is not None:
        console.print(table)
    n_new, n_old, n_bad = len(run.outputs), len(run.up_to_date), len(run.failed)
    console.print(f"{n_new} predicted, {n_old} up to date, {n_bad} failed -> {run.out_dir}"
                  + (f" (fractions: {run.fractions_file.name})" if run.fractions_file else ""))
