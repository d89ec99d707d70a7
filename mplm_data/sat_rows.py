"""Arrow rows of labelled 3-SAT formulas and their traces, and the shard tasks of `gen sat`.

`SatTask` generates k-SAT formulas (`mplm_data.generators.ksat`) and `SatFileTask` reads DIMACS
files; both label every formula with a checked python-sat result (`label_formula`) and measure
its difficulty with the traced DPLL solver. Without trace formats a task writes one row per
formula (`SAT_SCHEMA`). With formats it renders each formula in every format, validates the
trace (schedule and answer) and writes one row per (formula, format) (`SAT_TRACE_SCHEMA`).
Item i of base seed s is generated from `item_rng(s, i, attempt)`, so every row can be
regenerated alone; item i of a file task is file i.

Trace columns, after the `SAT_SCHEMA` columns. They follow the Sudoku trace rows
(`mplm_data.traces.storage`):

| column | type | meaning |
|---|---|---|
| task | large_string | `sat` |
| format | large_string | `mplm`, `fj` or `cot` |
| decomposition | large_string | `cube` (MPLM, FJ) or `single` (CoT) |
| depth | int32, nullable | requested split depth (null for CoT) |
| cube_variables | list<int32> | split variables actually used (fewer when propagation decides) |
| preempted_threads, cut_threads | int32 | threads a preemption stopped, and those it stopped before their result |
| tokenizer | large_string | `name@digest` of the tokenizer the costs are counted in |
| the six costs | int64 (`mean_context_tokens`: float64) | see `mplm_data.traces.schedule` |
| trace | large_list<struct> | the threads: `name`, `parent`, `text`, `context_tokens`, `generated_tokens` |
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from pysat.solvers import SolverNames

from mplm_data.generators.dimacs import (DimacsHeaderWarning, Formula, format_dimacs, parse_dimacs,
                                         read_dimacs)
from mplm_data.generators.errors import MplmDataError
from mplm_data.generators.ksat import (GENERATOR_VERSION, KsatConfig, KsatInstance, KsatKind,
                                       generate_ksat)
from mplm_data.shards import file_sha256
from mplm_data.solvers.dpll import MAX_CUBE_DEPTH, run_dpll
from mplm_data.solvers.sat_derivation import DpllResult
from mplm_data.solvers.sat_labels import Label, label_formula
from mplm_data.traces.sat import DEFAULT_DEPTH, render_sat_trace, sat_answer_check
from mplm_data.traces.sat_plan import DEFAULT_MAX_EVENTS, plan_cubes
from mplm_data.traces.sat_stats import cut_threads
from mplm_data.traces.schedule import Costs
from mplm_data.traces.storage import (COST_FIELDS, TRACE_FIELD, TRACE_VERSION, read_trace_rows,
                                      rendered_columns, row_costs, row_tokenizer, row_trace,
                                      validate_row)
from mplm_data.traces.sudoku import FORMATS
from mplm_data.traces.tokenizer import TraceTokenizer, cached_tokenizer
from mplm_data.traces.validate import validate

# Event budget of the untraced difficulty run of every row; past it the difficulty is null.
DPLL_MAX_EVENTS = 2_000_000

SAT_SCHEMA = pa.schema([
    pa.field("n_vars", pa.int32(), nullable=False),
    pa.field("n_clauses", pa.int32(), nullable=False),
    pa.field("clauses", pa.large_string(), nullable=False),  # DIMACS text with its header
    pa.field("label", pa.string(), nullable=False),  # SAT or UNSAT
    pa.field("model", pa.list_(pa.int32())),  # signed literals of variables 1..n_vars; SAT only
    pa.field("kind", pa.string(), nullable=False),  # uniform, planted, sr, or file
    pa.field("k", pa.int32()),  # clause width of uniform and planted formulas
    pa.field("seed", pa.int64()),  # base seed of generated rows
    pa.field("index", pa.int64(), nullable=False),  # item index, or position in --from
    pa.field("pair", pa.int64()),  # SR pair index
    pa.field("planted", pa.list_(pa.int32())),  # hidden assignment of planted formulas
    pa.field("source", pa.string()),  # input file of --from rows
    pa.field("generator_version", pa.string(), nullable=False),
    pa.field("label_solver", pa.string(), nullable=False),
    pa.field("proof_solver", pa.string()),  # solver whose DRUP proof certified UNSAT
    pa.field("proof_lemmas", pa.int32()),  # lemmas checked in that proof
    # Measured difficulty: null when DPLL did not finish within DPLL_MAX_EVENTS events.
    pa.field("dpll_decisions", pa.int64()),
    pa.field("dpll_conflicts", pa.int64()),
])

TRACE_FIELDS = (
    pa.field("task", pa.large_string(), nullable=False),
    pa.field("format", pa.large_string(), nullable=False),
    pa.field("decomposition", pa.large_string(), nullable=False),
    pa.field("depth", pa.int32(), nullable=True),
    pa.field("cube_variables", pa.list_(pa.int32()), nullable=False),
    pa.field("preempted_threads", pa.int32(), nullable=False),
    pa.field("cut_threads", pa.int32(), nullable=False),
    pa.field("tokenizer", pa.large_string(), nullable=False),
    *COST_FIELDS,
    TRACE_FIELD,
)
SAT_TRACE_SCHEMA = pa.schema([*SAT_SCHEMA, *TRACE_FIELDS])

# Task-named aliases of the shared row readers of `mplm_data.traces.storage`.
sat_row_costs = row_costs
sat_row_trace = row_trace


def sat_row(formula: Formula, label: Label, *, kind: str, index: int, k: int | None = None,
            seed: int | None = None, pair: int | None = None, planted: tuple[int, ...] | None = None,
            source: str | None = None) -> dict[str, Any]:
    """Build one `SAT_SCHEMA` row, running the traced DPLL solver to measure difficulty.

    Raises `MplmDataError` when DPLL and the python-sat label disagree.
    """
    record = run_dpll(formula, trace=False, max_events=DPLL_MAX_EVENTS)
    finished = record.result is not DpllResult.UNKNOWN
    if finished and int(record.result) != int(label.satisfiable):
        raise MplmDataError(f"DPLL reports {record.result.name} but {label.solver} reports "
                            f"{label.text} for item {index}; one of the solvers is faulty")
    return {
        "n_vars": formula.n_vars,
        "n_clauses": formula.n_clauses,
        "clauses": format_dimacs(formula),
        "label": label.text,
        "model": list(label.model) if label.model is not None else None,
        "kind": kind,
        "k": k,
        "seed": seed,
        "index": index,
        "pair": pair,
        "planted": list(planted) if planted is not None else None,
        "source": source,
        "generator_version": GENERATOR_VERSION,
        "label_solver": label.solver,
        "proof_solver": label.proof_solver,
        "proof_lemmas": label.proof_check.lemmas if label.proof_check is not None else None,
        "dpll_decisions": record.decisions if finished else None,
        "dpll_conflicts": record.conflicts if finished else None,
    }


def instance_row(instance: KsatInstance, config: KsatConfig, solver: str) -> dict[str, Any]:
    """Label a generated instance and build its row; raise `MplmDataError` when the label
    contradicts what the construction established (planted, SR or balanced labels)."""
    label = label_formula(instance.formula, solver=solver)
    if instance.satisfiable is not None and instance.satisfiable != label.satisfiable:
        raise MplmDataError(f"item {instance.index} was built {'SAT' if instance.satisfiable else 'UNSAT'} "
                            f"but {solver} labels it {label.text}")
    k = config.k if config.kind is not KsatKind.SR else None
    return sat_row(instance.formula, label, kind=config.kind.value, index=instance.index, k=k,
                   seed=instance.seed, pair=instance.pair, planted=instance.planted)


def sat_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Build a `SAT_SCHEMA` table from rows."""
    return pa.Table.from_pylist(list(rows), schema=SAT_SCHEMA)


