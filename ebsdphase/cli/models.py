"""``ebsdphase models list`` / ``ebsdphase models info NAME``: architectures and pretrained models."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from ebsdphase.cli._common import console, handle_errors

app = typer.Typer(help="Architectures (built-in and plugins) and pretrained models.", no_args_is_help=True)


def _architectures() -> list[dict]:
    from ebsdphase.models.registry import architectures

    return [{"name": a.name, "package": a.package, "description": a.description,
             "params": a.defaults(), "multiple": a.multiple()} for a in architectures().values()]


@app.command("list")
@handle_errors
def list_command(as_json: bool = typer.Option(False, "--json", help="Print the lists as JSON.")) -> None:
    """Architectures (with the package providing each) and pretrained models."""
    from ebsdphase.models.pretrained import list_pretrained

    archs = _architectures()
    pretrained = list_pretrained()
    if as_json:
        typer.echo(json.dumps({"architectures": archs, "pretrained": pretrained}, indent=2))
        return
    t = Table(title="Architectures", title_justify="left")
    for col in ("name", "package", "defaults", "description"):
        t.add_column(col)
    for a in archs:
        t.add_row(a["name"], a["package"], " ".join(f"{k}={v}" for k, v in a["params"].items()), a["description"])
    console.print(t)
    if not pretrained:
        console.print("Pretrained models: none yet")
        return
    t = Table(title="Pretrained models", title_justify="left")
    for col in ("name", "architecture", "channels", "classes", "val. acc.", "test acc.", "description"):
        t.add_column(col)
    for name, e in pretrained.items():
        metrics = e.get("metrics") or {}
        val = metrics.get("val_accuracy")
        test = (metrics.get("test_synthetic") or {}).get("accuracy")
        t.add_row(name, e.get("architecture", "?"), "+".join(e.get("channels", [])), ",".join(e.get("classes", [])),
                  _pct(val), _pct(test), e.get("description", ""))
    console.print(t)


def _pct(v: object) -> str:
    return f"{100 * v:.2f} %" if isinstance(v, (int, float)) else ""


@app.command("info")
@handle_errors
def info_command(
    name: str = typer.Argument(..., help="An architecture name, a pretrained model name or a bundle folder/card."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Parameters of an architecture, or the card of a model (bundle or pretrained)."""
    from ebsdphase.models import domain
    from ebsdphase.models.bundle import load_bundle
    from ebsdphase.models.registry import architectures

    arch = architectures().get(name)
    if arch is not None:
        info = {"architecture": arch.name, "package": arch.package, "description": arch.description,
                "multiple": arch.multiple(),
                "params": {k: {"default": p.default, "help": p.help,
                               **({"choices": list(p.choices)} if p.choices else {})}
                           for k, p in arch.params.items()}}
        if as_json:
            typer.echo(json.dumps(info, indent=2))
            return
        console.print(f"[bold]{arch.name}[/] from {arch.package}: {arch.description}")
        console.print(f"map sizes: multiples of {arch.multiple()} with the defaults")
        t = Table(title="Parameters (--param NAME=VALUE)", title_justify="left")
        for col in ("name", "default", "choices", "help"):
            t.add_column(col)
        for k, p in arch.params.items():
            t.add_row(k, str(p.default), ", ".join(map(str, p.choices)) if p.choices else "", p.help)
        console.print(t)
        return

    summary = load_bundle(name).summary()
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    for key in ("name", "folder", "architecture"):
        head.add_row(key, str(summary[key]))
    head.add_row("params", " ".join(f"{k}={v}" for k, v in summary["params"].items()))
    head.add_row("channels", ", ".join(summary["channels"]))
    head.add_row("classes", ", ".join(summary["classes"]))
    if summary.get("fill_unindexed"):
        head.add_row("non-indexed", "filled from the nearest indexed pixel before the model sees the map "
                     "(nearest-neighbour clean-up, as AZtec/OIM do): the answer does not hinge on where "
                     "indexing failed")
    for i, (k, (lo, hi)) in enumerate((summary.get("training_ranges") or {}).items()):
        what, span = domain.describe_range(k, lo, hi)
        head.add_row("trained on" if i == 0 else "", f"{what}: {span}")
    if summary.get("finest_step_um"):
        head.add_row("sub-lattices", f"maps finer than {summary['finest_step_um']:g} um are predicted on "
                     "sub-lattices at a coarser step")
    if summary.get("min_extent_um"):
        head.add_row("smallest map", f"{summary['min_extent_um']:g} um field of view; smaller maps (crops) are "
                     "predicted with a warning")
    if summary.get("smooth"):
        head.add_row("smoothing", {"soft": "each pixel's probabilities averaged half and half with its grain's "
                                           "mean (predict --smooth none: pixel answers)",
                                   "grains": "each grain one phase (predict --smooth none: pixel answers)"}
                     [summary["smooth"]])
    for k, v in summary["metrics"].items():
        if isinstance(v, dict):  # a table of its own (held-out test, validation): --json shows it
            head.add_row(k, "see --json")
            continue
        head.add_row(k, f"{v:.4g}" if isinstance(v, float) else str(v))
    for k in ("dataset", "epoch", "optimizer", "keras_backend"):
        if k in summary["provenance"]:
            head.add_row(k, str(summary["provenance"][k]))
    console.print(head)
