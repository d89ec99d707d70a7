"""Domain exceptions shared by every layer of the pipeline.

They live in the lowest layer so that generators, solvers and the library can all raise them
without an upward import.

All of them subclass `ValueError`, so callers that only know the standard library can still catch
them. The CLI prints `str(error)` as one line and exits non-zero without a traceback.
"""

from __future__ import annotations

from pathlib import Path


class MplmDataError(ValueError):
    """Base class for errors caused by bad input or configuration."""


class InputError(MplmDataError):
    """Invalid input data, located by file and line when they are known.

    `str(error)` reads `path:line: message`, or just `message` when no location is known.
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line

        location = ""
        if self.path is not None and line is not None:
            location = f"{self.path}:{line}: "
        elif self.path is not None:
            location = f"{self.path}: "
        elif line is not None:
            location = f"line {line}: "
        super().__init__(f"{location}{message}")
