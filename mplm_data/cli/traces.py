"""Commands `mplm-data show`, `mplm-data validate` and `mplm-data stats` for trace files.

The `task` column of a trace row names its task: `sudoku` (`mplm_data.traces.storage`), `sat`
(`mplm_data.sat_rows`) or `qa` (`mplm_data.qa_rows`). Rows of every task have the columns task,
format, decomposition, tokenizer, the six costs and trace, and each task adds its instance
columns (`TASKS`).

`show` prints one trace for a person: the instance, then each thread in its own colour and every
message at both ends (the send lists where and when it was delivered, the delivery gives the
step it was sent in). `validate` checks every trace of a file against its task's answer and its
stored costs, and stops at the first invalid one. `stats --task sudoku|sat|qa` measures the costs
of every trace format over a sweep of instance sizes and fits their growth exponents.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console
from rich.table import Table

from mplm_data.arrow_io import read_table
from mplm_data.cli.app import app, fail
from mplm_data.cli.qa import run_qa_stats
from mplm_data.cli.sat import run_sat_stats
from mplm_data.cli.trace_view import print_trace
from mplm_data.generators.errors import InputError, MplmDataError
from mplm_data.generators.sudoku_geometry import Geometry, text_to_grid
from mplm_data.traces.schedule import COST_NAMES, Costs
from mplm_data.traces.storage import row_trace, traces_schema
from mplm_data.traces.sudoku import answer_check
from mplm_data.traces.tokenizer import TraceTokenizer, load_tokenizer
from mplm_data.traces.validate import schedule_trace, validate

stdout = Console()
stderr = Console(stderr=True)

TOKENIZER_HELP = ("Tokenizer the costs are counted in: 'mplm-v1' (the project tokenizer) or a "
                  "local Hugging Face tokenizer folder.")


# Columns of every trace row, whatever its task.
COMMON_COLUMNS: tuple[str, ...] = ("task", "format", "decomposition", "tokenizer", *COST_NAMES, "trace")


def _sudoku_columns() -> tuple[str, ...]:
    return tuple(traces_schema().names)


def _sat_columns() -> tuple[str, ...]:
    from mplm_data.sat_rows import SAT_TRACE_SCHEMA

    return tuple(SAT_TRACE_SCHEMA.names)


def _qa_columns() -> tuple[str, ...]:
    from mplm_data.qa_rows import QA_SCHEMA

    return tuple(QA_SCHEMA.names)


def _sudoku_header(row: dict) -> str:
    return f"{row['n']}x{row['n']}, grade {row['grade']}"


def _sat_header(row: dict) -> str:
    split = "no split" if row["depth"] is None else f"depth {row['depth']}"
    return f"{row['n_vars']} variables, {row['n_clauses']} clauses, {row['label']}, {split}"


def _qa_header(row: dict) -> str:
    return f"kind {row['kind']}, {row['hops']} hops, length {row['length']} tokens"


def _validate_sudoku(row: dict, tokenizer: TraceTokenizer) -> Costs:
    trace = row_trace(row, tokenizer)
    geometry = Geometry(row["n"], row["box_rows"], row["box_cols"])
    check = answer_check(text_to_grid(row["puzzle"], geometry),
                         text_to_grid(row["solution"], geometry), geometry, tokenizer)
    return validate(trace, tokenizer=tokenizer, answer_check=check).costs


def _validate_sat(row: dict, tokenizer: TraceTokenizer) -> Costs:
    from mplm_data.sat_rows import validate_sat_row

    return validate_sat_row(row, tokenizer)


def _validate_qa(row: dict, tokenizer: TraceTokenizer) -> Costs:
    from mplm_data.qa_rows import validate_qa_row

    return validate_qa_row(row, tokenizer)


@dataclass(frozen=True)
class TaskRows:
    """How `show` and `validate` read the rows of one task.

    `command` writes such rows, `columns` returns every column they have and `header` the
    instance fields that `show` prints. `validate` checks the trace and its answer, raising
    TraceError or MplmDataError, and returns the costs that the validator measures.
    """

    command: str
    columns: Callable[[], tuple[str, ...]]
    header: Callable[[dict], str]
    validate: Callable[[dict, TraceTokenizer], Costs]


TASKS: dict[str, TaskRows] = {
    "sudoku": TaskRows("gen sudoku --format", _sudoku_columns, _sudoku_header, _validate_sudoku),
    "sat": TaskRows("gen sat --format", _sat_columns, _sat_header, _validate_sat),
    "qa": TaskRows("gen qa", _qa_columns, _qa_header, _validate_qa),
}


def _load_rows(path: Path) -> list[dict]:
    """Read every row of a trace file; raise InputError for missing columns or an unknown task."""
    table = read_table(path)
    names = set(table.schema.names)
    missing = [name for name in COMMON_COLUMNS if name not in names]
    if missing:
        raise InputError(f"{path} is not a trace file: it lacks the columns {', '.join(missing)}; "
                         f"write one with gen sudoku --format, gen sat --format or gen qa")

    tasks = table.column("task").to_pylist()
    for task in dict.fromkeys(tasks):
        if task not in TASKS:
            raise InputError(f"row {tasks.index(task)} has task {task!r}, which is not one of "
                             f"{', '.join(TASKS)}; regenerate the file", path=path)
        lacking = [name for name in TASKS[task].columns() if name not in names]
        if lacking:
            raise InputError(f"rows of task {task} need the columns {', '.join(lacking)}; "
                             f"regenerate the file with {TASKS[task].command}", path=path)
    return table.to_pylist()


def _open(path: Path, tokenizer: Optional[str]) -> tuple[list[dict], TraceTokenizer]:
    """Read the rows of a trace file and load the tokenizer; exit with a one-line error on failure."""
    try:
        rows = _load_rows(path)
        counter = load_tokenizer(tokenizer)
    except MplmDataError as err:
        fail(str(err))
    return rows, counter


def _check_tokenizer(row: dict, tokenizer: TraceTokenizer) -> None:
    if row["tokenizer"] != tokenizer.ident:
        raise InputError(f"the traces were counted with tokenizer {row['tokenizer']}, but "
                         f"{tokenizer.ident} is loaded; pass that tokenizer with --tokenizer")


@app.command("show")
def show(
    file: Path = typer.Argument(..., help="Trace file (.arrow or .parquet) written by gen sudoku "
                                          "--format, gen sat --format or gen qa."),
    index: int = typer.Option(0, "--index", help="Row to show, from 0."),
    thread: Optional[str] = typer.Option(None, "--thread", help="Show only this thread, by name."),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help=TOKENIZER_HELP),
) -> None:
    """Print one trace: its instance, threads in colour, messages at both ends, steps on the left."""
    rows, counter = _open(file, tokenizer)
    if not 0 <= index < len(rows):
        fail(f"--index {index} is out of range; {file} has {len(rows)} rows (0..{len(rows) - 1})")
    row = rows[index]
    try:
        _check_tokenizer(row, counter)
    except InputError as err:
        fail(str(err))
    trace = row_trace(row, counter)
    if thread is not None and thread not in {t.name for t in trace.threads}:
        fail(f"--thread {thread} is not a thread of row {index}; threads are named like "
             f"{trace.threads[0].name}")
    title = (f"[bold]row {index}[/]: {row['task']} {row['format']}/{row['decomposition']}, "
             f"{TASKS[row['task']].header(row)}, tokenizer {row['tokenizer']}")
    print_trace(stdout, title, trace, schedule_trace(trace, counter), thread)


@app.command("validate")
def validate_file(
    file: Path = typer.Argument(..., help="Trace file (.arrow or .parquet) written by gen sudoku "
                                          "--format, gen sat --format or gen qa."),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help=TOKENIZER_HELP),
) -> None:
    """Check every trace (markup, messages, schedule, answer, stored costs); stop at the first error."""
    rows, counter = _open(file, tokenizer)
    for number, row in enumerate(rows):
        try:
            _check_tokenizer(row, counter)
            costs = TASKS[row["task"]].validate(row, counter)
        except ValueError as err:  # TraceError, MplmDataError, or a malformed instance column
            fail(f"row {number}: {err}")

        stored = {name: row[name] for name in COST_NAMES}
        if stored != costs.as_dict():
            wrong = next(name for name in COST_NAMES if stored[name] != getattr(costs, name))
            fail(f"row {number}: stored {wrong} is {stored[wrong]}, but the schedule gives "
                 f"{getattr(costs, wrong)}; regenerate the file")

    tasks = Counter(row["task"] for row in rows)
    breakdown = ", ".join(f"{count} {task}" for task, count in tasks.items())
    stdout.print(f"{len(rows)} traces valid in {file} ({breakdown})", highlight=False)


SUDOKU_FORMATS = "mplm,mplm-box,mplm-unit,fj,cot"
SWEEP_FORMATS = "mplm,fj,cot"

# Options of `stats` that one task reads: option -> (task, default). Given with another task,
# they are rejected rather than ignored.
TASK_OPTIONS: dict[str, tuple[str, Any]] = {
    "--sizes": ("sudoku", "4,9,16,25,36"),
    "--solvable-by": ("sudoku", "cell"),
    "--max-attempts": ("sudoku", 200),
    "--clue-fraction": ("sudoku", 0.65),
    "--vars": ("sat", "20,50,100"),
    "--ratios": ("sat", "3.5,4.26,5.0"),
    "--depths": ("sat", "2"),
    "--lengths": ("qa", "1024,2048,4096,8192"),
    "--hops": ("qa", "2,4"),
    "--kind": ("qa", "track"),
    "--chunk-tokens": ("qa", 256),
    "--distractors": ("qa", 4),
}


def _option(name: str, text: str, **kwargs: Any) -> Any:
    """Build a `stats` option of one task.

    Its default is None, so that `_task_options` can tell an explicit value from the default.
    """
    task, default = TASK_OPTIONS[name]
    return typer.Option(None, name, help=f"{task} only: {text} Default: {default}.", **kwargs)


def _task_options(task: str, given: dict[str, Any]) -> dict[str, Any]:
    """Return the options of `task` with their defaults filled in; fail on another task's options."""
    foreign = [f"{name} ({TASK_OPTIONS[name][0]})" for name, value in given.items()
               if value is not None and TASK_OPTIONS[name][0] != task]
    if foreign:
        fail(f"options of another task given with --task {task}: {', '.join(foreign)}; drop "
             f"{'it' if len(foreign) == 1 else 'them'}, or choose that task with --task")
    return {name: TASK_OPTIONS[name][1] if value is None else value
            for name, value in given.items() if TASK_OPTIONS[name][0] == task}


