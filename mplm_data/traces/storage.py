"""Arrow rows of traces: one row per (instance, format, decomposition), threads nested.

A row holds a whole trace because the trace is the unit that is validated, scheduled and costed:
its threads only make sense together (messages cross them, and the schedule that orders the
deliveries spans them all). Training rows with one sequence per thread are derived from it.

Columns (`traces_schema()`):

| column | type | meaning |
|---|---|---|
| task | large_string | `sudoku` |
| seed, index | int64, nullable | instance ids; they join with the puzzle rows of `gen sudoku` |
| n, box_rows, box_cols | int32 | grid shape |
| puzzle, solution | large_string | canonical grid text (`.` for a blank) |
| grade | large_string | measured difficulty of the derivation, such as `hidden_single` |
| format | large_string | `mplm`, `fj` or `cot` |
| decomposition | large_string | `cell`, `box`, `unit` (MPLM), `box` (FJ workers), `single` (CoT) |
| hypotheses | int32 | number of hypothesis threads (MPLM only, else 0) |
| tokenizer | large_string | tokenizer the costs are counted in, `name@digest` |
| threads, messages, max_context_tokens, total_tokens, critical_path_steps | int64 | costs |
| mean_context_tokens | float64 | cost |
| trace | large_list<struct> | the threads, in trace order: `name`, `parent` (null for a root), `text` (the thread's canonical text), `context_tokens`, `generated_tokens` |

The schema metadata holds the provenance JSON (see `mplm_data.arrow_io`), including
`trace_version`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pyarrow as pa

from mplm_data.arrow_io import read_table, write_table
from mplm_data.generators.errors import InputError
from mplm_data.generators.sudoku_geometry import Geometry, grid_to_text, text_to_grid
from mplm_data.solvers.sudoku_derivation import Derivation
from .model import Trace
from .schedule import COST_NAMES, Costs
from .sudoku import hypothesis_count, render_trace
from .sudoku_mplm import MAX_HYPOTHESES
from .text import parse_thread, thread_text
from .tokenizer import TraceTokenizer, project_tokenizer

TRACE_VERSION = 1

THREAD_TYPE = pa.struct([
    pa.field("name", pa.large_string(), nullable=False),
    pa.field("parent", pa.large_string(), nullable=True),
    pa.field("text", pa.large_string(), nullable=False),
    pa.field("context_tokens", pa.int64(), nullable=False),
    pa.field("generated_tokens", pa.int64(), nullable=False),
])

_SCHEMA = pa.schema([
    pa.field("task", pa.large_string(), nullable=False),
    pa.field("seed", pa.int64(), nullable=True),
    pa.field("index", pa.int64(), nullable=True),
    pa.field("n", pa.int32(), nullable=False),
    pa.field("box_rows", pa.int32(), nullable=False),
    pa.field("box_cols", pa.int32(), nullable=False),
    pa.field("puzzle", pa.large_string(), nullable=False),
    pa.field("solution", pa.large_string(), nullable=False),
    pa.field("grade", pa.large_string(), nullable=False),
    pa.field("format", pa.large_string(), nullable=False),
    pa.field("decomposition", pa.large_string(), nullable=False),
    pa.field("hypotheses", pa.int32(), nullable=False),
    pa.field("tokenizer", pa.large_string(), nullable=False),
    pa.field("threads", pa.int64(), nullable=False),
    pa.field("messages", pa.int64(), nullable=False),
    pa.field("max_context_tokens", pa.int64(), nullable=False),
    pa.field("mean_context_tokens", pa.float64(), nullable=False),
    pa.field("total_tokens", pa.int64(), nullable=False),
    pa.field("critical_path_steps", pa.int64(), nullable=False),
    pa.field("trace", pa.large_list(pa.field("item", THREAD_TYPE, nullable=False)), nullable=False),
])


def traces_schema() -> pa.Schema:
    """Return the Arrow schema of trace rows (see the module docstring)."""
    return _SCHEMA


@dataclass(frozen=True)
class TraceRecord:
    """One trace row: the instance, the trace, its costs and per-thread token counts."""

    trace: Trace
    costs: Costs
    geometry: Geometry
    puzzle: np.ndarray
    solution: np.ndarray
    grade: str
    tokenizer: str
    thread_tokens: tuple[tuple[int, int], ...]
    seed: int | None = None
    index: int | None = None

    @property
    def hypotheses(self) -> int:
        """Number of hypothesis threads in the trace."""
        return hypothesis_count(self.trace)


def trace_record(derivation: Derivation, fmt: str, tokenizer: TraceTokenizer | None = None, *,
                 decomposition: str = "cell", hypotheses: bool = False,
                 max_hypotheses: int = MAX_HYPOTHESES, seed: int | None = None,
                 index: int | None = None) -> TraceRecord:
    """Render one derivation in one format and package it as a row (see `render_trace`)."""
    tokenizer = tokenizer or project_tokenizer()
    rendered = render_trace(derivation, fmt, tokenizer, decomposition=decomposition,
                            hypotheses=hypotheses, max_hypotheses=max_hypotheses)
    thread_tokens = tuple((run.context_tokens, run.generated_tokens) for run in rendered.schedule.runs)
    return TraceRecord(rendered.trace, rendered.costs, derivation.geometry, derivation.puzzle,
                       derivation.solution, str(derivation.grade), tokenizer.ident, thread_tokens,
                       seed, index)


def traces_table(records: Iterable[TraceRecord]) -> pa.Table:
    """Rows of `traces_schema()` for the records, in order."""
    columns: dict[str, list[Any]] = {field.name: [] for field in _SCHEMA}
    for record in records:
        geometry = record.geometry
        columns["task"].append(record.trace.task)
        columns["seed"].append(record.seed)
        columns["index"].append(record.index)
        columns["n"].append(geometry.n)
        columns["box_rows"].append(geometry.box_rows)
        columns["box_cols"].append(geometry.box_cols)
        columns["puzzle"].append(grid_to_text(record.puzzle))
        columns["solution"].append(grid_to_text(record.solution))
        columns["grade"].append(record.grade)
        columns["format"].append(record.trace.format)
        columns["decomposition"].append(record.trace.decomposition)
        columns["hypotheses"].append(record.hypotheses)
        columns["tokenizer"].append(record.tokenizer)
        for name in COST_NAMES:
            columns[name].append(getattr(record.costs, name))
        columns["trace"].append([
            {"name": thread.name, "parent": thread.parent, "text": thread_text(thread),
             "context_tokens": context, "generated_tokens": generated}
            for thread, (context, generated) in zip(record.trace.threads, record.thread_tokens)])
    return pa.Table.from_pydict(columns, schema=_SCHEMA)


def write_traces(path: str | Path, records: Iterable[TraceRecord], *,
                 provenance: dict[str, Any] | None = None) -> int:
    """Write records atomically to `.arrow` or `.parquet`; return the row count."""
    table = traces_table(records)
    record = {"kind": "traces", "trace_version": TRACE_VERSION, **(provenance or {})}
    return write_table(path, table, provenance=record)


def row_trace(row: dict[str, Any], tokenizer: TraceTokenizer | None = None) -> Trace:
    """Parse the trace of one row (a dict as `Table.to_pylist()` gives it)."""
    threads = tuple(parse_thread(item["name"], item["text"], parent=item["parent"], tokenizer=tokenizer)
                    for item in row["trace"])
    return Trace(row["task"], row["format"], row["decomposition"], threads)


def row_record(row: dict[str, Any], tokenizer: TraceTokenizer | None = None) -> TraceRecord:
    """Rebuild a TraceRecord from one row."""
    geometry = Geometry(row["n"], row["box_rows"], row["box_cols"])
    costs = Costs(**{name: row[name] for name in COST_NAMES})
    thread_tokens = tuple((item["context_tokens"], item["generated_tokens"]) for item in row["trace"])
    return TraceRecord(row_trace(row, tokenizer), costs, geometry,
                       text_to_grid(row["puzzle"], geometry), text_to_grid(row["solution"], geometry),
                       row["grade"], row["tokenizer"], thread_tokens, row["seed"], row["index"])


def read_traces(path: str | Path, tokenizer: TraceTokenizer | None = None) -> list[TraceRecord]:
    """Read every row of a trace file back into records; raises InputError for another schema."""
    table = read_table(path)
    missing = [name for name in _SCHEMA.names if name not in table.schema.names]
    if missing:
        raise InputError(f"{path} is not a trace file: it lacks the columns {', '.join(missing)}; "
                         f"write it with `gen sudoku --format ...`")
    return [row_record(row, tokenizer) for row in table.to_pylist()]