def sat_trace_rows(formula: Formula, row: dict[str, Any], formats: tuple[str, ...],
                   tokenizer: TraceTokenizer, *, depth: int = DEFAULT_DEPTH,
                   max_events: int = DEFAULT_MAX_EVENTS) -> list[dict[str, Any]]:
    """Render and validate `formula` in each format; return one `SAT_TRACE_SCHEMA` row per format.

    `row` is the formula's `SAT_SCHEMA` row, whose label the answer check compares with. Raises
    TraceError when a rendered trace fails validation, which is a renderer bug, never bad input.
    """
    check = sat_answer_check(formula, row["label"] == "SAT", tokenizer)
    plan = plan_cubes(formula, depth, max_events=max_events) if {"mplm", "fj"} & set(formats) else None

    rows = []
    for fmt in formats:
        rendered = render_sat_trace(formula, fmt, tokenizer, max_events=max_events, plan=plan)
        validate(rendered.trace, tokenizer=tokenizer, answer_check=check)
        rows.append({
            **row, "task": "sat", "format": fmt, "depth": None if fmt == "cot" else depth,
            "cube_variables": list(rendered.variables), "preempted_threads": rendered.preempted,
            "cut_threads": cut_threads(rendered.trace), **rendered_columns(rendered, tokenizer),
        })
    return rows


