"""``ebsdphase synth OUT_DIR``: synthetic dual-phase steel maps with exact labels."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ebsdphase.cli._common import console, handle_errors
from ebsdphase.core.errors import EbsdphaseError


def parse_size(text: str) -> tuple[int, int]:
    """'856x1136' -> (856, 1136)."""
    parts = text.lower().replace("*", "x").split("x")
    try:
        rows, cols = (int(p) for p in parts)
    except ValueError:
        raise EbsdphaseError(f"--size must be ROWSxCOLS (e.g. 856x1136), got {text!r}") from None
    if rows < 16 or cols < 16:
        raise EbsdphaseError(f"--size {text}: at least 16 x 16 pixels")
    return rows, cols


def parse_range(text: str, option: str) -> tuple[float, float]:
    """'0.2' -> (0.2, 0.2); '0-0.3' -> (0.0, 0.3); each within [0, 1]."""
    parts = text.split("-") if "-" in text.strip()[1:] else [text]
    try:
        values = [float(v) for v in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(0.0 <= v <= 1.0 for v in values) or values[0] > values[-1]:
        raise EbsdphaseError(f"{option} must be F or LOW-HIGH with 0 <= LOW <= HIGH <= 1, got {text!r}")
    return values[0], values[-1]


@handle_errors
def command(
    out_dir: Path = typer.Argument(..., help="Folder for the maps (created if needed)."),
    preset: str = typer.Option("t2", "--preset", "-p", help="t1 (57 % ferrite), t2 (42 %), t3 (34 %, "
                               "Widmanstatten plates), complex (25 %, serrated, many plates), or random "
                               "(each seed draws fraction 0-100 %, step 0.05-0.5 um, Oxford/EDAX channels, "
                               "cleaning, deformed ferrite, noise: the pretrained models' training maps)."),
    count: int = typer.Option(1, "--count", "-n", help="Number of maps (seeds SEED, SEED+1, ...)."),
    seed: int = typer.Option(0, "--seed", help="First random seed; the same seed gives identical files."),
    size: str = typer.Option("856x1136", "--size", help="Map size ROWSxCOLS in pixels."),
    step: Optional[float] = typer.Option(None, "--step", help="Step size in micrometres "
                                         "(default: 0.1, or drawn per map by --preset random)."),
    ferrite: Optional[str] = typer.Option(None, "--ferrite", help="Ferrite area fraction: F (0-1), or "
                                          "LOW-HIGH drawn per map (default: the preset's; random draws "
                                          "0-1, a fifth of its maps single-phase)."),
    vendor: Optional[str] = typer.Option(None, "--vendor", help="oxford (BC, BS, MAD; .ctf) or edax "
                                         "(IQ, CI, Fit; .ebsd.h5). Default: the preset's."),
    cleaned: Optional[bool] = typer.Option(None, "--cleaned/--raw", help="Fill non-indexed pixels from "
                                           "their neighbours, as AZtec/OIM clean-up does."),
    deformed: Optional[float] = typer.Option(None, "--deformed", help="In-grain orientation gradient of "
                                             "ferrite, deg/um (deformed ferrite; 0 = recrystallised)."),
    tempered: Optional[str] = typer.Option(None, "--tempered", help="Coarse auto-tempered laths, as a "
                                           "fraction of the martensite (about 3/4 of it is realised): "
                                           "F, or LOW-HIGH drawn per map (default: the preset's; "
                                           "random draws 0-0.15)."),
    preview: bool = typer.Option(False, "--preview", help="Also write <stem>.preview.png "
                                 "(BS, KAM, IPF-Z and labels side by side)."),
) -> None:
    """Write synthetic ferrite/martensite maps: <stem>.ctf, <stem>.labels.png and <stem>.json."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ebsdphase.synth import get_preset
    from ebsdphase.synth.generate import synth_maps

    shape = parse_size(size)
    get_preset(preset)  # fail on a bad name before the progress bar starts
    overrides = {k: v for k, v in {"vendor": vendor, "cleaned": cleaned,
                                   "ferrite_deformation": deformed}.items() if v is not None}
    if vendor is not None and vendor not in ("oxford", "edax"):
        raise EbsdphaseError(f"--vendor must be oxford or edax, got {vendor!r}")
    if step is not None and not 0.005 <= step <= 5.0:
        raise EbsdphaseError(f"--step {step} um is outside 0.005-5 um")
    # a range each map draws from; F is the range F-F, the same value for every map
    ranges = {field: parse_range(text, option) for field, text, option in
              (("ferrite_fraction", ferrite, "--ferrite"), ("tempered_fraction", tempered, "--tempered"))
              if text is not None}
    with Progress(TextColumn("[bold]synth[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task(f"{preset} {shape[0]}x{shape[1]}", total=count)
        paths = synth_maps(out_dir, preset, count, seed, shape, step, preview,
                           on_map=lambda i, p: bar.advance(task), overrides=overrides, ranges=ranges)
    console.print(f"wrote {len(paths)} map(s) to {out_dir}")
