"""``ebsdphase prepare MAP... --labels DIR --channels bs,kam -o dataset.h5``."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ebsdphase.cli._common import OUT_ALIAS, console, err_console, finish_report, handle_errors, output_option, pick_output


@handle_errors
def command(
    maps: list[str] = typer.Argument(..., help="Map files, folders or glob patterns (any readable format)."),
    labels: Optional[Path] = typer.Option(None, "--labels", "-l",
                                help="Folder with <stem>.labels.png files (default: beside each map)."),
    channels: str = typer.Option("bs,kam", "--channels", "-c",
                                 help="Input channels, e.g. 'bs,kam', 'quat', 'quat,bs' (scalar channels "
                                      "of the map, 'kam', 'quat')."),
    output: Optional[Path] = output_option("Dataset file to write (.h5)."),
    out_alias: Optional[Path] = OUT_ALIAS,
    augment: bool = typer.Option(True, "--augment/--no-augment",
                                 help="Add the 11 rotated/coarser copies of each map (paper, section 3.3)."),
    crop: Optional[int] = typer.Option(None, "--crop", help="Crop size in pixels (a multiple of 2^pooling "
                                       "steps); default: 224, smaller for maps too small for four crops."),
    val: float = typer.Option(0.2, "--val", help="Validation fraction."),
    seed: int = typer.Option(0, "--seed", help="Seed of the split."),
    val_maps: Optional[list[str]] = typer.Option(None, "--val-maps",
                                                 help="Maps (file names or glob patterns, e.g. "
                                                      "'synth_random_13*'; repeatable) that form the "
                                                      "validation split instead of a random --val share "
                                                      "(split by map)."),
    split_by: str = typer.Option("map", "--split-by",
                                 help="'map' (default): all crops of a map on one side, no leak between "
                                      "near-identical crops (one labelled map: 'block'); 'block': "
                                      "spatial blocks of each map; 'crop': random crops, as in the paper."),
    kam_order: int = typer.Option(1, "--kam-order", help="KAM neighbour order (1 = 3 x 3 kernel)."),
    kam_threshold: float = typer.Option(3.0, "--kam-threshold", help="KAM threshold angle (degrees)."),
    grain_angle: float = typer.Option(3.0, "--grain-angle",
                                      help="Grain threshold (degrees) for homogenising 'quat'."),
    normalisation: str = typer.Option("invariant", "--normalisation",
                                      help="'invariant' (default, recipe v2): KAM in degrees, quality "
                                           "channels over their 98th percentile, so a pixel's input does "
                                           "not depend on the rest of the map; 'zscore-per-map': the "
                                           "paper's per-map standardisation (v1)."),
    fill_unindexed: bool = typer.Option(False, "--fill-unindexed",
                                        help="Clean every map before building its inputs: non-indexed "
                                             "pixels take the orientation of their nearest indexed one "
                                             "(as AZtec/OIM clean-up), so the model cannot read the phase "
                                             "from where indexing failed. Recorded in the recipe."),
) -> None:
    """Augment, crop and split labelled maps into a training dataset (HDF5)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ebsdphase.dataset.prepare import prepare
    from ebsdphase.features import ChannelRecipe

    out = pick_output(output, out_alias)
    recipe = ChannelRecipe.parse(channels, kam_order=kam_order, kam_threshold=kam_threshold,
                                 grain_angle=grain_angle, normalisation=normalisation,
                                 fill_unindexed=fill_unindexed)
    # record the real command line when we are the running program (not under a test runner)
    argv = ["ebsdphase", *sys.argv[1:]] if sys.argv[1:2] == ["prepare"] else None
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=err_console,
                  transient=True) as bar:
        task = bar.add_task("planning crops", total=None)

        def _progress(done: int, total: int, message: str) -> None:
            bar.update(task, completed=done, total=total, description=message)

        summary = prepare(maps, labels, recipe, out, augment=augment, crop=crop, val=val, seed=seed,
                          split_by=split_by, progress=_progress, val_maps=val_maps or None,
                          command=shlex.join(argv) if argv else None)
    _print(summary)
    finish_report(summary["failed"], f"{len(summary['maps'])} maps in {summary['out']}, "
                                     f"{len(summary['failed'])} left out")


def _print(s: dict) -> None:
    table = Table(title=f"{s['out']}  ({len(s['maps'])} maps x {len(s['augmentations'])} "
                        f"augmentations, {s['crop']} px crops, split by {s['split_by']})",
                  title_justify="left")
    table.add_column("split")
    table.add_column("maps", justify="right")
    table.add_column("crops", justify="right")
    for name in s["classes"]:
        table.add_column(name, justify="right")
    table.add_column("unlabelled", justify="right")
    for split, d in s["splits"].items():
        px = d["pixels"]
        labelled = sum(v for k, v in px.items() if k != "unlabelled") or 1
        total = sum(px.values()) or 1
        cells = [f"{100 * px[c] / labelled:.1f} %" for c in s["classes"]]
        table.add_row(split, str(len(d["maps"])), str(d["crops"]), *cells,
                      f"{100 * px['unlabelled'] / total:.1f} %")
    console.print(table)
    if s.get("split_note"):
        console.print(s["split_note"])
    console.print(f"written in {s['seconds']:.1f} s")