def _check_trace_settings(formats: tuple[str, ...], depth: int, max_events: int,
                          solver: str) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(formats))
    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if unknown:
        raise ValueError(f"formats must be a selection of {', '.join(FORMATS)}, got "
                         f"{', '.join(formats)}")
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_CUBE_DEPTH:
        raise ValueError(f"depth must be an integer in [1, {MAX_CUBE_DEPTH}], got {depth!r}")
    if isinstance(max_events, bool) or not isinstance(max_events, int) or max_events < 1:
        raise ValueError(f"max_events must be a positive integer, got {max_events!r}")
    if not hasattr(SolverNames, solver):
        raise ValueError(f"solver must be a python-sat solver name such as cadical153, glucose4 "
                         f"or minisat22, got {solver!r}")
    return formats


class _RowsMixin:
    """Shared row building of the two tasks: the formula row, then its trace rows."""

    formats: tuple[str, ...]
    tokenizer: str
    depth: int
    max_events: int

    def schema(self) -> pa.Schema:
        """Row schema of every shard: with trace columns when formats are set."""
        return SAT_TRACE_SCHEMA if self.formats else SAT_SCHEMA

    def _rows(self, formula: Formula, row: dict[str, Any]) -> list[dict[str, Any]]:
        if not self.formats:
            return [row]
        return sat_trace_rows(formula, row, self.formats, cached_tokenizer(self.tokenizer),
                              depth=self.depth, max_events=self.max_events)

    def _trace_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"formats": list(self.formats), "depth": self.depth,
                                  "tokenizer": self.tokenizer, "max_events": self.max_events}
        if self.formats:
            config["tokenizer_ident"] = cached_tokenizer(self.tokenizer).ident
            config["trace_version"] = TRACE_VERSION
        return config


@dataclass(frozen=True)
class SatTask(_RowsMixin):
    """Shard task: generated k-SAT formulas (fields of `KsatConfig`), labelled, with traces in
    `formats` (none: formula rows only).

    `solver` labels the formulas, `depth` is the MPLM and FJ split depth, `tokenizer` is
    `mplm-v1` or a local Hugging Face tokenizer folder, and `max_events` bounds the DPLL events
    of one trace thread. Raises ValueError for invalid settings.
    """

    kind: KsatKind = KsatKind.UNIFORM
    n_vars: int = 20
    k: int = 3
    ratio: float = 4.26
    n_clauses: int | None = None
    balance: bool = False
    solver: str = "cadical153"
    formats: tuple[str, ...] = ()
    depth: int = DEFAULT_DEPTH
    tokenizer: str = "mplm-v1"
    max_events: int = DEFAULT_MAX_EVENTS
    name: str = field(init=False)

    def __post_init__(self) -> None:
        config = self.ksat_config
        object.__setattr__(self, "kind", config.kind)
        object.__setattr__(self, "formats", _check_trace_settings(
            tuple(self.formats), self.depth, self.max_events, self.solver))
        object.__setattr__(self, "name", f"sat-{config.kind.value}-n{config.n_vars}")

    @property
    def ksat_config(self) -> KsatConfig:
        """Generator settings of every item."""
        return KsatConfig(kind=self.kind, n_vars=self.n_vars, k=self.k, ratio=self.ratio,
                          n_clauses=self.n_clauses, balance=self.balance, solver=self.solver)

    def config(self) -> dict[str, Any]:
        """Settings that fix the rows, JSON-able; the constructor fields come first, so
        `SatTask(**fields)` rebuilds the task."""
        return {"kind": self.kind.value, "n_vars": self.n_vars, "k": self.k, "ratio": self.ratio,
                "n_clauses": self.n_clauses, "balance": self.balance, "solver": self.solver,
                **self._trace_config(), "generator_version": GENERATOR_VERSION}

    def rows(self, seed: int, start: int, stop: int) -> pa.Table:
        """Generate, label and render items start..stop-1 of base `seed`."""
        config = self.ksat_config
        rows: list[dict[str, Any]] = []
        for index in range(start, stop):
            instance = generate_ksat(config, seed, index)
            rows += self._rows(instance.formula, instance_row(instance, config, self.solver))
        return pa.Table.from_pylist(rows, schema=self.schema())


