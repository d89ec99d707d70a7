"""Tests for `mplm-data gen qa`, the QA shard tasks and the QA cost sweep (`qa_stats`).

Commands run in process through typer's CliRunner, except the error-path checks, which run the
installed `mplm-data` entry point so that the one-line error of `main()` is what gets tested.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mplm_data.cli.qa  # noqa: F401  (registers the command)
from mplm_data.arrow_io import read_provenance
from mplm_data.cli.app import app
from mplm_data.cli.qa import run_qa_stats
from mplm_data.qa_rows import QAFileTask, QATraceTask, read_qa_rows, validate_qa_row
from mplm_data.traces.qa_stats import METRICS, qa_stats

runner = CliRunner()
ENTRY_POINT = Path(sys.executable).with_name("mplm-data")
SMALL = Path(__file__).parent / "data" / "hotpot_small.json"


def invoke(*arguments: object):
    return runner.invoke(app, [str(argument) for argument in arguments])


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def all_rows(folder: Path) -> list[dict]:
    return [row for shard in sorted(folder.glob("shard-*.arrow")) for row in read_qa_rows(shard)]


@pytest.mark.parametrize("kind", ["track", "sum"])
def test_cli_gen_qa_writes_valid_rows(tmp_path, kind):
    out = tmp_path / kind
    result = invoke("gen", "qa", "--kind", kind, "--length", 512, "--chunks", 4, "--hops", 2,
                    "--count", 5, "--shard-size", 2, "--out", out)

    assert result.exit_code == 0, result.output
    rows = all_rows(out)
    assert len(rows) == 15
    assert [(row["index"], row["format"]) for row in rows[:3]] == [(0, "mplm"), (0, "fj"), (0, "cot")]
    for row in rows:
        validate_qa_row(row)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["kind"] == kind
    assert sum(shard["rows"] for shard in manifest["shards"]) == 15
    assert read_provenance(out / "shard-00000.arrow")["task"] == f"qa-{kind}"


def test_cli_gen_qa_same_seed_same_bytes(tmp_path):
    arguments = ("gen", "qa", "--kind", "lookup", "--length", 256, "--chunks", 2, "--count", 3,
                 "--seed", 5)
    assert invoke(*arguments, "--out", tmp_path / "a").exit_code == 0
    assert invoke(*arguments, "--out", tmp_path / "b").exit_code == 0

    assert folder_bytes(tmp_path / "a") == folder_bytes(tmp_path / "b")


def test_cli_gen_qa_from_hotpot_file(tmp_path):
    out = tmp_path / "hotpot"
    result = invoke("gen", "qa", "--from", SMALL, "--formats", "mplm,cot", "--out", out)

    assert result.exit_code == 0, result.output
    rows = all_rows(out)
    assert [(row["source"], row["format"]) for row in rows] == [
        ("hand-bridge-01", "mplm"), ("hand-bridge-01", "cot"),
        ("hand-comparison-02", "mplm"), ("hand-comparison-02", "cot"),
        ("hand-yesno-03", "mplm"), ("hand-yesno-03", "cot")]
    assert {row["kind"] for row in rows} == {"evidence"}
    assert rows[0]["answer"] == "Tampere"
    for row in rows:
        validate_qa_row(row)


@pytest.mark.parametrize("arguments, fragment", [
    (("--from", SMALL, "--hops", "3"), "so --hops cannot be used with it; drop it"),
    (("--kind", "evidence"), "invalid option: kind must be one of track, lookup, count, sum"),
    (("--length", "40", "--chunks", "8"), "length must be an integer in 128.."),
    (("--formats", "mplm,tree"), "formats must be a non-empty selection of mplm, fj, cot"),
    (("--filler", "no-such-file.txt", "--count", "1"), "no-such-file.txt: filler file not found"),
    (("--from", SMALL, "--count", "9"), "--count 9 is out of range"),
])
def test_cli_gen_qa_rejects_invalid_options(tmp_path, arguments, fragment):
    result = invoke("gen", "qa", *arguments, "--out", tmp_path / "out")

    assert result.exit_code == 2
    assert fragment in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()


def test_cli_gen_qa_error_is_one_line(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text(SMALL.read_text().replace('["Aino Halme", 0]', '["Aino Halme", 5]'))

    process = subprocess.run([str(ENTRY_POINT), "gen", "qa", "--from", str(broken),
                              "--out", str(tmp_path / "out")], capture_output=True, text=True)

    assert process.returncode == 2
    assert not (tmp_path / "out").exists()
    assert process.stderr.strip().splitlines() == [
        f"error: {broken}: record 0 (_id hand-bridge-01): field 'supporting_facts' entry 1 points "
        f"to sentence 5 of paragraph 'Aino Halme', which has 3 sentences (0..2); fix the index"]


def test_qa_file_task_config_tracks_file_contents(tmp_path):
    copy = tmp_path / "records.json"
    copy.write_bytes(SMALL.read_bytes())
    before = QAFileTask(str(copy)).config()

    copy.write_text(copy.read_text().replace("Tampere", "Turku"))

    assert QAFileTask(str(copy)).config()["sha256"] != before["sha256"]


def test_qa_trace_task_rows_independent_of_shard_cut():
    task = QATraceTask(kind="count", length=256, chunks=2, hops=3, distractors=1)

    whole = task.rows(3, 0, 4).to_pylist()
    parts = task.rows(3, 0, 1).to_pylist() + task.rows(3, 1, 4).to_pylist()

    assert whole == parts


def test_qa_stats_shape_and_exponents(tmp_path):
    plot = tmp_path / "growth.png"
    stats = qa_stats([512, 1024, 2048], [1, 3], 2, 0, kind="lookup", chunk_tokens=256, plot=plot)

    assert set(stats) == {"formats", "hops", "exponents", "settings"}
    assert set(stats["formats"]) == {"mplm", "fj", "cot"}
    assert set(stats["formats"]["cot"]) == {512, 1024, 2048}
    assert set(stats["formats"]["cot"][512]) == set(METRICS)
    assert set(stats["hops"]["mplm"]) == {1, 3}
    assert abs(stats["exponents"]["cot"] - 1) < 0.1
    assert abs(stats["exponents"]["mplm"]) < 0.1
    assert stats["formats"]["cot"][2048]["document_tokens"] >= 2048
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(json.dumps(stats))["formats"]["fj"]["512"]["threads"] > 1


def test_qa_stats_hops_means_grow_with_hops():
    stats = qa_stats([512], [1, 4], 3, 0, kind="track", formats=["fj"])

    assert stats["exponents"] == {"fj": None}
    assert stats["hops"]["fj"][4]["threads"] > stats["hops"]["fj"][1]["threads"]
    assert stats["hops"]["fj"][4]["messages"] == 4 * stats["hops"]["fj"][1]["messages"]


@pytest.mark.parametrize("arguments, fragment", [
    ({"lengths": "512,x"}, "--lengths '512,x' is not a comma-separated list"),
    ({"lengths": "", }, "lengths must be a non-empty list"),
    ({"metric": "speed"}, "metric must be one of"),
    ({"chunk_tokens": 8}, "chunk_tokens must be an integer >= 16"),
])
def test_run_qa_stats_rejects_invalid_options(capsys, arguments, fragment):
    options = {"lengths": "512", "hops": "2", "count": 1, "seed": 0, **arguments}

    with pytest.raises(SystemExit) as exit_info:
        run_qa_stats(**options)

    assert exit_info.value.code == 2
    assert fragment in capsys.readouterr().err.replace("\n", " ")


def test_run_qa_stats_prints_json(capsys):
    result = run_qa_stats(lengths="256,512", hops="2", count=1, seed=0, kind="count",
                          formats="mplm,cot", as_json=True)

    printed = json.loads(capsys.readouterr().out)
    assert printed["exponents"] == result["exponents"]
    assert set(printed["formats"]) == {"mplm", "cot"}


@pytest.mark.parametrize("task", [
    QATraceTask(kind="lookup", length=256, chunks=2, hops=3, distractors=1, formats=("cot",)),
    QAFileTask(str(SMALL), formats=("mplm", "fj")),
])
def test_qa_task_config_rebuilds_task(task):
    config = task.config()
    fields = {name: config[name] for name in task.__dataclass_fields__ if name != "name"}

    assert type(task)(**fields).config() == config
