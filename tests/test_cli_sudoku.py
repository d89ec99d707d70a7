"""Tests for `mplm-data gen sudoku` and `mplm-data solve sudoku`.

Commands run in process through typer's CliRunner, except the error-path checks, which run the
installed `mplm-data` entry point so that the one-line error of `main()` is what gets tested.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import mplm_data.cli.sudoku  # noqa: F401  (registers the commands)
from mplm_data.arrow_io import read_provenance, read_table
from mplm_data.cli.app import app
from mplm_data.generators.sudoku_geometry import Geometry, find_conflict, text_to_grid
from mplm_data.solvers.sudoku_logic import derive
from mplm_data.sudoku_io import read_puzzles

runner = CliRunner()
ENTRY_POINT = Path(sys.executable).with_name("mplm-data")


def invoke(*arguments: str):
    return runner.invoke(app, [str(argument) for argument in arguments])


def generate(out: Path, *extra: str):
    result = invoke("gen", "sudoku", "--n", "9", "--count", "5", "--shard-size", "2",
                    "--out", out, *extra)
    assert result.exit_code == 0, result.output
    return result


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())
            if not path.name.startswith(".")}


def test_gen_sudoku_same_seed_identical_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "first", "--seed", "3")
    generate(tmp_path / "second", "--seed", "3")

    first = folder_bytes(tmp_path / "first")
    second = folder_bytes(tmp_path / "second")
    assert sorted(first) == ["manifest.json", "shard-00000.arrow", "shard-00001.arrow",
                             "shard-00002.arrow"]
    assert first == second


def test_gen_sudoku_different_seed_differs(tmp_path: Path) -> None:
    generate(tmp_path / "first", "--seed", "3")
    generate(tmp_path / "second", "--seed", "4")

    first = read_table(tmp_path / "first" / "shard-00000.arrow")
    second = read_table(tmp_path / "second" / "shard-00000.arrow")
    assert first.column("puzzle").to_pylist() != second.column("puzzle").to_pylist()


def test_gen_sudoku_rows_match_remeasured_values(tmp_path: Path) -> None:
    generate(tmp_path / "out", "--seed", "1", "--max-grade", "naked_pair")
    geometry = Geometry.for_size(9)

    rows = [row for shard in sorted((tmp_path / "out").glob("shard-*.arrow"))
            for row in read_table(shard).to_pylist()]
    assert [row["index"] for row in rows] == list(range(5))
    for row in rows:
        puzzle = text_to_grid(row["puzzle"], geometry)
        grade = derive(puzzle, geometry).grade
        assert row["clues"] == int(np.count_nonzero(puzzle))
        assert row["grade"] == str(grade)
        assert row["guesses"] == grade.guesses
        assert row["seed"] == 1
    assert read_provenance(tmp_path / "out" / "shard-00000.arrow")["config"]["max_grade"] == "naked_pair"


def test_gen_sudoku_default_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    result = invoke("gen", "sudoku", "--n", "4", "--count", "3")

    assert result.exit_code == 0, result.output
    assert read_table(tmp_path / "data" / "sudoku-4x4" / "shard-00000.arrow").num_rows == 3


@pytest.mark.parametrize(("arguments", "fragment"), [
    (("--min-grade", "impossible"), "min_grade"),
    (("--n", "7"), "7"),
    (("--max-attempts", "0"), "max_attempts"),
])
def test_gen_sudoku_invalid_option_exits_2(tmp_path: Path, arguments: tuple[str, ...],
                                           fragment: str) -> None:
    result = invoke("gen", "sudoku", "--count", "1", "--out", tmp_path / "out", *arguments)

    assert result.exit_code == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.output


def test_help_names_units() -> None:
    result = invoke("gen", "sudoku", "--help")

    assert result.exit_code == 0
    for option in ("--count", "--seed", "--shard-size", "--solvable-by", "--verify"):
        assert option in result.output


def solved_rows(out: Path) -> list[dict]:
    return read_table(out).to_pylist()


# file, grid size, puzzles
PUBLIC_FILES = [
    ("sudoku/tdoku_puzzles2_17_clue_first1000.txt", 9, 1000),
    ("sudoku/tdoku_puzzles3_magictour_top1465.txt", 9, 1465),
    ("sudoku/tdoku_puzzles6_forum_hardest_1106.txt", 9, 375),
    ("sudoku/kaggle_bryanpark_first1000.csv", 9, 1000),
    ("sudoku/vukr_4x4.txt", 4, 100),
    ("sudoku/vukr_16x16.txt", 16, 100),
    ("sudoku/bnguyen_16x16.txt", 16, 1),
    ("sudoku/bnguyen_25x25.txt", 25, 1),
]


@pytest.mark.public_data
@pytest.mark.parametrize(("name", "n", "count"), PUBLIC_FILES)
def test_solve_sudoku_public_file(public_data: Path, tmp_path: Path, name: str, n: int,
                                  count: int) -> None:
    out = tmp_path / "solved.arrow"
    geometry = Geometry.for_size(n)

    result = invoke("solve", "sudoku", public_data / name, "--out", out)

    assert result.exit_code == 0, result.output
    assert f"unique {count}" in result.stdout
    rows = solved_rows(out)
    assert len(rows) == count
    for row in rows:
        puzzle = text_to_grid(row["puzzle"], geometry)
        solution = text_to_grid(row["solution"], geometry)
        assert row["solutions_found"] == 1
        assert (solution > 0).all()
        assert find_conflict(solution, geometry) is None
        assert ((puzzle == 0) | (puzzle == solution)).all()


@pytest.mark.public_data
def test_solve_sudoku_kaggle_matches_given(public_data: Path, tmp_path: Path) -> None:
    source = public_data / "sudoku/kaggle_bryanpark_first1000.csv"
    out = tmp_path / "solved.parquet"

    result = invoke("solve", "sudoku", source, "--out", out)

    given = read_puzzles(source).solutions
    found = np.stack([text_to_grid(row["solution"]) for row in solved_rows(out)])
    assert result.exit_code == 0, result.output
    assert "1000 checked, 0 mismatched" in result.stdout
    np.testing.assert_array_equal(found, given)


@pytest.mark.public_data
def test_solve_sudoku_bnguyen_25x25_matches_file(public_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "solved.arrow"

    result = invoke("solve", "sudoku", public_data / "sudoku/bnguyen_25x25.txt", "--out", out)

    expected = read_puzzles(public_data / "sudoku/bnguyen_25x25_solution.txt").puzzles[0]
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(text_to_grid(solved_rows(out)[0]["solution"]), expected)


def test_solve_sudoku_wrong_given_solution_exits_1(tmp_path: Path) -> None:
    source = tmp_path / "pairs.csv"
    source.write_text("puzzle,solution\n"
                      "1.3.34...14.4.2.,1234341221434321\n"
                      "1.3.34...14.4.2.,1234432121433412\n")

    result = invoke("solve", "sudoku", source, "--out", tmp_path / "solved.arrow")

    assert result.exit_code == 1
    assert "2 checked, 1 mismatched" in result.stdout
    assert "lines 3" in result.stderr


def run_entry_point(*arguments: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(ENTRY_POINT), *map(str, arguments)], capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.public_data
def test_solve_sudoku_invalid_file_one_line_error(public_data: Path, tmp_path: Path) -> None:
    source = public_data / "invalid/tcgaryau_invalid_9x9_extra_number.csv"

    completed = run_entry_point("solve", "sudoku", source, "--out", tmp_path / "solved.arrow")

    lines = completed.stderr.strip().splitlines()
    assert completed.returncode != 0
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert f"{source}:8:" in lines[0]
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "solved.arrow").exists()


def test_solve_sudoku_ambiguous_file_names_flag(tmp_path: Path) -> None:
    source = tmp_path / "ambiguous.txt"
    source.write_text("123456789ABCDE" + "." * 242 + "\n")

    completed = run_entry_point("solve", "sudoku", source, "--out", tmp_path / "solved.arrow")

    assert completed.returncode == 2
    assert "--alphabet" in completed.stderr
    assert "0-F" in completed.stderr
    assert "Traceback" not in completed.stderr