@app.command("stats")
def stats(
    task: str = typer.Option(
        "sudoku", "--task",
        help="Task to sweep: sudoku (over grid sizes), sat (over variables, clause ratios and "
             "split depths) or qa (over document lengths and hops)."),
    count: int = typer.Option(
        4, "--count", help="Instances per sweep point: puzzles per size (sudoku), formulas per "
                           "(variables, ratio) pair (sat), items per (length, hops) pair (qa)."),
    seed: int = typer.Option(0, "--seed", help="Base seed of the sample."),
    variants: Optional[str] = typer.Option(
        None, "--formats",
        help=f"Comma-separated trace formats. sudoku: mplm (cell threads), mplm-box, mplm-unit, "
             f"fj, cot (default: {SUDOKU_FORMATS}); sat and qa: mplm, fj, cot (default: all three)."),
    sizes: Optional[str] = _option("--sizes", "comma-separated grid sizes n."),
    solvable_by: Optional[str] = _option(
        "--solvable-by", "keep puzzles this MPLM decomposition expresses (cell or box: naked "
                         "singles; unit: hidden singles), so that every variant renders the same "
                         "puzzles."),
    max_attempts: Optional[int] = _option("--max-attempts", "puzzles drawn per item before giving up."),
    clue_fraction: Optional[float] = _option(
        "--clue-fraction", "clues per puzzle as a share of the cells, the same at every size; 0 "
                           "keeps the generator's default target."),
    n_values: Optional[str] = _option("--vars", "comma-separated variable counts of the uniform "
                                                "random 3-SAT formulas."),
    ratios: Optional[str] = _option("--ratios", "comma-separated clause-to-variable ratios."),
    depths: Optional[str] = _option("--depths", "comma-separated split depths of the mplm and fj "
                                                "traces (2^d cube threads each)."),
    lengths: Optional[str] = _option("--lengths", "comma-separated document lengths in tokens."),
    hops: Optional[str] = _option("--hops", "comma-separated chain lengths (facts per answer)."),
    kind: Optional[str] = _option("--kind", "question kind: track, lookup, count or sum."),
    chunk_tokens: Optional[int] = _option("--chunk-tokens", "tokens per chunk; a document of L "
                                                            "tokens gets L // chunk-tokens chunk "
                                                            "threads."),
    distractors: Optional[int] = _option("--distractors", "planted facts that are not on the chain."),
    as_json: bool = typer.Option(False, "--json", help="Print the means and exponents as JSON."),
    plot: Optional[Path] = typer.Option(
        None, "--plot", help="Save a log-log plot (PNG) of the mean max per-thread context against "
                             "grid size (sudoku), variables (sat, with MPLM's savings over FJ) or "
                             "document length (qa)."),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help=TOKENIZER_HELP),
) -> None:
    """Measure trace costs over a sweep of instance sizes and fit the growth of max per-thread context."""
    if task not in TASKS:
        fail(f"--task {task} is not supported; use {', '.join(TASKS)}")
    options = _task_options(task, {
        "--sizes": sizes, "--solvable-by": solvable_by, "--max-attempts": max_attempts,
        "--clue-fraction": clue_fraction, "--vars": n_values, "--ratios": ratios,
        "--depths": depths, "--lengths": lengths, "--hops": hops, "--kind": kind,
        "--chunk-tokens": chunk_tokens, "--distractors": distractors})
    try:
        counter = load_tokenizer(tokenizer)
    except MplmDataError as err:
        fail(str(err))

    if task == "sat":
        run_sat_stats(n_values=options["--vars"], ratios=options["--ratios"],
                      depths=options["--depths"], count=count, seed=seed, formats=variants,
                      tokenizer=counter, plot=plot, as_json=as_json)
    elif task == "qa":
        _check_qa_kind(options["--kind"])
        run_qa_stats(lengths=options["--lengths"], hops=options["--hops"], count=count, seed=seed,
                     kind=options["--kind"], chunk_tokens=options["--chunk-tokens"],
                     distractors=options["--distractors"], formats=variants or SWEEP_FORMATS,
                     tokenizer=counter, plot=plot, as_json=as_json)
    else:
        _sudoku_stats(options, count, seed, variants or SUDOKU_FORMATS, counter, plot, as_json)


