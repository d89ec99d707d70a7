"""Commands `mplm-data solve sat` and `mplm-data gen sat`, and the SAT part of `stats --task sat`.

`solve sat` reads DIMACS files and prints `FILE: SAT` or `FILE: UNSAT` per file, after checking
the model against every clause or the DRUP proof with the project's RUP checker.
`gen sat` generates k-SAT formulas (or reads them with `--from`), labels them the same way, runs
the traced DPLL solver to measure their difficulty and, with `--format`, renders and validates
their traces. It writes Arrow shards and manifest.json through `mplm_data.shards.generate`
(rows: `mplm_data.sat_rows`), with a `split` column keyed by the formula's canonical form.
`run_sat_stats` parses the sweep options of `stats --task sat`, runs
`mplm_data.traces.sat_stats.sat_stats` and prints a table or JSON.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Optional

import pyarrow.compute as pc
import typer
from pysat.solvers import SolverNames
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mplm_data.arrow_io import read_table
from mplm_data.cli.app import fail, gen_app, solve_app
from mplm_data.cli.sweep_output import print_sweep
from mplm_data.generators.dimacs import DimacsHeaderWarning, Formula, read_dimacs
from mplm_data.generators.errors import MplmDataError
from mplm_data.generators.ksat import KsatKind
from mplm_data.sat_rows import (DPLL_MAX_EVENTS, SAT_SCHEMA, SatFileTask, SatTask, instance_row,
                                sat_row, sat_table)
from mplm_data.shards import ENGINES, Manifest, generate
from mplm_data.solvers.sat_labels import label_formula
from mplm_data.splits import SPLIT_NAMES, SplitConfig
from mplm_data.traces.sat import DEFAULT_DEPTH
from mplm_data.traces.sat_plan import DEFAULT_MAX_EVENTS
from mplm_data.traces.sudoku import FORMATS

stdout = Console()
stderr = Console(stderr=True)

# The row helpers moved to mplm_data.sat_rows; they stay importable from here.
__all__ = ["DPLL_MAX_EVENTS", "SAT_SCHEMA", "gen_sat", "instance_row", "run_sat_stats", "sat_row",
           "sat_table", "solve_sat"]

_DEFAULT_SPLITS = "0.9,0.05,0.05"


def _read_formula(path: Path, strict: bool) -> Formula:
    """Read a DIMACS file, printing header warnings on stderr as one line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DimacsHeaderWarning)
        formula = read_dimacs(path, strict=strict)
    for warning in caught:
        stderr.print(f"[yellow]warning:[/] {warning.message}", highlight=False, soft_wrap=True)
    return formula


def _check_solver(solver: str) -> None:
    if not hasattr(SolverNames, solver):
        fail(f"invalid option --solver: {solver!r} is not a python-sat solver name; use one such "
             f"as cadical153, glucose4 or minisat22")


