"""``ebsdphase label``: ground-truth labels in seconds (the paper's section 2.3 pipeline)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ebsdphase.cli._common import console, err_console, finish_report, handle_errors
from ebsdphase.labelling.threshold import LABEL_CHANNEL


class Prelabel(str, Enum):
    threshold = "threshold"
    forest = "forest"
    file = "file"


class Unindexed(str, Enum):
    martensite = "martensite"
    nearest = "nearest"
    ignore = "ignore"


@handle_errors
def command(
    maps: list[str] = typer.Argument(..., help="Map files, folders or glob patterns."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for <stem>.labels.png (+ .labels.json)."),
    prelabel: Prelabel = typer.Option(Prelabel.threshold, "--prelabel",
                                      help="Pre-labelling: threshold on a channel, random forest on "
                                           "scribbles, or an existing label file."),
    channel: str = typer.Option(LABEL_CHANNEL, "--channel", help="Channel to threshold (default quality: BS on "
                                "Oxford files, IQ on EDAX/TSL, else BC; or bs, bc, iq, kam, ...); for "
                                "the forest a list, e.g. 'quality,kam'."),
    value: Optional[float] = typer.Option(None, "--value", help="Threshold value (default: Otsu's per map), "
                                          "on the channel's own scale: `quality` is BS on Oxford maps and IQ "
                                          "on EDAX ones, so give one value only to maps of one vendor."),
    grain_average: bool = typer.Option(False, "--grain-average", help="Threshold grain-averaged values."),
    scribbles: Optional[list[Path]] = typer.Option(None, "--scribbles", help="Scribble PNG(s) in class "
                                                   "colours, transparent/black = unlabelled; several maps: "
                                                   "name them <stem>.scribbles.png."),
    from_labels: Optional[Path] = typer.Option(None, "--from", help="Label PNG to refine, or a folder of "
                                               "<stem>.labels.png files."),
    grain_angle: float = typer.Option(2.0, "--grain-angle", help="Grain boundary angle (deg) for the "
                                      "majority vote; 0 skips the vote."),
    keep_above: Optional[int] = typer.Option(None, "--keep-above", help="Keep the pixel labels of grains "
                                             "larger than N pixels."),
    unindexed: Unindexed = typer.Option(Unindexed.martensite, "--unindexed",
                                        help="Non-indexed pixels: martensite (+ erode/dilate clean-up), "
                                             "class of the nearest indexed pixel, or unlabelled (255)."),
    cleanup_radius: int = typer.Option(1, "--cleanup-radius", help="Square of side 2r+1 for the clean-up "
                                       "of --unindexed martensite; 0 turns it off."),
    classes: str = typer.Option("ferrite,martensite", "--classes", help="Class names, in index order."),
    preview: bool = typer.Option(False, "--preview", help="Also write <stem>.labels.preview.png "
                                 "(label colours over BS)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the forest."),
) -> None:
    """Label maps: pre-labelling, grain majority vote, then a rule for non-indexed pixels."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ebsdphase.labelling.batch import label_files
    from ebsdphase.core.classes import ClassSet
    from ebsdphase.io.discover import expand_maps

    class_set = ClassSet.parse(classes)
    files = expand_maps(maps)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task("labelling", total=len(files))

        def on_progress(stem: str, stage: str) -> None:
            if stage == "done":
                bar.advance(task)
            else:
                bar.update(task, description=f"{stem}: {stage}")

        result = label_files(
            files, output, prelabel=prelabel.value, scribbles=scribbles or (), from_labels=from_labels,
            classes=class_set, preview=preview, on_progress=on_progress,
            channel=channel, value=value, grain_average=grain_average,
            grain_angle=grain_angle or None, keep_pixels_above=keep_above,
            unindexed=unindexed.value, cleanup_radius=cleanup_radius, seed=seed,
        )
    if result.done:
        _print(result, class_set)
    finish_report(result.failed, f"{len(result.done)} labelled, {len(result.failed)} failed",
                  nothing_done=not result.done)


def _print(result, classes) -> None:
    table = Table(title="Labels", title_justify="left")
    table.add_column("map", no_wrap=True)
    table.add_column("grid", justify="right", no_wrap=True)
    table.add_column("pre-label")
    table.add_column("grains", justify="right")
    # share of pixels each stage changed: the first thing to look at when labels look wrong
    table.add_column("vote chg", justify="right")
    table.add_column("non-idx chg", justify="right")
    table.add_column(" / ".join(classes.names) + " %", justify="right")
    for stem, o in result.done.items():
        info = o.info
        pre = info.get("prelabel", "")
        if "threshold" in info:
            how = " grain mean" if info.get("grain_average") else ""
            pre = f"{info['channel']}{how} > {info['threshold']:.4g}"
        changed = info.get("changed", {})
        table.add_row(
            stem, f"{o.shape[0]}x{o.shape[1]}", pre, f"{info['n_grains']:,}" if "n_grains" in info else "-",
            _pct(changed.get("majority")), _pct(changed.get("unindexed")),
            " / ".join(f"{100 * o.fractions[n]:.1f}" for n in classes.names),
        )
    console.print(table)
    console.print(f"labels written to {next(iter(result.done.values())).labels_file.parent}")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f} %"
