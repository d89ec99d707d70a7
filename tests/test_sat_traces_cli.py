"""Tests of `mplm-data gen sat --format`, the SAT shard tasks, their Arrow rows and `sat_stats`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mplm_data.cli.sat  # noqa: F401  (registers the commands)
from mplm_data.arrow_io import read_table
from mplm_data.cli.app import app
from mplm_data.cli.sat import parse_formats, parse_splits, run_sat_stats
from mplm_data.generators.dimacs import parse_dimacs
from mplm_data.generators.errors import MplmDataError
from mplm_data.sat_rows import (SAT_SCHEMA, SAT_TRACE_SCHEMA, SatFileTask, SatTask, read_sat_rows,
                                sat_row_costs, sat_row_trace, validate_sat_row)
from mplm_data.shards import Manifest
from mplm_data.splits import with_split_field
from mplm_data.traces.sat import render_sat_trace
from mplm_data.traces.sat_stats import LABELS, METRICS, sat_stats

runner = CliRunner()
PUBLIC_FILES = [("satlib_uf20-01.cnf", "SAT"), ("satlib_uf50-01.cnf", "SAT"),
                ("satlib_uuf50-01.cnf", "UNSAT"), ("satlib_uf100-01.cnf", "SAT"),
                ("satlib_uuf100-01.cnf", "UNSAT")]


def invoke(*arguments):
    return runner.invoke(app, [str(argument) for argument in arguments])


def _gen(out: Path, *extra) -> list[dict]:
    result = invoke("gen", "sat", "--out", out, *extra)
    assert result.exit_code == 0, result.output
    return [row for path in sorted(out.glob("shard-*.arrow")) for row in read_sat_rows(path)]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("sat-traces")
    return out, _gen(out, "--vars", "20", "--count", "6", "--format", "all", "--depth", "3",
                     "--seed", "4")


def test_gen_sat_format_all_rows_per_formula(generated):
    _, rows = generated

    assert len(rows) == 18
    assert [row["format"] for row in rows] == ["mplm", "fj", "cot"] * 6
    assert [row["index"] for row in rows] == [index for index in range(6) for _ in range(3)]
    assert {row["depth"] for row in rows if row["format"] != "cot"} == {3}
    assert {row["depth"] for row in rows if row["format"] == "cot"} == {None}


def test_gen_sat_format_rows_validate(generated):
    _, rows = generated

    for row in rows:
        assert validate_sat_row(row) == sat_row_costs(row)


def test_gen_sat_format_rows_match_render(generated):
    _, rows = generated

    for row in rows:
        formula = parse_dimacs(row["clauses"])
        rendered = render_sat_trace(formula, row["format"], depth=3)
        assert sat_row_trace(row) == rendered.trace
        assert row["cube_variables"] == list(rendered.variables)
        assert row["preempted_threads"] == rendered.preempted
        assert [thread["generated_tokens"] for thread in row["trace"]] == \
            [run.generated_tokens for run in rendered.schedule.runs]


def test_gen_sat_format_schema_and_splits(generated):
    out, rows = generated
    table = read_table(out / "shard-00000.arrow")

    assert table.schema.remove_metadata() == with_split_field(SAT_TRACE_SCHEMA)
    by_formula: dict[str, set[str]] = {}
    for row in rows:
        by_formula.setdefault(row["clauses"], set()).add(row["split"])
    assert all(len(splits) == 1 for splits in by_formula.values())


def test_gen_sat_format_labels_certified(generated):
    _, rows = generated

    for row in rows:
        answer = sat_row_trace(row).thread("main").answer
        assert answer[0] == row["label"].lower()
        if row["label"] == "SAT":
            assert parse_dimacs(row["clauses"]).unsatisfied_clauses(row["model"]) == []


def test_gen_sat_from_public_files_traces(tmp_path: Path, public_data: Path):
    files = [public_data / "sat" / name for name, _ in PUBLIC_FILES]
    arguments = [argument for file in files for argument in ("--from", file)]

    rows = _gen(tmp_path, *arguments, "--format", "all")

    assert len(rows) == 3 * len(files)
    assert [row["label"] for row in rows[::3]] == [label for _, label in PUBLIC_FILES]
    assert [row["source"] for row in rows[::3]] == [str(file) for file in files]
    for row in rows:
        validate_sat_row(row)
        assert sat_row_trace(row).thread("main").answer[0] == row["label"].lower()


def test_gen_sat_without_format_writes_formula_rows(tmp_path: Path):
    result = invoke("gen", "sat", "--out", tmp_path, "--vars", "12", "--count", "3", "--splits",
                    "none")

    assert result.exit_code == 0, result.output
    table = read_table(tmp_path / "shard-00000.arrow")
    assert table.schema.remove_metadata() == SAT_SCHEMA
    assert table.num_rows == 3


def test_gen_sat_workers_and_resume_same_bytes(tmp_path: Path):
    options = ("--vars", "15", "--count", "4", "--format", "mplm,cot", "--shard-size", "2")
    _gen(tmp_path / "one", *options)
    _gen(tmp_path / "two", *options, "--workers", "2")
    first = tmp_path / "one" / "shard-00001.arrow"
    expected = first.read_bytes()
    first.unlink()

    _gen(tmp_path / "one", *options, "--resume")

    assert first.read_bytes() == expected
    assert (tmp_path / "two" / "shard-00001.arrow").read_bytes() == expected
    assert Manifest.load(tmp_path / "one").complete


def test_gen_sat_existing_output_needs_resume(tmp_path: Path):
    options = ("--vars", "10", "--count", "2", "--format", "cot")
    _gen(tmp_path, *options)

    result = invoke("gen", "sat", "--out", tmp_path, *options)

    assert result.exit_code == 2
    assert "pass --resume" in result.stderr


@pytest.mark.parametrize("arguments, message", [
    (["--format", "tree"], "--format 'tree' is invalid"),
    (["--depth", "0"], "depth must be an integer in [1, 16]"),
    (["--splits", "0.5,0.4"], "--splits '0.5,0.4' is invalid"),
    (["--splits", "0.5,0.4,0.2"], "must equal 1"),
    (["--max-events", "0"], "max_events must be a positive integer"),
    (["--count", "0"], "invalid option --count"),
    (["--tokenizer", "missing-folder"], "no tokenizer.json found"),
])
def test_gen_sat_format_rejects_invalid_options(tmp_path: Path, arguments, message):
    out = tmp_path / "out"
    result = invoke("gen", "sat", "--out", out, "--vars", "10", "--count", "2", "--format", "all",
                    *arguments)

    assert result.exit_code == 2
    assert message in result.stderr
    assert not (out / "manifest.json").exists()


def test_gen_sat_from_count_above_files_fails(tmp_path: Path):
    path = tmp_path / "small.cnf"
    path.write_text("p cnf 2 2\n1 2 0\n-1 0\n")

    result = invoke("gen", "sat", "--out", tmp_path / "out", "--from", path, "--count", "2")

    assert result.exit_code == 2
    assert "more than the 1 files" in result.stderr


def test_gen_sat_from_bad_file_fails_before_writing(tmp_path: Path):
    path = tmp_path / "bad.cnf"
    path.write_text("p cnf 2 1\n1 two 0\n")

    result = invoke("gen", "sat", "--out", tmp_path / "out", "--from", path, "--format", "cot")

    assert result.exit_code == 2
    assert f"{path}:2: invalid literal 'two'" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text, expected", [(None, ()), ("all", ("mplm", "fj", "cot")),
                                            ("cot,mplm,cot", ("cot", "mplm")), (" fj ", ("fj",)),
                                            ("mplm,", ("mplm",))])
def test_parse_formats_accepts(text, expected):
    assert parse_formats(text) == expected


def test_parse_splits_keys_by_formula():
    config = parse_splits("0.8,0.1,0.1")

    assert (config.train, config.validation, config.test, config.key) == (0.8, 0.1, 0.1, "cnf")
    assert parse_splits("none") is None


@pytest.mark.parametrize("task", [
    SatTask(n_vars=12, ratio=3.5, formats=("mplm", "fj"), depth=3),
    SatTask(kind="planted", n_vars=9),
])
def test_sat_task_config_rebuilds_task(task):
    config = json.loads(json.dumps(task.config()))
    fields = {item.name for item in dataclasses.fields(task) if item.init}

    rebuilt = type(task)(**{key: value for key, value in config.items() if key in fields})

    assert rebuilt.config() == config
    assert rebuilt == task


def test_sat_file_task_rows_match_generated_layout(tmp_path: Path):
    path = tmp_path / "small.cnf"
    path.write_text("p cnf 3 3\n1 2 0\n-1 3 0\n-3 -2 0\n")
    task = SatFileTask((str(path),), formats=("mplm", "cot"), depth=1)

    table = task.rows(0, 0, 1)

    assert table.schema == SAT_TRACE_SCHEMA
    assert table.column("format").to_pylist() == ["mplm", "cot"]
    assert table.column("source").to_pylist() == [str(path)] * 2
    for row in table.to_pylist():
        validate_sat_row(row)


@pytest.mark.parametrize("field, value, message", [
    ("formats", ("mplm", "tree"), "formats must be a selection"),
    ("depth", 17, "depth must be an integer"),
    ("solver", "fastest", "solver must be a python-sat solver name"),
    ("n_vars", 0, "n_vars must be an integer"),
])
def test_sat_task_rejects_invalid_settings(field, value, message):
    with pytest.raises(ValueError, match=message):
        SatTask(**{field: value})


def test_validate_sat_row_rejects_changed_costs(generated):
    _, rows = generated
    row = dict(rows[0], total_tokens=rows[0]["total_tokens"] + 1)

    with pytest.raises(MplmDataError, match="the validator measures"):
        validate_sat_row(row)


# -- sat_stats -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stats(tmp_path_factory):
    plot = tmp_path_factory.mktemp("sat-stats") / "sat.png"
    return sat_stats([8, 14], ratios=(3.5, 5.0), depths=(1, 3), count=2, seed=0, plot=plot), plot


def test_sat_stats_shape(stats):
    result, plot = stats

    assert set(result) == {"formats", "exponents", "labels", "ratios", "depths", "savings",
                           "counts", "settings"}
    assert set(result["formats"]) == {"mplm", "fj", "cot"}
    assert set(result["formats"]["cot"]) == {8, 14}
    assert set(result["formats"]["mplm"][8]) == set(METRICS)
    assert set(result["depths"]) == {"mplm", "fj"}
    assert set(result["depths"]["mplm"]) == {1, 3}
    assert set(result["ratios"]["fj"]) == {3.5, 5.0}
    assert set(result["labels"]) == set(LABELS)
    assert set(result["savings"]) == {"all", *LABELS}
    assert plot.stat().st_size > 0


def test_sat_stats_counts_every_formula_once(stats):
    result, _ = stats

    for n in (8, 14):
        assert sum(result["counts"][n].values()) == 4


def test_sat_stats_savings_match_means(stats):
    result, _ = stats

    for n in (8, 14):
        entry = result["savings"]["all"]["n"][n]
        mplm = result["formats"]["mplm"][n]["total_tokens"]
        fj = result["formats"]["fj"][n]["total_tokens"]
        assert entry["pairs"] == 8
        assert entry["mplm_total_tokens"] == pytest.approx(mplm)
        assert entry["fj_total_tokens"] == pytest.approx(fj)
        assert entry["total_tokens"] == pytest.approx(1 - mplm / fj)


def test_sat_stats_cot_ignores_depth(stats):
    result, _ = stats

    assert result["labels"]["SAT"]["cot"] or result["labels"]["UNSAT"]["cot"]
    assert all(means["preempted_threads"] == 0 for means in result["formats"]["cot"].values())


@pytest.mark.parametrize("arguments, message", [
    (dict(n_values=[2]), "at least 3"),
    (dict(n_values=[10], ratios=[0]), "ratios must be"),
    (dict(n_values=[10], depths=[0]), "depths must be"),
    (dict(n_values=[10], formats=["tree"]), "formats must be"),
    (dict(n_values=[10], metric="speed"), "metric must be"),
])
def test_sat_stats_rejects_invalid_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        sat_stats(**arguments)


def test_run_sat_stats_prints_json(capsys):
    result = run_sat_stats(n_values="8", ratios="4.26", depths="1", count=1, formats="mplm,fj",
                           as_json=True)

    printed = json.loads(capsys.readouterr().out)
    assert printed["settings"]["formats"] == ["mplm", "fj"]
    assert set(printed["formats"]["mplm"]) == {"8"}
    assert result["settings"]["n_values"] == [8]


def test_run_sat_stats_rejects_bad_list():
    with pytest.raises(SystemExit) as exit_info:
        run_sat_stats(n_values="8,x")

    assert exit_info.value.code == 2
