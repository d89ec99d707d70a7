"""The `show`, `validate` and `stats` commands on 3-SAT and QA trace files."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import mplm_data.cli.traces  # noqa: F401  (registers the commands)
from mplm_data.arrow_io import read_table, write_table
from mplm_data.cli.app import app
from mplm_data.qa_rows import QATraceTask
from mplm_data.sat_rows import SatTask
from mplm_data.traces.tokenizer import project_tokenizer, save_pretrained

runner = CliRunner()
FORMATS = ("mplm", "fj", "cot")


@pytest.fixture(scope="module")
def trace_files(tmp_path_factory) -> dict[str, Path]:
    """Two formulas (12 variables, depth 2) and two track items (4 chunks), in every format."""
    folder = tmp_path_factory.mktemp("task-traces")
    tables = {
        "sat": SatTask(n_vars=12, formats=FORMATS, depth=2).rows(0, 0, 2),
        "qa": QATraceTask(length=512, chunks=4, hops=2, distractors=2, formats=FORMATS).rows(0, 0, 2),
    }
    paths = {}
    for task, table in tables.items():
        paths[task] = folder / f"{task}.arrow"
        write_table(paths[task], table)
    return paths


def _rewrite(source: Path, target: Path, change) -> Path:
    table = read_table(source)
    rows = table.to_pylist()
    change(rows)
    write_table(target, pa.Table.from_pylist(rows, schema=table.schema))
    return target


@pytest.mark.parametrize("task", ["sat", "qa"])
def test_cli_validate_task_file_accepts(trace_files, task):
    result = runner.invoke(app, ["validate", str(trace_files[task])])

    assert result.exit_code == 0, result.output
    assert f"6 traces valid in {trace_files[task]} (6 {task})" in " ".join(result.output.split())


@pytest.mark.parametrize("task", ["sat", "qa"])
def test_cli_validate_task_cost_mismatch(trace_files, tmp_path, task):
    def inflate(rows):
        rows[4]["total_tokens"] += 1

    broken = _rewrite(trace_files[task], tmp_path / "costs.arrow", inflate)
    result = runner.invoke(app, ["validate", str(broken)])

    assert result.exit_code == 2
    assert "row 4:" in result.output
    assert "the validator measures" in result.output


def test_cli_validate_sat_wrong_label(trace_files, tmp_path):
    def relabel(rows):
        rows[1]["label"] = "UNSAT" if rows[1]["label"] == "SAT" else "SAT"

    broken = _rewrite(trace_files["sat"], tmp_path / "label.arrow", relabel)
    result = runner.invoke(app, ["validate", str(broken)])

    assert result.exit_code == 2
    assert "row 1: " in result.output
    assert "wrong_answer" in result.output


def test_cli_validate_qa_wrong_answer(trace_files, tmp_path):
    def reanswer(rows):
        rows[2]["answer"] = "x999 x998"

    broken = _rewrite(trace_files["qa"], tmp_path / "answer.arrow", reanswer)
    result = runner.invoke(app, ["validate", str(broken)])

    assert result.exit_code == 2
    assert "row 2: " in result.output
    assert "wrong_answer" in result.output


@pytest.mark.parametrize("task", ["sat", "qa"])
def test_cli_validate_task_other_tokenizer(trace_files, tmp_path, task):
    folder = save_pretrained(project_tokenizer(), tmp_path / "copy")
    result = runner.invoke(app, ["validate", str(trace_files[task]), "--tokenizer", str(folder)])

    assert result.exit_code == 2
    assert f"counted with tokenizer {project_tokenizer().ident}" in " ".join(result.output.split())


@pytest.mark.parametrize("dropped", [("trace",), ("tokenizer", "critical_path_steps")])
def test_cli_validate_missing_common_columns(trace_files, tmp_path, dropped):
    table = read_table(trace_files["sat"])
    path = tmp_path / "partial.arrow"
    write_table(path, table.drop_columns(list(dropped)))

    result = runner.invoke(app, ["validate", str(path)])

    assert result.exit_code == 2
    assert f"lacks the columns {', '.join(dropped)}" in " ".join(result.output.split())


@pytest.mark.parametrize("task, dropped", [("sat", "clauses"), ("qa", "hops")])
def test_cli_validate_missing_task_columns(trace_files, tmp_path, task, dropped):
    path = tmp_path / "partial.arrow"
    write_table(path, read_table(trace_files[task]).drop_columns([dropped]))

    result = runner.invoke(app, ["validate", str(path)])

    assert result.exit_code == 2
    assert f"rows of task {task} need the columns {dropped}" in " ".join(result.output.split())


def test_cli_validate_unknown_task(trace_files, tmp_path):
    def rename(rows):
        rows[3]["task"] = "chess"

    broken = _rewrite(trace_files["qa"], tmp_path / "task.arrow", rename)
    result = runner.invoke(app, ["validate", str(broken)])

    assert result.exit_code == 2
    assert "row 3 has task 'chess'" in " ".join(result.output.split())


@pytest.mark.parametrize("task, index, header", [
    ("sat", 0, "sat mplm/cube, 12 variables, 51 clauses, SAT, depth 2"),
    ("sat", 2, "sat cot/single, 12 variables, 51 clauses, SAT, no split"),
    ("qa", 1, "qa fj/chunk, kind track, 2 hops, length 512 tokens"),
])
def test_cli_show_task_header(trace_files, task, index, header):
    result = runner.invoke(app, ["show", str(trace_files[task]), "--index", str(index)])

    assert result.exit_code == 0, result.output
    assert header in " ".join(result.output.split())
    assert "── main" in result.output


def test_cli_show_sat_message_ends(trace_files):
    result = runner.invoke(app, ["show", str(trace_files["sat"]), "--index", "0"])
    output = " ".join(result.output.split())

    assert result.exit_code == 0, result.output
    assert "-> main: refuted 6 1 delivered to main in step 44" in output
    assert "<- 6&1: refuted 6 1 sent in step 43" in output


def test_cli_show_qa_one_thread(trace_files):
    result = runner.invoke(app, ["show", str(trace_files["qa"]), "--index", "0", "--thread", "c2"])

    assert result.exit_code == 0, result.output
    assert "── c2" in result.output
    assert "── main" not in result.output
    assert "prompt chunk c2 text" in " ".join(result.output.split())


def test_cli_stats_sat_json():
    result = runner.invoke(app, ["stats", "--task", "sat", "--vars", "8,12", "--ratios", "4.26",
                                 "--depths", "1", "--count", "2", "--formats", "mplm,cot",
                                 "--json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data["formats"]) == {"mplm", "cot"}
    assert set(data["formats"]["cot"]) == {"8", "12"}
    assert data["settings"]["depths"] == [1]
    assert data["settings"]["tokenizer"] == project_tokenizer().ident


def test_cli_stats_sat_default_formats():
    result = runner.invoke(app, ["stats", "--task", "sat", "--vars", "8", "--ratios", "3.5",
                                 "--count", "1", "--json"])

    assert result.exit_code == 0, result.output
    assert list(json.loads(result.output)["formats"]) == list(FORMATS)


def test_cli_stats_qa_json():
    result = runner.invoke(app, ["stats", "--task", "qa", "--lengths", "256,512", "--hops", "2",
                                 "--count", "1", "--kind", "sum", "--chunk-tokens", "128",
                                 "--distractors", "1", "--json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data["formats"]) == list(FORMATS)
    assert data["formats"]["mplm"]["512"]["threads"] == 5
    assert data["settings"]["kind"] == "sum"
    assert data["settings"]["chunk_tokens"] == 128


@pytest.mark.parametrize("arguments, message", [
    (["--task", "sat", "--sizes", "4,9"], "--task sat: --sizes (sudoku); drop it"),
    (["--task", "sudoku", "--vars", "20", "--hops", "3"], "--vars (sat), --hops (qa); drop them"),
    (["--task", "qa", "--depths", "2"], "--task qa: --depths (sat)"),
    (["--task", "qa", "--kind", "evidence"], "--kind 'evidence' is invalid"),
    (["--task", "sat", "--vars", "20,x"], "--vars '20,x' is not a comma-separated list"),
    (["--task", "qa", "--lengths", "512", "--chunk-tokens", "4"], "chunk_tokens must be an integer"),
    (["--task", "chess"], "--task chess is not supported; use sudoku, sat, qa"),
])
def test_cli_stats_task_rejects(arguments, message):
    result = runner.invoke(app, ["stats", *arguments])

    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
