"""Commands `mplm-data gen sudoku` and `mplm-data solve sudoku`.

`gen sudoku` builds a `SudokuPuzzleTask` from its options, or a `SudokuTraceTask` around it when
`--format` asks for traces, and writes the rows through `mplm_data.shards.generate` (Arrow shards
plus manifest.json) with a progress bar.
`solve sudoku` reads a puzzle file in any form that `mplm_data.sudoku_io` reads, solves every
puzzle and writes one row per puzzle to an Arrow or Parquet file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mplm_data.arrow_io import SUFFIXES, AtomicArrowWriter
from mplm_data.cli.app import fail, gen_app, solve_app
from mplm_data.generators.errors import MplmDataError
from mplm_data.generators.sudoku import Symmetry
from mplm_data.shards import ENGINES, Manifest, ShardTask, generate
from mplm_data.sudoku_io import read_puzzles
from mplm_data.splits import SplitConfig, parse_split_option
from mplm_data.sudoku_rows import SudokuPuzzleTask, solve_puzzles
from mplm_data.sudoku_traces import SudokuTraceTask, parse_formats
from mplm_data.traces.sudoku_mplm import MAX_HYPOTHESES
from mplm_data.traces.sudoku_words import DECOMPOSITIONS

stdout = Console(soft_wrap=True, highlight=False)
stderr = Console(stderr=True, soft_wrap=True, highlight=False)

# Mismatched lines listed in the `solve sudoku` summary; the rest are counted only.
_MISMATCHES_SHOWN = 10


def _progress_bar(label: str) -> Progress:
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=stderr, transient=True)


def run_generation(task: ShardTask, out: Path, *, count: int, seed: int, shard_size: int,
                   workers: int, engine: str, ray_address: str | None, resume: bool,
                   splits: SplitConfig | None = None, rows_per_item: int = 1) -> Manifest:
    """Write `count` items of `task` into `out` with a progress bar, and return the manifest.

    `rows_per_item` is the number of rows each item yields (one per trace format), so the bar
    counts items.
    """
    with _progress_bar(task.name) as progress:
        bar = progress.add_task(task.name, total=count)
        return generate(task, out, count=count, seed=seed, shard_size=shard_size, workers=workers,
                        engine=engine, ray_address=ray_address, resume=resume, splits=splits,
                        progress=lambda rows: progress.advance(bar, rows // rows_per_item))


@gen_app.command("sudoku")
def gen_sudoku(
    n: int = typer.Option(9, "--n", help="Grid size: rows (= columns = digits) of each grid, 4..36."),
    box_rows: Optional[int] = typer.Option(
        None, help="Rows per box; default: square boxes, or the widest box shape that tiles n."),
    box_cols: Optional[int] = typer.Option(None, help="Columns per box; default follows box_rows."),
    clues: Optional[int] = typer.Option(
        None, help="Clue count at which clue removal stops (more remain when no further clue "
                   "can go); default: about 0.35 * n*n, 28 for 9x9 and 344 for 25x25."),
    minimal: bool = typer.Option(
        False, "--minimal",
        help="Make every puzzle minimal: removing any clue breaks uniqueness. Costs grow "
             "fast with n: about 0.3 ms per 9x9 puzzle, but one to three minutes per 25x25 "
             "puzzle on one core."),
    symmetry: Symmetry = typer.Option(Symmetry.NONE, help="Symmetry of the given cells."),
    solvable_by: Optional[str] = typer.Option(
        None, help="Keep only puzzles that the grader solves with techniques up to this one, "
                   "e.g. hidden_single or guess."),
    min_grade: Optional[str] = typer.Option(
        None, help="Keep puzzles at least this hard: a technique such as naked_pair, or guess+K "
                   "for at least K guesses."),
    max_grade: Optional[str] = typer.Option(
        None, help="Keep puzzles at most this hard: a technique, or guess+K for at most K guesses."),
    max_attempts: int = typer.Option(
        100, help="Puzzles drawn per item before a grade filter gives up with an error."),
    count: int = typer.Option(100, help="Number of puzzles (rows) to generate."),
    seed: int = typer.Option(0, help="Base seed; the same seed and options give byte-identical files."),
    out: Optional[Path] = typer.Option(
        None, help="Output folder for shards and manifest.json; default: ./data/sudoku-NxN."),
    workers: int = typer.Option(1, help="Local worker processes that write shards in parallel."),
    shard_size: int = typer.Option(1000, help="Puzzles per shard file."),
    engine: str = typer.Option("local", help=f"Where shards run: {' or '.join(ENGINES)}."),
    ray_address: Optional[str] = typer.Option(None, help="Address of a running Ray cluster "
                                                         "(engine ray); default: start a local one."),
    resume: bool = typer.Option(
        False, "--resume", help="Keep the complete shards of an interrupted run in OUT and write "
                                "the missing ones."),
    verify: bool = typer.Option(
        False, "--verify", help="Re-check that every puzzle has exactly one solution with "
                                "python-sat (slower)."),
    trace_format: Optional[str] = typer.Option(
        None, "--format", help="Write traces instead of puzzle rows: mplm, fj, cot, all, or a "
                               "comma-separated list; one row per puzzle and format."),
    decomposition: str = typer.Option(
        "cell", help=f"MPLM thread layout: {', '.join(DECOMPOSITIONS)} (one thread per cell, "
                     f"box or unit)."),
    hypotheses: bool = typer.Option(
        False, "--hypotheses", help="Render guesses as MPLM hypothesis threads preempted on a "
                                    "contradiction, instead of keeping only puzzles the "
                                    "decomposition solves."),
    max_hypotheses: int = typer.Option(
        MAX_HYPOTHESES, help="Hypothesis threads allowed per MPLM trace."),
    tokenizer: Optional[str] = typer.Option(
        None, help="Tokenizer that trace costs are counted in: a local Hugging Face tokenizer "
                   "folder or tokenizer.json; default: the project tokenizer."),
    splits: str = typer.Option(
        "0.9,0.05,0.05", help="Train,validation,test fractions for the `split` column, assigned "
                              "so that puzzles equal up to Sudoku symmetry share a split; or none."),
) -> None:
    """Generate Sudoku puzzles with unique solutions, graded by the logical solver, or their traces."""
    options: dict[str, Any] = dict(n=n, box_rows=box_rows, box_cols=box_cols, clues=clues,
                                   minimal=minimal, symmetry=symmetry, solvable_by=solvable_by,
                                   min_grade=min_grade, max_grade=max_grade,
                                   max_attempts=max_attempts, verify=verify)
    try:
        task: SudokuPuzzleTask | SudokuTraceTask = SudokuPuzzleTask(**options)
        formats: tuple[str, ...] = ()
        if trace_format is not None:
            formats = parse_formats(trace_format)
            task = SudokuTraceTask(task, formats=formats, decomposition=decomposition,
                                   hypotheses=hypotheses, max_hypotheses=max_hypotheses,
                                   tokenizer=tokenizer)
        split_config = parse_split_option(splits, key="sudoku")
    except ValueError as err:
        fail(f"invalid option: {err}")

    out = out if out is not None else Path("data") / f"sudoku-{n}x{n}"
    try:
        manifest = run_generation(task, out, count=count, seed=seed, shard_size=shard_size,
                                  workers=workers, engine=engine, ray_address=ray_address,
                                  resume=resume, splits=split_config,
                                  rows_per_item=max(1, len(formats)))
    except MplmDataError as err:
        fail(str(err))
    shards = len(manifest.shards)
    what = f"traces ({', '.join(formats)})" if formats else "puzzles"
    stdout.print(f"wrote {manifest.rows} {task.geometry.name} {what} in {shards} "
                 f"shard{'s' if shards != 1 else ''} to {out}")


@solve_app.command("sudoku")
def solve_sudoku(
    file: Path = typer.Argument(..., help="Puzzle file: 81-character lines, grids, CSV "
                                          "puzzle,solution, 16x16 to 36x36 forms."),
    out: Path = typer.Option(..., help="Output file, .arrow (Arrow IPC stream) or .parquet."),
    alphabet: Optional[str] = typer.Option(
        None, help="Symbols of the file when detection is ambiguous: 1-9A-G, 0-F, A-P, A-Y, "
                   "numbers, ..."),
    n: Optional[int] = typer.Option(None, "--n", help="Grid size of the file when detection is "
                                                      "ambiguous (4x4 lines vs 16x16 rows)."),
    box_rows: Optional[int] = typer.Option(None, help="Rows per box, for boxes other than the "
                                                      "default shape of n."),
) -> None:
    """Solve every puzzle of a file and write puzzle, solution, solutions_found (capped at 2) and
    line.

    Exits with 1 when a solution given in the file does not match, and with 2 on invalid input.
    """
    if out.suffix not in SUFFIXES:
        fail(f"output file {out} has suffix {out.suffix!r}; use one of {', '.join(SUFFIXES)}")
    try:
        puzzles = read_puzzles(file, alphabet=alphabet, n=n, box_rows=box_rows)
        with _progress_bar("solving") as progress:
            bar = progress.add_task("solving", total=len(puzzles))
            table, summary = solve_puzzles(puzzles, progress=lambda done: progress.advance(bar, done))
        provenance = {"command": "solve sudoku", "source": str(file), "layout": puzzles.layout,
                      "alphabet": puzzles.alphabet, "n": puzzles.geometry.n,
                      "box_rows": puzzles.geometry.box_rows, "box_cols": puzzles.geometry.box_cols}
        with AtomicArrowWriter(out, table.schema, provenance=provenance) as writer:
            writer.write(table)
            writer.finalize()
    except MplmDataError as err:
        fail(str(err))

    stdout.print(f"{file}: {summary.puzzles} {puzzles.geometry.name} puzzles ({puzzles.layout}, "
                 f"{puzzles.alphabet}); solved {summary.solved}, unique {summary.unique}, "
                 f"no solution {summary.no_solution}, multiple {summary.multiple}; wrote {out}")
    if summary.given_solutions:
        stdout.print(f"given solutions: {summary.given_solutions} checked, "
                     f"{len(summary.mismatched_lines)} mismatched")
    if summary.mismatched_lines:
        shown = ", ".join(map(str, summary.mismatched_lines[:_MISMATCHES_SHOWN]))
        more = len(summary.mismatched_lines) - _MISMATCHES_SHOWN
        stderr.print(f"mismatched given solutions on lines {shown}"
                     + (f" and {more} more" if more > 0 else ""))
        raise typer.Exit(1)
