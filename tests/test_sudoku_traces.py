"""Tests for the Sudoku trace task behind `gen sudoku --format`."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import mplm_data.cli.sudoku  # noqa: F401  (registers the commands)
from mplm_data.arrow_io import read_table
from mplm_data.cli.app import app
from mplm_data.solvers.sudoku_derivation import Technique
from mplm_data.sudoku_rows import SudokuPuzzleTask
from mplm_data.sudoku_traces import SudokuTraceTask, parse_formats
from mplm_data.generators.sudoku_geometry import Geometry, text_to_grid
from mplm_data.traces.storage import row_trace
from mplm_data.traces.sudoku import answer_check
from mplm_data.traces.validate import validate

runner = CliRunner()


@pytest.mark.parametrize(("text", "expected"), [
    ("all", ("mplm", "fj", "cot")),
    ("mplm", ("mplm",)),
    ("cot, fj", ("cot", "fj")),
])
def test_parse_formats_accepts_lists(text, expected):
    assert parse_formats(text) == expected


@pytest.mark.parametrize("text", ["", "json", "mplm,xml"])
def test_parse_formats_rejects_unknown(text):
    with pytest.raises(ValueError, match="invalid"):
        parse_formats(text)


def test_trace_task_filters_by_decomposition_technique():
    task = SudokuTraceTask(SudokuPuzzleTask(n=9), formats=("mplm",), decomposition="cell")

    assert task.puzzles.solvable_by == Technique.NAKED_SINGLE


def test_trace_task_keeps_filter_with_hypotheses():
    task = SudokuTraceTask(SudokuPuzzleTask(n=9), formats=("mplm",), hypotheses=True)

    assert task.puzzles.solvable_by is None


def test_trace_task_rejects_filter_above_decomposition():
    with pytest.raises(ValueError, match="--hypotheses"):
        SudokuTraceTask(SudokuPuzzleTask(n=9, solvable_by="hidden_single"), formats=("mplm",))


@pytest.mark.parametrize("n", [4, 9])
def test_trace_task_rows_validate_and_join_puzzles(n):
    puzzles = SudokuPuzzleTask(n=n)
    task = SudokuTraceTask(puzzles, formats=("mplm", "fj", "cot"))

    table = task.rows(seed=5, start=0, stop=3)

    assert table.num_rows == 9
    assert table.column("format").to_pylist() == ["mplm", "fj", "cot"] * 3
    assert table.column("index").to_pylist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    geometry = Geometry.for_size(n)
    for row in table.to_pylist():
        check = answer_check(text_to_grid(row["puzzle"], geometry),
                             text_to_grid(row["solution"], geometry), geometry)
        costs = validate(row_trace(row), answer_check=check).costs
        assert costs.max_context_tokens == row["max_context_tokens"]
        puzzle_row, _ = task.puzzles.generate_item(5, row["index"])
        assert row["puzzle"] == puzzle_row["puzzle"]
        assert row["solution"] == puzzle_row["solution"]


def test_gen_sudoku_format_writes_identical_traces(tmp_path):
    args = ["gen", "sudoku", "--n", "4", "--count", "5", "--seed", "3", "--format", "all"]

    first = runner.invoke(app, [*args, "--out", str(tmp_path / "a")])
    second = runner.invoke(app, [*args, "--out", str(tmp_path / "b")])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    shard_a = (tmp_path / "a" / "shard-00000.arrow").read_bytes()
    assert shard_a == (tmp_path / "b" / "shard-00000.arrow").read_bytes()
    table = read_table(tmp_path / "a" / "shard-00000.arrow")
    assert table.num_rows == 15
    assert set(table.column("split").to_pylist()) <= {"train", "validation", "test"}


def test_gen_sudoku_rejects_unknown_format(tmp_path):
    result = runner.invoke(app, ["gen", "sudoku", "--format", "xml", "--out", str(tmp_path / "x")])

    assert result.exit_code == 2
    assert "format 'xml' is invalid" in result.output
