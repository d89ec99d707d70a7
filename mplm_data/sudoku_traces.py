"""Shard task that writes Sudoku traces: each generated puzzle rendered in one or more formats.

`SudokuTraceTask` wraps a `SudokuPuzzleTask`. Item i is the same puzzle that the puzzle task makes
for item i, and it yields one row per format (in the order of `formats`), with the columns of
`mplm_data.traces.storage.traces_schema()`. The rows join with puzzle rows on (seed, index).

MPLM decompositions express only some techniques (`max_technique(decomposition)`). Without
hypothesis threads, puzzles are therefore filtered: `solvable_by` defaults to the hardest
technique the decomposition expresses, and a harder `solvable_by` is rejected. With hypothesis
threads, guesses become threads that are preempted on a contradiction, so any puzzle whose guess
count fits `max_hypotheses` can be rendered.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pyarrow as pa

from mplm_data.generators.errors import MplmDataError
from mplm_data.sudoku_rows import SudokuPuzzleTask, parse_technique
from mplm_data.traces.storage import TRACE_VERSION, trace_record, traces_schema, traces_table
from mplm_data.traces.sudoku import FORMATS
from mplm_data.traces.sudoku_mplm import MAX_HYPOTHESES
from mplm_data.traces.sudoku_words import DECOMPOSITIONS, NotExpressibleError, max_technique
from mplm_data.traces.tokenizer import TraceTokenizer, load_tokenizer


@lru_cache(maxsize=8)
def _tokenizer(spec: str | None) -> TraceTokenizer:
    return load_tokenizer(spec)


def parse_formats(text: str) -> tuple[str, ...]:
    """Parse `mplm`, `fj`, `cot`, `all` or a comma-separated list into a tuple of formats."""
    if text == "all":
        return FORMATS
    formats = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"format {text!r} is invalid; use all or a comma-separated list of "
                         f"{', '.join(FORMATS)}")
    return formats


@dataclass(frozen=True)
class SudokuTraceTask:
    """Shard task: generated puzzles rendered as traces, one row per (puzzle, format)."""

    puzzles: SudokuPuzzleTask
    formats: tuple[str, ...] = ("mplm",)
    decomposition: str = "cell"
    hypotheses: bool = False
    max_hypotheses: int = MAX_HYPOTHESES
    tokenizer: str | None = None
    name: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "formats", tuple(self.formats))
        for fmt in self.formats:
            if fmt not in FORMATS:
                raise ValueError(f"formats: {fmt!r} is unknown; use {', '.join(FORMATS)}")
        if not self.formats:
            raise ValueError("formats must name at least one of " + ", ".join(FORMATS))
        if self.decomposition not in DECOMPOSITIONS:
            raise ValueError(f"decomposition must be one of {', '.join(DECOMPOSITIONS)}, got "
                             f"{self.decomposition!r}")
        if not isinstance(self.max_hypotheses, int) or self.max_hypotheses < 1:
            raise ValueError(f"max_hypotheses must be a positive integer, got {self.max_hypotheses!r}")

        # Without hypothesis threads the MPLM trace exists only for puzzles that the chosen
        # decomposition can solve, so the generator filters by that technique.
        if "mplm" in self.formats and not self.hypotheses:
            limit = max_technique(self.decomposition)
            chosen = self.puzzles.solvable_by
            if chosen is None:
                object.__setattr__(self, "puzzles",
                                   dataclasses.replace(self.puzzles, solvable_by=limit))
            elif parse_technique(chosen.label) > limit:
                raise ValueError(
                    f"solvable_by {chosen.label!r} is harder than the {self.decomposition!r} "
                    f"decomposition expresses ({limit.label}); pass --hypotheses, or lower "
                    f"--solvable-by to {limit.label}")
        object.__setattr__(self, "name", f"{self.puzzles.name}-traces")

    @property
    def geometry(self):
        """Grid geometry of every item."""
        return self.puzzles.geometry

    def schema(self) -> pa.Schema:
        """Row schema of every shard."""
        return traces_schema()

    def config(self) -> dict[str, Any]:
        """Settings that fix the rows, JSON-able, for the manifest and provenance."""
        return {**self.puzzles.config(), "formats": list(self.formats),
                "decomposition": self.decomposition, "hypotheses": self.hypotheses,
                "max_hypotheses": self.max_hypotheses,
                "tokenizer": _tokenizer(self.tokenizer).ident, "trace_version": TRACE_VERSION}

    def rows(self, seed: int, start: int, stop: int) -> pa.Table:
        """Render the traces of items start..stop-1 of base `seed`, one row per format."""
        tokenizer = _tokenizer(self.tokenizer)
        records = []
        for index in range(start, stop):
            _, derivation = self.puzzles.generate_item(seed, index)
            for fmt in self.formats:
                try:
                    records.append(trace_record(
                        derivation, fmt, tokenizer, decomposition=self.decomposition,
                        hypotheses=self.hypotheses, max_hypotheses=self.max_hypotheses,
                        seed=seed, index=index))
                except NotExpressibleError as err:
                    raise MplmDataError(
                        f"item {index} of seed {seed}: {err}; raise --max-hypotheses or bound "
                        f"the guesses with --max-grade guess+K") from err
        return traces_table(records)

