"""``ebsdphase predict``: phase maps for map files, folders or globs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ebsdphase.cli._common import (EXIT_BAD_INPUT, console, error, finish_report, handle_errors, name_width,
                                   percent, progress_bar, short_name, warn)


@handle_errors
def command(
    inputs: Optional[list[str]] = typer.Argument(None, help="Map files, folders or glob patterns (any "
                                                 "readable format)."),
    example: bool = typer.Option(False, "--example", help="Predict the example map that ships with the "
                                 "package (a synthetic dual-phase map)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model bundle folder, card (.json) or "
                                        "pretrained name; default: the first pretrained model of the index's "
                                        "order that the maps' channels allow (see `ebsdphase models list`)."),
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
                               "(grains at 2 deg); 'soft': each pixel's probabilities averaged half and "
                               "half with its grain's mean; 'none': pixel answers; 'card' (default): what "
                               "the model's card says (models made by `train`: grains; the pretrained "
                               "models with KAM or quaternions: soft)."),
    figure: bool = typer.Option(False, "--figure", help="Also write <stem>.figure.png: quality, KAM, IPF-Z, "
                                "the phases with a legend and the uncertainty, with scale bars."),
    tta: bool = typer.Option(False, "--tta", help="Test-time augmentation: average over the 8 symmetries of "
                             "the grid (orientations turned with it); 8x the inference time."),
    stack: bool = typer.Option(False, "--stack", help="Serial sections: the maps are slices of one volume; "
                               "write <name>.phases.h5 (Z x Y x X classes and probabilities) and "
                               "<name>.fractions.csv (per slice and for the volume)."),
    z_spacing: Optional[float] = typer.Option(None, "--z-spacing", help="With --stack: distance between "
                                              "slices in um (default: the slices' x step)."),
    stack_name: Optional[str] = typer.Option(None, "--stack-name", help="With --stack: the volume's name "
                                             "(default: the first input folder's name)."),
    scheduler: str = typer.Option("local", "--scheduler", help="Where the maps are predicted: 'local' (this "
                                  "process), 'processes:N' (N Dask worker processes here) or a Dask "
                                  "scheduler address 'tcp://host:8786' (needs the dask extra: "
                                  "pip install \"ebsdphase\\[dask]\")."),
) -> None:
    """Predict the phase of every pixel: <stem>.phases.png, <stem>.phases.h5 (classes,
    probabilities, entropy), optional .ctf, and fractions.csv for all maps."""
    from ebsdphase.core.inputs import example_map
    from ebsdphase.prediction.folder import predict_paths

    inputs = list(inputs or []) + ([str(example_map())] if example else [])
    if not inputs:
        error("no maps given: name map files, folders or globs, or --example")
        raise typer.Exit(EXIT_BAD_INPUT)
    if stack:
        ignored = [flag for flag, on in (("--ctf", ctf), ("--grains", grains), ("--figure", figure), ("--tta", tta),
                                         ("--force", force), ("--scheduler", scheduler != "local")) if on]
        if ignored:
            warn(f"--stack writes one volume from slices predicted in this process; {', '.join(ignored)} "
                 "ignored")
        _predict_stack(inputs, model, output, stack_name, z_spacing, tile, overlap, smooth)
        return
    run = predict_paths(inputs, model, output, ctf=ctf, force=force, tile=tile, overlap=overlap, progress=progress_bar,
                        tta=tta, grains=grains, smooth=smooth, figures=figure, scheduler=scheduler)
    if model is None:
        console.print(f"model: {run.model} (the default pretrained model for these maps' channels)")
    print_run(run)
    if run.workers:
        loads = sorted(set(run.workers.values()))
        console.print(f"Dask: {len(run.workers)} worker(s) predicted; model loaded "
                      + ("once on each" if loads == [1] else f"{loads} times per worker"))
    for why in run.outside.values():
        warn(why)
    finish_report(run.failed, _counts(run))


def _predict_stack(inputs, model, output, name, z_spacing, tile, overlap, smooth) -> None:  # noqa: ANN001
    from ebsdphase.prediction.stack import predict_stack

    run = predict_stack(inputs, model, output, name=name, z_spacing=z_spacing,
                        tile=tile, overlap=overlap, smooth=smooth, progress=progress_bar)
    names = list(run.fractions["volume"])
    table, width = _fractions_table(f"Phase fractions per slice (model {run.model})", "slice",
                                    [f"{n}\n%" for n in names])
    for stem, fr in run.fractions.items():
        if stem == "volume":
            table.add_section()
        table.add_row(short_name(stem, width), *[percent(fr[n], 1) for n in names],
                      style="bold" if stem == "volume" else None)
    console.print(table)
    z, y, x = run.shape
    console.print(f"volume {z} x {y} x {x}, z spacing {run.z_spacing_um:g} um -> {run.volume} "
                  f"(fractions: {run.fractions_file.name})")


def _fractions_table(title: str, first: str, headers: list[str]) -> tuple[Table, int]:
    """A table with a name column as wide as the terminal allows and ``headers`` (two-line
    headers keep every header whole in 80 columns); and that width, for :func:`short_name`."""
    width = name_width(headers)
    table = Table(title=title, title_justify="left")
    table.add_column(first, no_wrap=True, max_width=width)
    for h in headers:
        table.add_column(h, justify="right", no_wrap=True)
    return table, width


def print_run(run) -> None:
    from ebsdphase.prediction.folder import iron_fractions

    rows = list(run.fractions.items())
    if not rows:
        return
    names = list(rows[0][1]["all"])
    # when a map indexes other phases (austenite), "% of bcc" (its iron alone) takes the place
    # of "% indexed", which counts the austenite too (both stay in fractions.csv): 80 columns
    with_iron = any(row.get("over_iron") is not None for _, row in rows)
    second = "% of bcc" if with_iron else "% indexed"
    table, width = _fractions_table(f"Phase fractions (model {run.model})", "map",
                                    [f"{n}\n%" for n in names] + [f"{n}\n{second}" for n in names] + ["time\ns"])
    for stem, row in rows:
        idx = row["over_indexed"] or {}
        shown = iron_fractions(row) if with_iron else idx
        status = f"{run.seconds[stem]:.1f}" if stem in run.seconds else "up to date"
        table.add_row(short_name(stem, width), *[percent(row["all"][n], 1) for n in names],
                      *[percent(shown.get(n), 1) for n in names], status)
    console.print(table)


def _counts(run) -> str:
    return (f"{len(run.outputs)} predicted, {len(run.up_to_date)} up to date, {len(run.failed)} failed "
            f"-> {run.out_dir}" + (f" (fractions: {run.fractions_file.name})" if run.fractions_file else ""))
