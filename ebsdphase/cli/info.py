"""``ebsdphase info MAP``: what is in a map file."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from ebsdphase.cli._common import console, handle_errors


@handle_errors
def command(
    path: Path = typer.Argument(..., help="An EBSD map file (.ctf, .cpr, .ang, .osc, .h5, .h5oina, .ebsd.h5)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    kam: bool = typer.Option(False, "--kam", help="Also compute KAM (3 x 3 kernel, 3 deg) and list it as a channel."),
) -> None:
    """Show a map's format, grid, step, phases, indexing rate and channels."""
    from ebsdphase.io import read_map
    from ebsdphase.core.summary import summarize

    ebsd = read_map(path)
    if kam:
        from ebsdphase.crystal import kam as compute_kam

        ebsd.channels["kam"] = compute_kam(ebsd)
    summary = summarize(ebsd)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    _print(summary)


def _print(s: dict) -> None:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("file", s["source"])
    head.add_row("format", s["format"])
    head.add_row("grid", f"{s['rows']} rows x {s['cols']} cols")
    head.add_row("step", f"{s['step'][0]:g} x {s['step'][1]:g} um (x, y)")
    head.add_row("size", f"{s['size_um'][0]:.1f} x {s['size_um'][1]:.1f} um")
    head.add_row("indexed", f"{100 * s['indexed_fraction']:.1f} %")
    console.print(head)

    phases = Table(title="Phases", title_justify="left")
    for col in ("id", "name", "laue", "pixels", "fraction"):
        phases.add_column(col, justify="right" if col in ("id", "pixels", "fraction") else "left")
    for p in s["phases"]:
        phases.add_row(str(p["id"]), p["name"], p["laue"], f"{p['pixels']:,}", f"{100 * p['fraction']:.1f} %")
    console.print(phases)

    chans = Table(title="Channels", title_justify="left")
    for col in ("name", "min", "mean", "max"):
        chans.add_column(col, justify="left" if col == "name" else "right")
    for name, st in s["channels"].items():
        chans.add_row(name, f"{st['min']:.4g}", f"{st['mean']:.4g}", f"{st['max']:.4g}")
    console.print(chans)