def _check_qa_kind(kind: str) -> None:
    from mplm_data.generators.qa import GENERATED_KINDS

    names = [generated.value for generated in GENERATED_KINDS]
    if kind not in names:
        fail(f"--kind {kind!r} is invalid; use one of {', '.join(names)}")


def _sudoku_stats(options: dict[str, Any], count: int, seed: int, variants: str,
                  tokenizer: TraceTokenizer, plot: Optional[Path], as_json: bool) -> None:
    from mplm_data.traces.stats import SweepConfig, cost_sweep, format_table, plot_growth

    sizes = options["--sizes"]
    try:
        parsed = tuple(int(size) for size in sizes.split(","))
    except ValueError:
        fail(f"--sizes {sizes!r} is not a comma-separated list of integers such as 4,9,16")
    try:
        config = SweepConfig(sizes=parsed, count=count, seed=seed,
                             variants=tuple(name.strip() for name in variants.split(",")),
                             solvable_by=options["--solvable-by"],
                             max_attempts=options["--max-attempts"],
                             clue_fraction=options["--clue-fraction"] or None)
    except ValueError as err:
        fail(str(err))

    result = cost_sweep(config, tokenizer,
                        progress=None if as_json else lambda message: stderr.print(message, style="dim"))
    if plot is not None:
        plot_growth(result, plot)
    if as_json:
        print(json.dumps(result.as_json(), indent=2))
        return

    wide = Console(width=max(stdout.width, 150))
    table = Table(title=f"mean trace costs, {count} puzzles per size ({result.tokenizer})")
    for column in ("variant", "n", *COST_NAMES):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for row in format_table(result):
        table.add_row(*row)
    wide.print(table)
    for name, exponent in result.exponents.items():
        stdout.print(f"max_context_tokens ~ n^{exponent:.2f} for {name}")
    if plot is not None:
        stdout.print(f"plot saved to {plot}")
