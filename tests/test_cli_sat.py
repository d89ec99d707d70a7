"""Tests for `mplm-data solve sat`, `mplm-data gen sat` and the labelled-formula table.

Commands run in process through typer's CliRunner. One error-path check runs the installed
`mplm-data` entry point, so that the one-line error and exit code of `main()` are what gets tested.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pysat.solvers import Solver
from typer.testing import CliRunner

import mplm_data.cli.sat  # noqa: F401  (registers the commands)
import mplm_data.sat_rows
from mplm_data.arrow_io import read_provenance, read_table
from mplm_data.cli.app import app
from mplm_data.cli.sat import SAT_SCHEMA, sat_row, sat_table
from mplm_data.generators.dimacs import Formula, parse_dimacs
from mplm_data.solvers.sat_labels import label_formula

runner = CliRunner()
ENTRY_POINT = Path(sys.executable).with_name("mplm-data")
PUBLIC_FILES = [("satlib_uf20-01.cnf", "SAT"), ("satlib_uf50-01.cnf", "SAT"),
                ("satlib_uuf50-01.cnf", "UNSAT"), ("satlib_uf100-01.cnf", "SAT"),
                ("satlib_uuf100-01.cnf", "UNSAT")]


def invoke(*arguments):
    return runner.invoke(app, [str(argument) for argument in arguments])


def _satisfiable(clauses) -> bool:
    with Solver(name="glucose4", bootstrap_with=clauses) as solver:
        return solver.solve()


def test_solve_sat_public_files(public_data: Path):
    files = [public_data / "sat" / name for name, _ in PUBLIC_FILES]

    result = invoke("solve", "sat", *files)

    assert result.exit_code == 0, result.output
    expected = [f"{public_data / 'sat' / name}: {label}" for name, label in PUBLIC_FILES]
    assert result.stdout.splitlines() == expected


@pytest.mark.parametrize("solver", ["minisat22", "glucose4"])
def test_solve_sat_small_unsat(tmp_path: Path, solver):
    path = tmp_path / "small.cnf"
    path.write_text("p cnf 2 3\n1 2 0\n2 0\n-2 0\n")

    result = invoke("solve", "sat", path, "--solver", solver)

    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: UNSAT\n"


def test_solve_sat_satlib_trailer_is_sat(tmp_path: Path):
    path = tmp_path / "trailer.cnf"
    path.write_text("p cnf 3 2\n1 -2 3 0\n-1 2 0\n%\n0\n")

    result = invoke("solve", "sat", path, "--strict")

    assert result.stdout == f"{path}: SAT\n"


def test_solve_sat_header_mismatch_warns(tmp_path: Path):
    path = tmp_path / "mismatch.cnf"
    path.write_text("p cnf 40 5\n1 2 3 0\n4 5 6 0\n-7 1 2 0\n")

    result = invoke("solve", "sat", path)

    assert result.exit_code == 0
    assert result.stdout == f"{path}: SAT\n"
    assert "warning:" in result.stderr
    assert "declares 5 clauses but the file holds 3" in result.stderr


def test_solve_sat_header_mismatch_strict_fails(tmp_path: Path):
    path = tmp_path / "mismatch.cnf"
    path.write_text("p cnf 40 5\n1 2 3 0\n4 5 6 0\n-7 1 2 0\n")

    result = invoke("solve", "sat", path, "--strict")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {path}:1: header 'p cnf 40 5'")


def test_solve_sat_bad_file_does_not_stop_others(tmp_path: Path):
    bad = tmp_path / "letters.cnf"
    bad.write_text("qwerty uiop\nasdf\n")
    good = tmp_path / "good.cnf"
    good.write_text("p cnf 1 1\n1 0\n")

    result = invoke("solve", "sat", bad, tmp_path / "missing.cnf", good)

    assert result.exit_code == 2
    assert result.stdout == f"{good}: SAT\n"
    errors = result.stderr.splitlines()
    assert errors[0] == f"error: {bad}:1: expected a 'p cnf VARIABLES CLAUSES' header or a " \
                        f"comment, found 'qwerty'"
    assert errors[1] == f"error: {tmp_path / 'missing.cnf'}: No such file or directory"
    assert len(errors) == 2


def test_solve_sat_unknown_solver_fails():
    result = invoke("solve", "sat", "unused.cnf", "--solver", "fastest")

    assert result.exit_code == 2
    assert "invalid option --solver" in result.stderr


def test_solve_sat_entry_point_one_line_error(tmp_path: Path):
    bad = tmp_path / "bad.cnf"
    bad.write_text("p cnf 2 1\n1 two 0\n")

    completed = subprocess.run([str(ENTRY_POINT), "solve", "sat", str(bad)], capture_output=True,
                               text=True, timeout=300)

    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr == f"error: {bad}:2: invalid literal 'two'; clause lines hold signed " \
                               f"integers and end each clause with 0\n"


def _generate(out: Path, *extra) -> Path:
    result = invoke("gen", "sat", "--vars", "20", "--count", "6", "--out", out, *extra)
    assert result.exit_code == 0, result.output
    return next(out.glob("*.arrow"))


@pytest.mark.parametrize("kind", ["uniform", "planted", "sr"])
def test_gen_sat_rows_labelled_correctly(tmp_path: Path, kind):
    path = _generate(tmp_path, "--kind", kind, "--seed", "2")

    rows = read_table(path).to_pylist()

    assert len(rows) == 6
    for row in rows:
        formula = parse_dimacs(row["clauses"], strict=True)
        assert (formula.n_vars, formula.n_clauses) == (row["n_vars"], row["n_clauses"])
        assert row["label"] == ("SAT" if _satisfiable(formula.clauses) else "UNSAT")
        if row["label"] == "SAT":
            assert formula.unsatisfied_clauses(row["model"]) == []
        else:
            assert row["model"] is None
            assert row["proof_lemmas"] >= 1
        assert row["kind"] == kind
        assert row["seed"] == 2


def test_gen_sat_balance_alternates_labels(tmp_path: Path):
    rows = read_table(_generate(tmp_path, "--balance")).to_pylist()

    assert [row["label"] for row in rows] == ["SAT", "UNSAT"] * 3
    assert [row["index"] for row in rows] == list(range(6))


def test_gen_sat_planted_rows_keep_hidden_assignment(tmp_path: Path):
    rows = read_table(_generate(tmp_path, "--kind", "planted")).to_pylist()

    for row in rows:
        formula = parse_dimacs(row["clauses"])
        assert formula.unsatisfied_clauses(row["planted"]) == []


def test_gen_sat_same_seed_identical_bytes(tmp_path: Path):
    first = _generate(tmp_path / "first", "--seed", "5")
    second = _generate(tmp_path / "second", "--seed", "5")
    other = _generate(tmp_path / "other", "--seed", "6")

    assert first.name == "shard-00000.arrow"
    assert first.read_bytes() == second.read_bytes()
    assert read_table(first).column("clauses") != read_table(other).column("clauses")


def test_gen_sat_provenance(tmp_path: Path):
    path = _generate(tmp_path, "--seed", "7", "--ratio", "3.5")

    provenance = read_provenance(path)

    assert provenance["seed"] == 7
    assert provenance["config"]["ratio"] == 3.5
    assert provenance["config"]["kind"] == "uniform"
    assert provenance["config"]["generator_version"] == "ksat-1"


def test_gen_sat_from_public_files(tmp_path: Path, public_data: Path):
    files = [public_data / "sat" / name for name, _ in PUBLIC_FILES]
    arguments = [argument for file in files for argument in ("--from", file)]

    result = invoke("gen", "sat", "--out", tmp_path, *arguments)

    assert result.exit_code == 0, result.output
    rows = read_table(tmp_path / "shard-00000.arrow").to_pylist()
    assert [row["label"] for row in rows] == [label for _, label in PUBLIC_FILES]
    assert [row["source"] for row in rows] == [str(file) for file in files]
    assert all(row["kind"] == "file" and row["seed"] is None for row in rows)


@pytest.mark.parametrize("arguments, message", [
    (["--vars", "0"], "n_vars must be an integer"),
    (["--vars", "3", "--ratio", "5"], "exceeds the 8 distinct 3-clauses"),
    (["--kind", "planted", "--balance"], "balance=True needs UNSAT formulas"),
    (["--count", "-1"], "invalid option --count"),
    (["--solver", "fastest"], "invalid option --solver"),
])
def test_gen_sat_rejects_invalid_options(tmp_path: Path, arguments, message):
    result = invoke("gen", "sat", "--out", tmp_path, *arguments)

    assert result.exit_code == 2
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_sat_table_round_trip(tmp_path: Path):
    formula = Formula(3, ((1, -2), (2, 3), (-1,)))
    rows = [sat_row(formula, label_formula(formula), kind="file", index=0, source="x.cnf"),
            sat_row(Formula(1, ((1,), (-1,))), label_formula(Formula(1, ((1,), (-1,)))),
                    kind="uniform", index=1, k=1, seed=9)]

    table = sat_table(rows)

    assert table.schema == SAT_SCHEMA
    assert table.column("label").to_pylist() == ["SAT", "UNSAT"]
    assert table.column("model").to_pylist()[1] is None
    assert table.to_pylist() == rows


def test_sat_row_unfinished_dpll_has_null_difficulty(monkeypatch):
    monkeypatch.setattr(mplm_data.sat_rows, "DPLL_MAX_EVENTS", 3)
    formula = Formula(4, ((1, 2), (-1, 3), (-3, 4), (-2, -4), (2, 3)))

    row = sat_row(formula, label_formula(formula), kind="file", index=0)

    assert row["label"] == "SAT"
    assert row["dpll_decisions"] is None
    assert row["dpll_conflicts"] is None
