"""The Typer application. Each command lives in its own module and is registered here."""

from __future__ import annotations

import typer

from ebsdphase import __version__
from ebsdphase.cli import info
from ebsdphase.cli import label as label_cmd
from ebsdphase.cli import prepare as prepare_cmd
from ebsdphase.cli import predict as predict_cmd
from ebsdphase.cli import evaluate as evaluate_cmd
from ebsdphase.cli import compare as compare_cmd
from ebsdphase.cli import train as train_cmd
from ebsdphase.cli import models as models_cmd
from ebsdphase.cli import synth as synth_cmd

app = typer.Typer(
    name="ebsdphase",
    help="Phase maps (ferrite, martensite, ...) from EBSD maps with a U-Net.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ebsdphase {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Phase maps (ferrite, martensite, ...) from EBSD maps with a U-Net."""


# -- commands (one line each; keep this list in workflow order) ---------------------------
app.command("info")(info.command)
app.command("synth")(synth_cmd.command)
app.command("label")(label_cmd.command)
app.command("prepare")(prepare_cmd.command)
app.command("train")(train_cmd.command)
app.command("predict")(predict_cmd.command)
app.command("evaluate")(evaluate_cmd.command)
app.command("compare")(compare_cmd.command)
app.add_typer(models_cmd.app, name="models")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
