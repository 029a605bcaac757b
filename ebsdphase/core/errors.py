"""Exceptions and warnings a user sees as one clear line."""

from __future__ import annotations

import os


class EbsdphaseError(Exception):
    """An error the CLI reports as one line (exit code 2), never as a traceback."""


class MapReadError(EbsdphaseError):
    """A map file that cannot be read: the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ImpossibleValues(EbsdphaseError):
    """Values no real map has (a negative step, NaN orientations, ...), found where the
    data enter; the reader boundary adds the file name."""


class EbsdphaseWarning(UserWarning):
    """A documented recovery (e.g. header/data size mismatch) the user should know about."""
