"""What a multi-map run reports, in one vocabulary for every stage: each map done, up to
date or failed (with a one-line reason), the exit code that follows, and a progress hook.

The stages report through these types; only ``cli/`` turns them into tables, bars and
exit statuses, so the library never draws on a terminal itself.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable, ContextManager, Iterator, Protocol

#: every map done (or up to date)
EXIT_OK = 0
#: bad input or options: nothing was done (a file that cannot be read, a bad value)
EXIT_BAD_INPUT = 2
#: a multi-map run where some maps failed and the others finished
EXIT_PARTIAL = 3


class Progress(Protocol):
    def advance(self, n: int = 1) -> None: ...


#: ``progress(total, description)`` -> a context manager yielding a :class:`Progress`
ProgressFactory = Callable[[int, str], ContextManager[Progress]]


class _Silent:
    def advance(self, n: int = 1) -> None:
        pass


@contextlib.contextmanager
def no_progress(total: int, description: str) -> Iterator[Progress]:
    """The progress hook of library calls: nothing is drawn."""
    yield _Silent()


@dataclass
class RunReport:
    """Per-map outcome of a multi-map run, in input order."""

    done: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # map -> one-line reason

    @property
    def exit_code(self) -> int:
        return EXIT_PARTIAL if self.failed else EXIT_OK
