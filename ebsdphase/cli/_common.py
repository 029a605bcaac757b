"""What every command shares: the consoles, one-line errors and warnings."""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, Mapping, Sequence, TypeVar

import typer
from rich import box
from rich.table import Table
from rich.console import Console

from ebsdphase.core.errors import EbsdphaseError, EbsdphaseWarning
from ebsdphase.core.text import percent, short_name  # noqa: F401 - re-exported for the commands
from ebsdphase.core.report import EXIT_BAD_INPUT, EXIT_OK, EXIT_PARTIAL  # noqa: F401 - re-exported for the commands

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def progress_bar(total: int, description: str):
    """The rich progress bar of every multi-map command (a ``core.report.ProgressFactory``),
    on stderr so that tables on stdout stay clean; transient."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return _Bar(Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                         TimeElapsedColumn(), console=err_console, transient=True), total, description)


class _Bar:
    def __init__(self, progress, total: int, description: str):
        self._p, self._total, self._description = progress, total, description

    def __enter__(self):
        if self._total > 0:
            self._p.__enter__()
            self._task = self._p.add_task(self._description, total=self._total)
        return self

    def advance(self, n: int = 1) -> None:
        if self._total > 0:
            self._p.advance(self._task, n)

    def __exit__(self, *exc):
        if self._total > 0:
            self._p.__exit__(*exc)
        return False


def error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {message}", markup=True, highlight=False, soft_wrap=True)


def warn_one_class(name: str) -> None:
    """The warning for a method or map whose prediction is one class on every labelled pixel."""
    warn(f"{name}: one class predicted on every labelled pixel; its CA says nothing about the "
         "phases (balanced accuracy and kappa do)")


def name_width(other_columns: list[str], minimum: int = 12, rows: Sequence[Sequence[str]] = (),
               gap: int = 3, edges: int = 4) -> int:
    """How wide the map-name column may be so the table fits the terminal: the width left
    after the other columns (each as wide as its header's longest line or its widest cell
    in ``rows``, kept whole), ``gap`` characters between columns and ``edges`` for the
    borders (rich's default box: 3 and 4; :func:`narrow_table`: 2 and 0)."""
    widths = [max(len(line) for line in h.split("\n")) for h in other_columns]
    for row in rows:
        widths = [max(w, len(str(c))) for w, c in zip(widths, row)]
    used = sum(w + gap for w in widths) + edges
    return max(minimum, console.width - used)


def narrow_table(title: str) -> Table:
    """A table with a rule under the header and two spaces between columns, no side
    borders: the most columns an 80-column terminal can show (``name_width(gap=2, edges=0)``)."""
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                 collapse_padding=True)


def finish_report(failed: Mapping[str, str], message: str, *, nothing_done: bool = False) -> None:
    """The end of every multi-map command: one red line per failed map (naming it and
    why), ``message``, and the exit code: 0 when nothing failed, 3 when some maps failed
    and the others finished, 2 when ``nothing_done`` (every map failed)."""
    for name, why in failed.items():
        error(why if str(name) in why else f"{name}: {why}")
    console.print(message)
    if failed:
        raise typer.Exit(EXIT_BAD_INPUT if nothing_done else EXIT_PARTIAL)


def output_option(help: str):  # noqa: A002 - typer's name
    """``--output/-o``, the output of every command."""
    return typer.Option(None, "--output", "-o", help=help)


#: ``--out``: the spelling of 0.1.0 for prepare and train, accepted for a release, hidden
OUT_ALIAS = typer.Option(None, "--out", hidden=True)


def pick_output(output, out_alias):  # noqa: ANN001, ANN201
    """The output path given as --output/-o (or the old --out); a clear error when none."""
    if output is not None and out_alias is not None and output != out_alias:
        raise EbsdphaseError(f"--output {output} and --out {out_alias} disagree; give --output only")
    chosen = output if output is not None else out_alias
    if chosen is None:
        raise EbsdphaseError("missing option --output / -o")
    if out_alias is not None:
        warn("--out is now --output (-o); --out will go in a later release")
    return chosen


#: library parameter names that the commands spell differently
LIBRARY_NAMES = {"batch_size": "batch", "learning_rate": "lr", "labels_dir": "labels", "from_labels": "from",
                 "keep_pixels_above": "keep_above", "out_dir": "output", "out": "output"}


def _flags_of(func: Callable[..., Any]) -> dict[str, str]:
    """{python parameter name: its long flag} of a Typer command, plus the library's names."""
    import inspect

    flags: dict[str, str] = {}
    for name, p in inspect.signature(func).parameters.items():
        decls = [d for d in (getattr(p.default, "param_decls", None) or ()) if d.startswith("--")]
        if decls:
            flags[name] = decls[0].split("/")[0]
    for lib, cli in LIBRARY_NAMES.items():
        if cli in flags:
            flags.setdefault(lib, flags[cli])
    return flags


def as_flags(message: str, flags: Mapping[str, str]) -> str:
    """'tile=8 is ...' -> '--tile 8 is ...', 'resume=True' -> '--resume', for the command's
    own parameters only (other ``name=`` text is left alone)."""
    import re

    def sub(m: "re.Match[str]") -> str:
        flag = flags.get(m.group(1))
        if flag is None:
            return m.group(0)
        return flag if m.group(2) else flag + " "

    out = re.sub(r"(?<![\w.-])([a-z_]+)=(True\b)?", sub, message)
    return re.sub(r"(--[\w-]+) (?=[\s,.;:)]|$)", r"\1", out)  # 'name= is' -> '--name is'



def handle_errors(func: F) -> F:
    """Turn library errors into one red line and exit code 2; warnings into yellow lines.
    Parameter names in library messages (``tile=8``) become the command's flags
    (``--tile 8``)."""
    flags = _flags_of(func)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            # Users see our own warnings (documented recoveries), not the deprecation
            # chatter of the libraries underneath.
            warnings.simplefilter("ignore")
            warnings.simplefilter("default", EbsdphaseWarning)
            warnings.showwarning = lambda message, *a, **k: warn(as_flags(str(message), flags))
            try:
                return func(*args, **kwargs)
            except EbsdphaseError as exc:
                error(as_flags(str(exc), flags))
                raise typer.Exit(EXIT_BAD_INPUT) from None

    return wrapper  # type: ignore[return-value]