@solve_app.command("sat")
def solve_sat(
    files: list[Path] = typer.Argument(..., help="DIMACS CNF files, plain or .gz/.bz2/.xz."),
    strict: bool = typer.Option(False, "--strict", help="Reject files whose 'p cnf' header "
                                                        "disagrees with the clauses."),
    solver: str = typer.Option("cadical153", help="python-sat solver name, such as cadical153, "
                                                  "glucose4 or minisat22."),
) -> None:
    """Print FILE: SAT or FILE: UNSAT for each file, with the model or the DRUP proof checked.

    Exits with 2 after the last file when any file could not be read or labelled.
    """
    _check_solver(solver)
    failed = 0
    for path in files:
        try:
            label = label_formula(_read_formula(path, strict), solver=solver)
        except MplmDataError as err:
            stderr.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
            failed += 1
            continue
        except OSError as err:
            stderr.print(f"[bold red]error:[/] {path}: {err.strerror or err}", highlight=False,
                         soft_wrap=True)
            failed += 1
            continue
        stdout.print(f"{path}: {label.text}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(2)


def parse_formats(text: str | None) -> tuple[str, ...]:
    """Parse `--format`: none, `all`, or comma-separated names among mplm, fj and cot."""
    if text is None:
        return ()
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if names == ("all",):
        return FORMATS
    unknown = [name for name in names if name not in FORMATS]
    if not names or unknown:
        raise ValueError(f"--format {text!r} is invalid; use all, or one or more of "
                         f"{', '.join(FORMATS)} separated by commas")
    return tuple(dict.fromkeys(names))


def parse_splits(text: str) -> SplitConfig | None:
    """Parse `--splits`: `none`, or train, validation and test fractions such as 0.9,0.05,0.05."""
    if text.strip().lower() == "none":
        return None
    try:
        fractions = [float(part) for part in text.split(",")]
    except ValueError:
        fractions = []
    if len(fractions) != len(SPLIT_NAMES):
        raise ValueError(f"--splits {text!r} is invalid; give {', '.join(SPLIT_NAMES)} fractions "
                         f"such as {_DEFAULT_SPLITS}, or none")
    return SplitConfig(*fractions, key="cnf")


def _label_counts(out: Path, manifest: Manifest) -> tuple[int, int]:
    """Count the SAT and UNSAT formulas in the written shards (one row per formula and format)."""
    sat = unsat = 0
    for shard in manifest.shards:
        table = read_table(out / shard.file)
        if "format" in table.column_names and table.num_rows:
            first = table.column("format")[0]
            table = table.filter(pc.equal(table.column("format"), first))
        labels = table.column("label").to_pylist()
        sat += labels.count("SAT")
        unsat += labels.count("UNSAT")
    return sat, unsat


@gen_app.command("sat")
def gen_sat(
    n_vars: int = typer.Option(20, "--vars", help="Variables per generated formula."),
    ratio: float = typer.Option(4.26, help="Clauses per variable for uniform and planted formulas."),
    n_clauses: Optional[int] = typer.Option(None, "--clauses", help="Clauses per formula; "
                                                                    "overrides --ratio."),
    k: int = typer.Option(3, "--k", help="Literals per clause for uniform and planted formulas."),
    kind: KsatKind = typer.Option(KsatKind.UNIFORM, help="Formula family: uniform random k-SAT, "
                                  "planted (SAT by construction) or sr (NeuroSAT SR(n) pairs)."),
    balance: bool = typer.Option(False, "--balance", help="Alternate SAT and UNSAT uniform "
                                                          "formulas (sr pairs are balanced anyway)."),
    count: Optional[int] = typer.Option(
        None, help="Formulas to write. Default: 100, or every file of --from."),
    seed: int = typer.Option(0, help="Base seed; the same seed and options give byte-identical files."),
    out: Path = typer.Option(..., help="Output folder for the shards and manifest.json."),
    from_files: Optional[list[Path]] = typer.Option(
        None, "--from", help="Label these DIMACS files (repeat the option) instead of generating "
                             "formulas; the generation options are then unused."),
    solver: str = typer.Option("cadical153", help="python-sat solver for the labels."),
    strict: bool = typer.Option(False, "--strict", help="With --from, reject files whose header "
                                                        "disagrees with the clauses."),
    formats: Optional[str] = typer.Option(
        None, "--format", help="Trace formats to render per formula: mplm, fj, cot, all, or a "
                               "comma-separated list. Default: formula rows without traces."),
    depth: int = typer.Option(DEFAULT_DEPTH, help="Split variables of the mplm and fj traces; "
                                                  "each formula gets 2^depth cube threads."),
    tokenizer: str = typer.Option(
        "mplm-v1", help="Tokenizer that trace costs are counted in: mplm-v1, or a local Hugging "
                        "Face tokenizer folder."),
    max_events: int = typer.Option(
        DEFAULT_MAX_EVENTS, help="DPLL events one trace thread may write; a formula that needs "
                                 "more stops the run with an error."),
    splits: str = typer.Option(
        _DEFAULT_SPLITS, help="Train, validation and test fractions of the split column, keyed "
                              "by the formula's canonical form; none omits the column."),
    workers: int = typer.Option(1, help="Local worker processes that write shards in parallel."),
    shard_size: int = typer.Option(1000, help="Formulas per shard file."),
    engine: str = typer.Option("local", help=f"Where shards run: {' or '.join(ENGINES)}."),
    ray_address: Optional[str] = typer.Option(None, help="Address of a running Ray cluster "
                                                         "(engine ray); default: start a local one."),
    resume: bool = typer.Option(
        False, "--resume", help="Keep the complete shards of an interrupted run in OUT and write "
                                "the missing ones."),
) -> None:
    """Generate (or read) k-SAT formulas, label them with checks, and render their traces."""
    _check_solver(solver)
    if count is not None and count < 1:
        fail(f"invalid option --count: must be >= 1, got {count}")
    try:
        trace_options: dict[str, Any] = dict(solver=solver, formats=parse_formats(formats),
                                             depth=depth, tokenizer=tokenizer,
                                             max_events=max_events)
        split_config = parse_splits(splits)
        if from_files:
            for path in from_files:
                _read_formula(path, strict)
            task: Any = SatFileTask(tuple(str(path) for path in from_files), strict=strict,
                                    **trace_options)
            if count is not None and count > len(from_files):
                fail(f"invalid option --count: {count} is more than the {len(from_files)} files "
                     f"of --from")
            count = len(from_files) if count is None else count
        else:
            task = SatTask(kind=kind, n_vars=n_vars, k=k, ratio=ratio, n_clauses=n_clauses,
                           balance=balance, **trace_options)
            count = 100 if count is None else count
    except MplmDataError as err:
        fail(str(err))
    except OSError as err:
        fail(f"{err.strerror or err}: {err.filename}" if err.filename else str(err))
    except ValueError as err:
        fail(f"invalid option: {err}")

    rows_per_item = max(1, len(task.formats))
    columns = (TextColumn(task.name), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=stderr, transient=True) as progress:
            bar = progress.add_task(task.name, total=count * rows_per_item)
            manifest = generate(task, out, count=count, seed=seed, shard_size=shard_size,
                                workers=workers, engine=engine, ray_address=ray_address,
                                resume=resume, splits=split_config,
                                progress=lambda rows: progress.advance(bar, rows))
        n_sat, n_unsat = _label_counts(out, manifest)
    except MplmDataError as err:
        fail(str(err))

    traces = f" x {len(task.formats)} formats" if task.formats else ""
    stdout.print(f"wrote {manifest.rows} rows ({n_sat} SAT, {n_unsat} UNSAT formulas{traces}) in "
                 f"{len(manifest.shards)} shard{'s' if len(manifest.shards) != 1 else ''} to {out}",
                 highlight=False)


def _number_list(option: str, text: str, kind: type) -> list:
    try:
        return [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{option} {text!r} is not a comma-separated list of numbers such as "
                         f"{'20,50,100' if kind is int else '3.5,4.26,5.0'}") from None


def run_sat_stats(*, n_values: str, ratios: str = "3.5,4.26,5.0", depths: str = "2", count: int = 4,
                  seed: int = 0, formats: str | None = None, tokenizer: Any = None,
                  metric: str = "max_context_tokens", plot: Path | None = None,
                  as_json: bool = False) -> dict[str, Any]:
    """Run the SAT cost sweep for `stats --task sat` and print it; return the `sat_stats` result.

    `n_values`, `ratios` and `depths` are comma-separated numbers, `formats` comma-separated names
    (None: all three) and `tokenizer` a loaded `TraceTokenizer` (None: the project tokenizer).
    Exits with code 2 and a one-line error on invalid options.
    """
    from mplm_data.traces.sat_stats import METRICS, sat_stats

    try:
        chosen = parse_formats(formats) if formats is not None else FORMATS
        result = sat_stats(_number_list("--vars", n_values, int),
                           _number_list("--ratios", ratios, float),
                           _number_list("--depths", depths, int), count, seed, formats=chosen,
                           tokenizer=tokenizer, metric=metric, plot=plot)
    except ValueError as err:
        fail(f"invalid option: {err}")
        return {}
    except MplmDataError as err:
        fail(str(err))
        return {}

    settings = result["settings"]
    title = (f"mean 3-SAT trace costs: ratios {settings['ratios']}, depths {settings['depths']}, "
             f"{count} formulas per (n, ratio) ({settings['tokenizer']})")
    savings = [f"{group} n={n}: MPLM saves {100 * entry['total_tokens']:.1f}% of FJ's total "
               f"tokens and {100 * entry['critical_path_steps']:.1f}% of its critical path "
               f"({entry['pairs']} pairs)"
               for group, by_key in result["savings"].items() for n, entry in by_key["n"].items()]
    print_sweep(result, as_json=as_json, title=title, size_column="n", metrics=METRICS, plot=plot,
                notes=savings)
    return result
