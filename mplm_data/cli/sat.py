"""Commands `mplm-data solve sat` and `mplm-data gen sat`, and the table of labelled formulas.

`solve sat` reads DIMACS files and prints `FILE: SAT` or `FILE: UNSAT` per file, after checking
the model against every clause or the DRUP proof with the project's RUP checker.
`gen sat` generates k-SAT formulas (or reads them with `--from`), labels them the same way, runs
the traced DPLL solver to measure their difficulty, and writes one Arrow file of rows
(`SAT_SCHEMA`). The generation config, seed and version go into the schema metadata.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

import pyarrow as pa
import typer
from rich.console import Console
from pysat.solvers import SolverNames
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from mplm_data.arrow_io import AtomicArrowWriter
from mplm_data.cli.app import fail, gen_app, solve_app
from mplm_data.generators.dimacs import DimacsHeaderWarning, Formula, format_dimacs, read_dimacs
from mplm_data.generators.errors import MplmDataError
from mplm_data.generators.ksat import GENERATOR_VERSION, KsatConfig, KsatInstance, KsatKind, generate_ksat
from mplm_data.solvers.dpll import run_dpll
from mplm_data.solvers.sat_derivation import DpllResult
from mplm_data.solvers.sat_labels import Label, label_formula

stdout = Console()
stderr = Console(stderr=True)

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
DPLL_MAX_EVENTS = 2_000_000


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


def sat_table(rows: Iterable[dict[str, Any]]) -> pa.Table:
    """Build a `SAT_SCHEMA` table from rows."""
    return pa.Table.from_pylist(list(rows), schema=SAT_SCHEMA)


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
    count: int = typer.Option(100, help="Number of formulas (rows) to generate."),
    seed: int = typer.Option(0, help="Base seed; the same seed and options give the same rows."),
    out: Path = typer.Option(..., help="Output folder; the file is OUT/sat-KIND-nVARS-seedSEED.arrow, "
                                       "or OUT/sat-files.arrow with --from."),
    from_files: Optional[list[Path]] = typer.Option(
        None, "--from", help="Label these DIMACS files instead of generating formulas; the "
                             "generation options are then unused."),
    solver: str = typer.Option("cadical153", help="python-sat solver for the labels."),
    strict: bool = typer.Option(False, "--strict", help="With --from, reject files whose header "
                                                        "disagrees with the clauses."),
) -> None:
    """Generate (or read) k-SAT formulas, label them SAT/UNSAT with checks, write an Arrow file."""
    _check_solver(solver)
    if count < 0:
        fail(f"invalid option --count: must be >= 0, got {count}")
    config = None
    if not from_files:
        try:
            config = KsatConfig(kind=kind, n_vars=n_vars, k=k, ratio=ratio, n_clauses=n_clauses,
                                balance=balance)
        except ValueError as err:
            fail(f"invalid option: {err}")

    try:
        if config is None:
            rows = [_file_row(file, index, strict, solver) for index, file in enumerate(from_files)]
            path = out / "sat-files.arrow"
            provenance: dict[str, Any] = {"command": "gen sat", "sources": list(map(str, from_files)),
                                          "solver": solver, "generator_version": GENERATOR_VERSION}
        else:
            rows = _generate_rows(config, seed, count, solver)
            path = out / f"sat-{config.kind.value}-n{n_vars}-seed{seed}.arrow"
            provenance = {"command": "gen sat", "config": {**asdict(config), "kind": config.kind.value},
                          "seed": seed, "count": count, "solver": solver,
                          "generator_version": GENERATOR_VERSION}
        table = sat_table(rows)
        with AtomicArrowWriter(path, SAT_SCHEMA, provenance=provenance) as writer:
            writer.write(table)
            written = writer.finalize()
    except MplmDataError as err:
        fail(str(err))
    except OSError as err:
        fail(f"{err.strerror or err}: {err.filename}" if err.filename else str(err))

    n_sat = sum(row["label"] == "SAT" for row in rows)
    stdout.print(f"wrote {written} formulas ({n_sat} SAT, {written - n_sat} UNSAT) to {path}",
                 highlight=False)


def _file_row(path: Path, index: int, strict: bool, solver: str) -> dict[str, Any]:
    formula = _read_formula(path, strict)
    return sat_row(formula, label_formula(formula, solver=solver), kind="file", index=index,
                   source=str(path))


def _generate_rows(config: KsatConfig, seed: int, count: int, solver: str) -> list[dict[str, Any]]:
    rows = []
    with Progress(TextColumn("sat"), BarColumn(), MofNCompleteColumn(), console=stderr,
                  transient=True) as progress:
        bar = progress.add_task("sat", total=count)
        for index in range(count):
            rows.append(instance_row(generate_ksat(config, seed, index), config, solver))
            progress.advance(bar)
    return rows
