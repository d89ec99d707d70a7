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

The SAT and QA trace rows (`mplm_data.sat_rows`, `mplm_data.qa_rows`) use the same trace
columns: `COST_FIELDS` and `TRACE_FIELD` in their schemas, `rendered_columns` to fill them, and
`row_costs`, `row_tokenizer`, `validate_row` and `read_trace_rows` to read and check them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pyarrow as pa

from mplm_data.arrow_io import read_table, write_table
from mplm_data.generators.errors import InputError, MplmDataError
from mplm_data.generators.sudoku_geometry import Geometry, grid_to_text, text_to_grid
from mplm_data.solvers.sudoku_derivation import Derivation
from .model import Trace
from .schedule import COST_NAMES, Costs
from .sudoku import RenderedTrace, hypothesis_count, render_trace
from .sudoku_mplm import MAX_HYPOTHESES
from .text import parse_thread, thread_text
from .tokenizer import TraceTokenizer, project_tokenizer
from .validate import AnswerCheck, validate

TRACE_VERSION = 1

THREAD_TYPE = pa.struct([
    pa.field("name", pa.large_string(), nullable=False),
    pa.field("parent", pa.large_string(), nullable=True),
    pa.field("text", pa.large_string(), nullable=False),
    pa.field("context_tokens", pa.int64(), nullable=False),
    pa.field("generated_tokens", pa.int64(), nullable=False),
])

# The six cost columns, in `COST_NAMES` order. Only `mean_context_tokens` is a float.
COST_FIELDS = tuple(
    pa.field(name, pa.float64() if name == "mean_context_tokens" else pa.int64(), nullable=False)
    for name in COST_NAMES)
TRACE_FIELD = pa.field("trace", pa.large_list(pa.field("item", THREAD_TYPE, nullable=False)),
                       nullable=False)

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
    *COST_FIELDS,
    TRACE_FIELD,
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
    return TraceRecord(rendered.trace, rendered.costs, derivation.geometry, derivation.puzzle,
                       derivation.solution, str(derivation.grade), tokenizer.ident,
                       _thread_tokens(rendered), seed, index)


def _thread_tokens(rendered: RenderedTrace) -> tuple[tuple[int, int], ...]:
    return tuple((run.context_tokens, run.generated_tokens) for run in rendered.schedule.runs)


def trace_items(trace: Trace, thread_tokens: Iterable[tuple[int, int]]) -> list[dict[str, Any]]:
    """Build the `trace` value of one row from the threads and their (context, generated) tokens."""
    return [{"name": thread.name, "parent": thread.parent, "text": thread_text(thread),
             "context_tokens": context, "generated_tokens": generated}
            for thread, (context, generated) in zip(trace.threads, thread_tokens)]


def rendered_columns(rendered: RenderedTrace, tokenizer: TraceTokenizer) -> dict[str, Any]:
    """Build the `decomposition`, `tokenizer`, cost and `trace` values of a rendered trace's row."""
    return {"decomposition": rendered.trace.decomposition, "tokenizer": tokenizer.ident,
            **rendered.costs.as_dict(),
            "trace": trace_items(rendered.trace, _thread_tokens(rendered))}


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
        columns["trace"].append(trace_items(record.trace, record.thread_tokens))
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


def row_costs(row: dict[str, Any]) -> Costs:
    """Return the costs recorded in a row."""
    return Costs(**{name: row[name] for name in COST_NAMES})


def row_tokenizer(row: dict[str, Any], tokenizer: TraceTokenizer | None = None) -> TraceTokenizer:
    """Check that the row was counted in `tokenizer` (None: the project tokenizer) and return it.

    Raises MplmDataError for another tokenizer.
    """
    tokenizer = tokenizer or project_tokenizer()
    if tokenizer.ident != row["tokenizer"]:
        raise MplmDataError(f"the row was counted in tokenizer {row['tokenizer']}, not "
                            f"{tokenizer.ident}; pass the tokenizer it was generated with")
    return tokenizer


def validate_row(row: dict[str, Any], tokenizer: TraceTokenizer, answer_check: AnswerCheck,
                 name: str) -> Costs:
    """Validate a row's trace and return the costs the validator measures.

    `name` identifies the row in the error message, such as `row 3`. Raises TraceError for an
    invalid trace and MplmDataError when the measured costs differ from the recorded ones.
    """
    trace = row_trace(row, tokenizer)
    costs = validate(trace, tokenizer=tokenizer, answer_check=answer_check).costs
    recorded = row_costs(row)
    if costs != recorded:
        raise MplmDataError(f"{name} ({row['format']}): the validator measures {costs}, but the "
                            f"row records {recorded}")
    return costs


def read_trace_rows(path: str | Path, schema: pa.Schema, description: str,
                    command: str) -> list[dict[str, Any]]:
    """Read every row of one trace file (`.arrow` or `.parquet`) as dicts.

    Raises InputError naming `description` (such as `QA trace`) and the `command` that writes such
    files when a column of `schema` is missing.
    """
    table = read_table(path)
    missing = [name for name in schema.names if name not in table.schema.names]
    if missing:
        raise InputError(f"not a {description} file: it lacks the columns {', '.join(missing)}; "
                         f"write it with `{command}`", path=path)
    return table.to_pylist()


def row_record(row: dict[str, Any], tokenizer: TraceTokenizer | None = None) -> TraceRecord:
    """Rebuild a TraceRecord from one row."""
    geometry = Geometry(row["n"], row["box_rows"], row["box_cols"])
    thread_tokens = tuple((item["context_tokens"], item["generated_tokens"]) for item in row["trace"])
    return TraceRecord(row_trace(row, tokenizer), row_costs(row), geometry,
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
