"""The `show`, `validate` and `stats` commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mplm_data.cli.traces  # noqa: F401  (registers the commands)
from mplm_data.arrow_io import read_table, write_table
from mplm_data.cli.app import app
from mplm_data.solvers.sudoku_logic import derive
from mplm_data.traces import stats
from mplm_data.traces.storage import trace_record, write_traces
from trace_cases import hand_derivation, minimal_puzzle, naked_single_derivation

runner = CliRunner()
MPLM_DATA = str(Path(sys.executable).with_name("mplm-data"))


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory) -> Path:
    puzzle, _, geometry = minimal_puzzle(9, 4)
    records = [trace_record(hand_derivation(), fmt) for fmt in ("mplm", "fj", "cot")]
    records.append(trace_record(derive(puzzle, geometry), "mplm", hypotheses=True))
    path = tmp_path_factory.mktemp("traces") / "traces.arrow"
    write_traces(path, records)
    return path


def _rewrite(source: Path, target: Path, change) -> Path:
    table = read_table(source)
    rows = table.to_pylist()
    change(rows)
    write_table(target, type(table).from_pylist(rows, schema=table.schema))
    return target


def test_cli_validate_accepts(trace_file):
    result = runner.invoke(app, ["validate", str(trace_file)])

    assert result.exit_code == 0, result.output
    assert "4 traces valid" in result.output


def test_cli_validate_names_row_thread_position(trace_file, tmp_path):
    def drop_send(rows):
        thread = rows[0]["trace"][1]
        assert thread["name"] == "r1c2"
        thread["text"] = thread["text"].replace("<send> peers 2 </send> ", "")

    broken = _rewrite(trace_file, tmp_path / "broken.arrow", drop_send)
    result = subprocess.run([MPLM_DATA, "validate", str(broken)], capture_output=True, text=True)

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "row 0: thread r1c1, token 25: unmatched_recv" in result.stderr


def test_cli_validate_stored_cost_mismatch(trace_file, tmp_path):
    def inflate(rows):
        rows[2]["total_tokens"] += 1

    broken = _rewrite(trace_file, tmp_path / "costs.arrow", inflate)
    result = runner.invoke(app, ["validate", str(broken)])

    assert result.exit_code == 2
    assert "row 2: stored total_tokens is 60" in result.output


def test_cli_show_both_message_ends(trace_file):
    result = runner.invoke(app, ["show", str(trace_file), "--index", "1"])

    assert result.exit_code == 0, result.output
    assert "-> parent: r1c1 = 1   delivered to main in step 34" in result.output
    assert "<- b1@1: r1c1 = 1   sent in step 33" in result.output


def test_cli_show_one_thread(trace_file):
    result = runner.invoke(app, ["show", str(trace_file), "--index", "0", "--thread", "r4c4"])

    assert result.exit_code == 0, result.output
    assert "── r4c4" in result.output
    assert "── r1c1" not in result.output
    assert "drop none left 2" in result.output


@pytest.mark.parametrize("arguments, message", [
    (["--index", "9"], "--index 9 is out of range"),
    (["--thread", "r9c9"], "--thread r9c9 is not a thread"),
])
def test_cli_show_rejects(trace_file, arguments, message):
    result = runner.invoke(app, ["show", str(trace_file), *arguments])

    assert result.exit_code == 2
    assert message in result.output


def test_cli_stats_json(monkeypatch, tmp_path):
    def sampler(n, config):
        return [naked_single_derivation(n, index) for index in range(config.count)], config.count

    monkeypatch.setattr(stats, "_generated_sample", sampler)
    plot = tmp_path / "growth.png"
    result = runner.invoke(app, ["stats", "--task", "sudoku", "--sizes", "4,9", "--count", "1",
                                 "--formats", "mplm,cot", "--json", "--plot", str(plot)])

    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data["formats"]) == {"mplm", "cot"}
    assert data["formats"]["cot"]["4"]["threads"] == 1
    assert data["exponents"]["mplm"] < data["exponents"]["cot"]
    assert plot.exists()


@pytest.mark.parametrize("arguments, message", [
    (["--task", "chess"], "--task chess is not supported"),
    (["--sizes", "4,x"], "is not a comma-separated list"),
    (["--sizes", "4,40"], "sizes must be grid sizes"),
])
def test_cli_stats_rejects(arguments, message):
    result = runner.invoke(app, ["stats", *arguments])

    assert result.exit_code == 2
    assert message in result.output
