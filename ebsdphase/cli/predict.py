"""``ebsdphase predict``: phase maps for map files, folders or globs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ebsdphase.cli._common import (EXIT_BAD_INPUT, console, error, finish_report, handle_errors, percent,
                                   progress_bar, warn)


@handle_errors
def command(
    inputs: Optional[list[str]] = typer.Argument(None, help="Map files, folders or glob patterns (any "
                                                 "readable format)."),
    example: bool = typer.Option(False, "--example", help="Predict the example map that ships with the "
                                 "package (a synthetic dual-phase map)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model bundle folder, card (.json) or "
                                        "pretrained name; default: the best pretrained model the maps' "
                                        "channels allow (see `ebsdphase models list`)."),
    output: Path = typer.Option(..., "--output", "-o", help="Output folder."),
    tile: Optional[int] = typer.Option(None, "--tile", help="Predict in N x N tiles (for maps too big for "
                                       "memory); default: the whole map at once."),
    overlap: int = typer.Option(0, "--overlap", help="Tile overlap in pixels, blended; use at least the "
                                "network's context (~64-128 px for the 7-step U-Net)."),
    ctf: bool = typer.Option(False, "--ctf", help="Also write <stem>.phases.ctf: the input with the "
                             "predicted phase in the phase column (one BCC-iron phase per class)."),
    force: bool = typer.Option(False, "--force", help="Predict again maps whose outputs are up to date."),
    grains: bool = typer.Option(False, "--grains", help="Also write <stem>.grains.csv (grain, area um^2, "
                                "centroid, phase, mean probability, KAM, quality) and grain fractions."),
    smooth: str = typer.Option("card", "--smooth", help="'grains': every pixel takes its grain's phase "
                               "(grains at 2 deg); 'none': pixel answers; 'card' (default): what the "
                               "model's card says (models made by `train` smooth by grains)."),
    tta: bool = typer.Option(False, "--tta", help="Test-time augmentation: average over the 8 symmetries of "
                             "the grid (orientations turned with it); 8x the inference time."),
) -> None:
    """Predict the phase of every pixel: <stem>.phases.png, <stem>.phases.h5 (classes,
    probabilities, entropy), optional .ctf, and fractions.csv for all maps."""
    from ebsdphase.core.inputs import example_map
    from ebsdphase.prediction.folder import predict_paths

    inputs = list(inputs or []) + ([str(example_map())] if example else [])
    if not inputs:
        error("no maps given: name map files, folders or globs, or --example")
        raise typer.Exit(EXIT_BAD_INPUT)
    run = predict_paths(inputs, model, output, ctf=ctf, force=force, tile=tile, overlap=overlap, progress=progress_bar,
                        tta=tta, grains=grains, smooth=smooth)
    if model is None:
        console.print(f"model: {run.model} (the best pretrained model for these maps' channels)")
    print_run(run)
    for why in run.outside.values():
        warn(why)
    finish_report(run.failed, _counts(run))


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


def _counts(run) -> str:
    return (f"{len(run.outputs)} predicted, {len(run.up_to_date)} up to date, {len(run.failed)} failed "
            f"-> {run.out_dir}" + (f" (fractions: {run.fractions_file.name})" if run.fractions_file else ""))