@dataclass(frozen=True)
class SatFileTask(_RowsMixin):
    """Shard task: the formulas of DIMACS files (item i is file i), labelled, with traces.

    The seed is unused, because nothing is random. `strict` rejects files whose header disagrees
    with the clauses; without it such a file is read as `read_dimacs` documents.
    """

    paths: tuple[str, ...]
    strict: bool = False
    solver: str = "cadical153"
    formats: tuple[str, ...] = ()
    depth: int = DEFAULT_DEPTH
    tokenizer: str = "mplm-v1"
    max_events: int = DEFAULT_MAX_EVENTS
    name: str = field(init=False)

    def __post_init__(self) -> None:
        if not self.paths:
            raise ValueError("paths must name at least one DIMACS file, got none")
        object.__setattr__(self, "paths", tuple(str(path) for path in self.paths))
        object.__setattr__(self, "formats", _check_trace_settings(
            tuple(self.formats), self.depth, self.max_events, self.solver))
        object.__setattr__(self, "name", "sat-files")

    def read(self, index: int) -> Formula:
        """Read file `index`; header warnings are left to the caller (see `warnings`)."""
        return read_dimacs(self.paths[index], strict=self.strict)

    def config(self) -> dict[str, Any]:
        """Settings that fix the rows, JSON-able; the files' sha256 detects a changed file."""
        return {"paths": list(self.paths), "strict": self.strict, "solver": self.solver,
                **self._trace_config(), "sha256": [file_sha256(path) for path in self.paths],
                "generator_version": GENERATOR_VERSION}

    def rows(self, seed: int, start: int, stop: int) -> pa.Table:
        """Read, label and render files start..stop-1."""
        rows: list[dict[str, Any]] = []
        for index in range(start, stop):
            # The command reads every file before it starts and reports header warnings there.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DimacsHeaderWarning)
                formula = self.read(index)
            label = label_formula(formula, solver=self.solver)
            row = sat_row(formula, label, kind="file", index=index, source=self.paths[index])
            rows += self._rows(formula, row)
        return pa.Table.from_pylist(rows, schema=self.schema())


def validate_sat_row(row: dict[str, Any], tokenizer: TraceTokenizer | None = None) -> Costs:
    """Validate a trace row against its formula and label; return the costs the validator measures.

    `tokenizer` (the project tokenizer by default) must be the one the row was counted in.
    Raises TraceError for an invalid trace, and MplmDataError for another tokenizer or when the
    measured costs differ from the recorded ones.
    """
    tokenizer = row_tokenizer(row, tokenizer)
    formula = parse_dimacs(row["clauses"], source=f"row {row['index']} clauses", strict=True)
    check = sat_answer_check(formula, row["label"] == "SAT", tokenizer)
    return validate_row(row, tokenizer, check, f"row {row['index']}")


def read_sat_rows(path: str | Path) -> list[dict[str, Any]]:
    """Read every row of a SAT trace file (one shard, `.arrow` or `.parquet`) as dicts.

    Raises InputError when the file lacks SAT trace columns.
    """
    return read_trace_rows(path, SAT_TRACE_SCHEMA, "SAT trace", "mplm-data gen sat --format ...")
