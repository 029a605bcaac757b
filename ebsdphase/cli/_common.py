"""What every command shares: the consoles, one-line errors and warnings."""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, Mapping, TypeVar

import typer
from rich.console import Console

from ebsdphase.core.errors import EbsdphaseError, EbsdphaseWarning

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

#: exit code for bad input (a file that cannot be read, a bad option value)
EXIT_BAD_INPUT = 2
#: exit code for a folder run where some inputs failed and the rest finished
EXIT_PARTIAL = 3


def error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {message}", markup=True, highlight=False, soft_wrap=True)


def percent(v: float | None, digits: int = 2) -> str:
    """A fraction as a percentage for the tables; '-' where there is none (None or NaN)."""
    return "-" if v is None or v != v else f"{100 * v:.{digits}f}"


def finish_report(skipped: Mapping[str, str], message: str) -> None:
    """Warn about each skipped map, print ``message`` and exit with EXIT_PARTIAL when a map
    was skipped."""
    for stem, why in skipped.items():
        warn(f"skipped {stem}: {why}")
    console.print(message)
    if skipped:
        raise typer.Exit(EXIT_PARTIAL)


def _showwarning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
    warn(str(message))


def handle_errors(func: F) -> F:
    """Turn library errors into one red line and exit code 2; warnings into yellow lines."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            # Users see our own warnings (documented recoveries), not the deprecation
            # chatter of the libraries underneath.
            warnings.simplefilter("ignore")
            warnings.simplefilter("default", EbsdphaseWarning)
            warnings.showwarning = _showwarning
            try:
                return func(*args, **kwargs)
            except EbsdphaseError as exc:
                error(str(exc))
                raise typer.Exit(EXIT_BAD_INPUT) from None

    return wrapper  # type: ignore[return-value]
