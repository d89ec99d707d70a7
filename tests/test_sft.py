"""SFT rows: labels on each thread's own tokens only, a trained eos, and no truncated rows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from mplm_data.arrow_io import read_provenance, read_table, write_table
from mplm_data.generators.sudoku import PuzzleConfig, generate_puzzles
from mplm_data.generators.sudoku_geometry import Geometry, text_to_grid
from mplm_data.solvers.sudoku_derivation import Technique
from mplm_data.solvers.sudoku_logic import derive
from mplm_data.traces import protocol as p
from mplm_data.traces.model import ItemKind
from mplm_data.traces.storage import trace_record, write_traces
from mplm_data.traces.sudoku import render_trace
from mplm_data.traces.tokenizer import project_tokenizer
from mplm_data.runtime.sft import IGNORE_INDEX, SFT_SCHEMA, pad_rows, trace_rows

TOKENIZER = project_tokenizer()
PAD = TOKENIZER.tokenizer.token_to_id(p.PAD)
EOS = TOKENIZER.tokenizer.token_to_id(p.EOS)
MPLM_CLI = [sys.executable, "-c", "from mplm_data.cli.app import main; main()"]


def derivation_4x4(seed: int):
    config = PuzzleConfig(n=4)
    puzzles, _ = generate_puzzles(config, seed, 1)
    return derive(puzzles[0], config.geometry, max_technique=Technique.NAKED_SINGLE)


def decoded(ids) -> list[str]:
    return p.split_words(TOKENIZER.tokenizer.decode(list(ids), skip_special_tokens=False))


def spans(row, trained: bool) -> list[list[int]]:
    """Maximal runs of positions that are trained (or not), without the final eos."""
    runs: list[list[int]] = []
    previous = None
    for position, label in enumerate(row.labels[:-1]):
        if (label != IGNORE_INDEX) != trained:
            previous = None
            continue
        if previous is None:
            runs.append([])
        runs[-1].append(row.input_ids[position])
        previous = position
    return runs


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sft_labels_skip_prompt_and_messages(seed):
    trace = render_trace(derivation_4x4(seed), "mplm").trace
    rows, counts = trace_rows(trace, TOKENIZER, max_length=1024)
    assert counts.rows == len(trace.threads) == len(rows)

    for row, thread in zip(rows, trace.threads):
        ignored = spans(row, trained=False)
        assert decoded(ignored[0]) == [p.PROMPT, *thread.prompt, p.PROMPT_END]
        messages = [item for item in thread.items if item.kind is ItemKind.MSG]
        assert [decoded(span) for span in ignored[1:]] == [item.to_words() for item in messages]

        generated = [word for item in thread.items if item.generated for word in item.to_words()]
        assert [word for span in spans(row, trained=True) for word in decoded(span)] == generated
        assert row.labels[-1] == EOS
        assert row.input_ids[-1] == EOS


def test_sft_labels_copy_input_ids_where_trained():
    trace = render_trace(derivation_4x4(4), "mplm").trace
    rows, _ = trace_rows(trace, TOKENIZER, max_length=1024)
    for row in rows:
        assert len(row.input_ids) == len(row.labels) == len(row.attention_mask)
        assert all(label in (IGNORE_INDEX, token) for label, token in zip(row.labels, row.input_ids))
        assert set(row.attention_mask) == {1}


def test_sft_eos_trained_when_pad_is_eos():
    trace = render_trace(derivation_4x4(5), "mplm").trace
    rows, _ = trace_rows(trace, TOKENIZER, max_length=1024, eos_id=PAD)
    assert all(row.labels[-1] == PAD for row in rows)

    batch = pad_rows(rows, PAD)
    assert (batch["input_ids"] == PAD).sum() > len(rows)
    for row, labels, mask in zip(rows, batch["labels"].tolist(), batch["attention_mask"].tolist()):
        end = len(row.input_ids) - 1
        assert labels[end] == PAD
        assert mask[end] == 1
        assert set(labels[end + 1:]) <= {IGNORE_INDEX}
        assert set(mask[end + 1:]) <= {0}


@pytest.mark.parametrize("max_length", [40, 55, 70])
def test_sft_drops_long_rows_and_counts_them(max_length):
    trace = render_trace(derivation_4x4(6), "mplm").trace
    full, _ = trace_rows(trace, TOKENIZER, max_length=10_000)
    rows, counts = trace_rows(trace, TOKENIZER, max_length=max_length)

    too_long = sum(1 for row in full if len(row.input_ids) > max_length)
    assert too_long > 0
    assert counts.dropped_too_long == too_long
    assert counts.rows == len(full) - too_long == len(rows)
    assert all(len(row.input_ids) <= max_length for row in rows)
    assert all(row.trained_tokens > 0 for row in rows)


def test_sft_fork_child_row_starts_with_parent_context():
    trace = render_trace(derivation_4x4(7), "fj").trace
    rows, _ = trace_rows(trace, TOKENIZER, max_length=10_000)
    by_name = {row.thread: row for row in rows}
    parent = by_name["main"]
    child = by_name["b2@1"]

    fork_end = TOKENIZER.word_ids(p.FORK_END)[0]
    cut = parent.input_ids.index(fork_end) + 1
    assert child.input_ids[:cut] == parent.input_ids[:cut]
    assert set(child.labels[:cut]) == {IGNORE_INDEX}
    prompt = TOKENIZER.encode_words([p.PROMPT, "box", "b2", p.PROMPT_END])
    assert list(child.input_ids[cut:cut + len(prompt)]) == prompt
    assert set(child.labels[cut:cut + len(prompt)]) == {IGNORE_INDEX}
    assert child.labels[cut + len(prompt)] != IGNORE_INDEX


def test_sft_preempted_thread_has_untrained_eos():
    geometry = Geometry.for_size(6)
    derivation = derive(text_to_grid(".3.2..1.43...1....2....35......6...2", geometry), geometry)
    trace = render_trace(derivation, "mplm", hypotheses=True).trace
    rows, _ = trace_rows(trace, TOKENIZER, max_length=10_000)
    by_name = {row.thread: row for row in rows}

    stopped = [thread for thread in trace.threads if thread.items[-1].kind is ItemKind.STOP]
    assert stopped
    for thread in stopped:
        row = by_name[thread.name]
        stop_words = thread.items[-1].to_words()
        assert row.labels[-1] == IGNORE_INDEX
        assert set(row.labels[-1 - TOKENIZER.count_words(stop_words):]) == {IGNORE_INDEX}


def test_sft_cli_writes_rows(tmp_path: Path):
    records = [trace_record(derivation_4x4(seed), fmt, index=seed) for seed in (8, 9) for fmt in ("mplm", "cot")]
    source = tmp_path / "traces.arrow"
    write_traces(source, records)
    out = tmp_path / "sft.arrow"

    done = subprocess.run(MPLM_CLI + ["sft", str(source), "--max-length", "100", "--out", str(out)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    table = read_table(out)
    assert table.schema.remove_metadata().equals(SFT_SCHEMA)

    expected = [row for record in records
                for row in trace_rows(record.trace, TOKENIZER, max_length=100)[0]]
    assert table.column("thread").to_pylist() == [row.thread for row in expected]
    assert table.column("labels").to_pylist() == [list(row.labels) for row in expected]
    assert read_provenance(out)["max_length"] == 100
    assert "dropped 2 longer than 100 tokens" in " ".join(done.stdout.split())


def test_sft_cli_rejects_non_trace_file(tmp_path: Path):
    source = tmp_path / "other.arrow"
    write_table(source, pa.table({"x": pa.array([1], type=pa.int32())}))
    done = subprocess.run(MPLM_CLI + ["sft", str(source), "--max-length", "100",
                                      "--out", str(tmp_path / "sft.arrow")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "is not a trace file" in done.stderr
    assert not (tmp_path / "sft.arrow").exists()
