"""Traces survive text (render, parse, render) and Arrow (write, read) unchanged."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mplm_data.arrow_io import read_provenance, read_table
from mplm_data.traces.storage import (TRACE_VERSION, read_traces, trace_record, traces_schema,
                                      traces_table, write_traces)
from mplm_data.traces.sudoku import answer_check, render_trace
from mplm_data.traces.text import parse_document, parse_thread, render_document, thread_text
from mplm_data.traces.validate import validate
from trace_cases import naked_single_derivation

CASES = [("mplm", "cell"), ("mplm", "box"), ("mplm", "unit"), ("fj", "box"), ("cot", "single")]


@pytest.mark.parametrize("fmt, decomposition", CASES)
@pytest.mark.parametrize("n, seed", [(4, 0), (4, 1), (9, 2), (16, 3)])
def test_roundtrip_text_identical(fmt, decomposition, n, seed):
    derivation = naked_single_derivation(n, seed)
    rendered = render_trace(derivation, fmt, decomposition=decomposition)
    document = render_document(rendered.trace)

    parsed = parse_document(document)

    assert parsed == rendered.trace
    assert render_document(parsed) == document
    check = answer_check(derivation.puzzle, derivation.solution, derivation.geometry)
    assert validate(parsed, answer_check=check).costs == rendered.costs


@pytest.mark.parametrize("n, seed", [(4, 5), (9, 6)])
def test_roundtrip_thread_text(n, seed):
    trace = render_trace(naked_single_derivation(n, seed), "mplm").trace

    for thread in trace.threads:
        assert parse_thread(thread.name, thread_text(thread), parent=thread.parent) == thread


@pytest.mark.parametrize("suffix", [".arrow", ".parquet"])
@pytest.mark.parametrize("n", [4, 9])
def test_roundtrip_arrow_equal_traces(tmp_path, suffix, n):
    records = [trace_record(naked_single_derivation(n, seed), fmt, decomposition=decomposition,
                            seed=7, index=seed)
               for seed in (0, 1) for fmt, decomposition in CASES]
    path = tmp_path / f"traces{suffix}"

    assert write_traces(path, records, provenance={"command": "test"}) == len(records)
    loaded = read_traces(path)

    assert [record.trace for record in loaded] == [record.trace for record in records]
    assert [record.costs for record in loaded] == [record.costs for record in records]
    assert [record.thread_tokens for record in loaded] == [record.thread_tokens for record in records]
    assert all(np.array_equal(a.solution, b.solution) for a, b in zip(loaded, records))
    assert read_provenance(path)["trace_version"] == TRACE_VERSION


def test_roundtrip_schema_types():
    schema = traces_schema()

    assert schema.field("trace").type == pa.large_list(pa.field("item", schema.field("trace").type.value_type,
                                                                nullable=False))
    assert schema.field("puzzle").type == pa.large_string()
    assert schema.field("mean_context_tokens").type == pa.float64()


def test_roundtrip_table_columns():
    record = trace_record(naked_single_derivation(4, 0), "mplm", seed=3, index=9)

    row = traces_table([record]).to_pylist()[0]

    assert (row["seed"], row["index"], row["format"], row["decomposition"]) == (3, 9, "mplm", "cell")
    assert row["threads"] == 16 == len(row["trace"])
    assert row["max_context_tokens"] == max(item["context_tokens"] for item in row["trace"])
    assert row["total_tokens"] == sum(item["generated_tokens"] for item in row["trace"])
    assert row["tokenizer"].startswith("mplm-v1@")


def test_roundtrip_datasets_loads_arrow(tmp_path):
    datasets = pytest.importorskip("datasets")
    path = tmp_path / "traces.arrow"
    write_traces(path, [trace_record(naked_single_derivation(4, 0), fmt, decomposition=decomposition)
                        for fmt, decomposition in CASES])

    dataset = datasets.Dataset.from_file(str(path))

    assert dataset.num_rows == len(CASES)
    assert dataset[0]["trace"][0]["name"] == "r1c1"
    assert dataset.column_names == read_table(path).column_names


def test_roundtrip_context_words_fork_prefix():
    from mplm_data.traces.text import context_words
    from trace_cases import hand_derivation

    trace = render_trace(hand_derivation(), "fj").trace
    parent_words = trace.thread("main").words()
    fork_end = parent_words.index("</fork>")

    words, flags = context_words(trace, "b1@1")

    assert words[:fork_end + 1] == parent_words[:fork_end + 1]
    assert not any(flags[:fork_end + 1])
    assert words[fork_end + 1:] == trace.thread("b1@1").words()
    assert flags[-1] and words[-1] == "<halt>"


def test_roundtrip_context_words_loss_mask():
    from mplm_data.traces.text import context_words
    from trace_cases import hand_derivation

    trace = render_trace(hand_derivation(), "mplm").trace

    words, flags = context_words(trace, "r1c1")

    generated = [word for word, flag in zip(words, flags) if flag]
    assert generated[:5] == ["<recv>", "drop", "2", "left", "3"]
    assert "<msg>" not in generated and "<prompt>" not in generated
    assert words == trace.thread("r1c1").words()


def _public_lines(path, count):
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")][:count]


@pytest.mark.public_data
@pytest.mark.parametrize("name, n, count", [("vukr_4x4.txt", 4, 12), ("vukr_16x16.txt", 16, 2),
                                            ("kaggle_bryanpark_first1000.csv", 9, 8)])
def test_roundtrip_public_puzzles_validate(public_data, name, n, count):
    # Every format renders real puzzles whose solution the file gives (or exact search finds)
    # and validates against it. MPLM uses hypothesis threads where singles are not enough.
    from mplm_data.generators.sudoku_geometry import Geometry, text_to_grid
    from mplm_data.solvers.sudoku_logic import derive

    geometry = Geometry.for_size(n)
    for line in _public_lines(public_data / "sudoku" / name, count):
        fields = line.split(",")
        puzzle = text_to_grid(fields[0].replace("0", ".") if n == 9 else fields[0], geometry)
        derivation = derive(puzzle, geometry)
        solution = (text_to_grid(fields[1], geometry) if len(fields) > 1 else derivation.solution)
        check = answer_check(puzzle, solution, geometry)

        for fmt, decomposition in [("mplm", "unit"), ("fj", "box"), ("cot", "single")]:
            rendered = render_trace(derivation, fmt, decomposition=decomposition, hypotheses=True,
                                    max_hypotheses=256)
            assert validate(parse_document(render_document(rendered.trace)),
                            answer_check=check).costs == rendered.costs


def test_roundtrip_token_mask_counts():
    from mplm_data.traces.text import context_words
    from mplm_data.traces.tokenizer import project_tokenizer
    from trace_cases import hand_derivation

    rendered = render_trace(hand_derivation(), "fj")
    run = rendered.schedule.runs[1]
    words, flags = context_words(rendered.trace, run.name)

    ids, mask = project_tokenizer().encode_with_mask(words, flags)

    assert len(ids) == run.context_tokens
    assert sum(mask) == run.generated_tokens
