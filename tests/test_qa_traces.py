"""Tests of the QA trace renderers: validity, context growth, round trips and the answer check."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mplm_data.arrow_io import write_table
from mplm_data.generators.qa import GENERATED_KINDS, QAConfig, QAKind, generate_qa
from mplm_data.qa_rows import (QATraceTask, qa_row_costs, qa_row_trace, read_qa_rows,
                               validate_qa_row)
from mplm_data.traces.model import ErrorKind, Item, ItemKind, Trace, TraceError
from mplm_data.traces.qa import qa_answer_check, render_qa_trace
from mplm_data.traces.qa_words import QA_VOCABULARY
from mplm_data.traces.text import parse_document, render_document
from mplm_data.traces.tokenizer import project_tokenizer
from mplm_data.traces.validate import validate

FORMATS = ["mplm", "fj", "cot"]
CHUNK_TOKENS = 256
LENGTHS = [512, 1024, 2048, 4096]


def _item(kind: QAKind, seed: int, length: int = 768, chunks: int = 4, hops: int = 3,
          distractors: int = 4):
    config = QAConfig(kind=kind, length=length, chunks=chunks, hops=hops, distractors=distractors)
    return generate_qa(config, seed, 0, count_tokens=project_tokenizer().count)


@pytest.mark.parametrize("kind", GENERATED_KINDS)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("seed, chunks, hops", [(0, 1, 1), (1, 2, 2), (2, 4, 3), (3, 6, 7), (4, 1, 5)])
def test_qa_trace_validates(kind, fmt, seed, chunks, hops):
    item = _item(kind, seed, length=128 * chunks, chunks=chunks, hops=hops)
    rendered = render_qa_trace(item, fmt)

    schedule = validate(rendered.trace, answer_check=qa_answer_check(item.kind, item.answer))

    assert schedule.costs == rendered.costs
    assert rendered.trace.task == "qa"
    assert rendered.trace.format == fmt


def _mean_max_context(kind: QAKind, fmt: str, length: int) -> float:
    values = []
    for seed in range(3):
        item = _item(kind, seed, length=length, chunks=length // CHUNK_TOKENS, hops=3)
        values.append(render_qa_trace(item, fmt).costs.max_context_tokens)
    return float(np.mean(values))


@pytest.mark.parametrize("kind", GENERATED_KINDS)
def test_qa_mplm_context_flat_cot_linear(kind):
    mplm = [_mean_max_context(kind, "mplm", length) for length in LENGTHS]
    cot = [_mean_max_context(kind, "cot", length) for length in LENGTHS]

    # Chunk threads read 256 tokens whatever the document length.
    assert max(mplm) <= 1.15 * min(mplm)
    assert max(mplm) < 2 * CHUNK_TOKENS
    # CoT's context contains the whole document: 8x the length gives nearly 8x the context.
    assert cot[-1] / cot[0] > 7
    assert all(value > length for value, length in zip(cot, LENGTHS))


@pytest.mark.parametrize("kind", [QAKind.TRACK, QAKind.LOOKUP])
def test_qa_fj_parent_context_grows_with_chunks(kind):
    small = _mean_max_context(kind, "fj", LENGTHS[0])
    large = _mean_max_context(kind, "fj", LENGTHS[-1])

    assert large > 1.4 * small


@pytest.mark.parametrize("kind", [QAKind.TRACK, QAKind.LOOKUP])
@pytest.mark.parametrize("hops", [1, 2, 5])
def test_qa_fj_one_round_per_hop(kind, hops):
    item = _item(kind, 4, length=1024, chunks=4, hops=hops)

    trace = render_qa_trace(item, "fj").trace

    forks = [entry for entry in trace.thread("main").items if entry.kind is ItemKind.FORK]
    assert len(forks) == hops
    assert len(trace.threads) == 1 + hops * 4


@pytest.mark.parametrize("kind", GENERATED_KINDS)
def test_qa_mplm_thread_without_facts_halts_early(kind):
    item = _item(kind, 5, length=2048, chunks=8, hops=2, distractors=0)
    trace = render_qa_trace(item, "mplm").trace

    empty = [chunk for chunk in range(8) if not item.chunk_facts(chunk)]
    assert empty
    for chunk in empty:
        kinds = [entry.kind for entry in trace.thread(f"c{chunk + 1}").items]
        if kind in (QAKind.TRACK, QAKind.LOOKUP):
            assert kinds == [ItemKind.RECV, ItemKind.MSG, ItemKind.HALT]
        else:
            assert kinds == [ItemKind.RECV, ItemKind.MSG, ItemKind.SEND, ItemKind.HALT]


@pytest.mark.parametrize("kind", GENERATED_KINDS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_qa_text_round_trip(kind, fmt):
    item = _item(kind, 6)
    rendered = render_qa_trace(item, fmt)

    document = render_document(rendered.trace)
    parsed = parse_document(document)

    assert parsed == rendered.trace
    assert render_document(parsed) == document
    assert validate(parsed, answer_check=qa_answer_check(item.kind, item.answer)).costs == rendered.costs


@pytest.mark.parametrize("suffix", [".arrow", ".parquet"])
@pytest.mark.parametrize("kind", GENERATED_KINDS)
def test_qa_arrow_round_trip(tmp_path, suffix, kind):
    task = QATraceTask(kind=kind, length=512, chunks=4, hops=2, distractors=3)
    table = task.rows(11, 0, 3)
    path = tmp_path / f"rows{suffix}"

    write_table(path, table, provenance={"task": task.name})
    rows = read_qa_rows(path)

    assert len(rows) == 3 * len(FORMATS)
    assert rows == table.to_pylist()
    for row in rows:
        assert validate_qa_row(row) == qa_row_costs(row)
    item = generate_qa(task.qa_config, 11, 0, count_tokens=project_tokenizer().count)
    assert qa_row_trace(rows[0]) == render_qa_trace(item, rows[0]["format"]).trace


def _with_answer(trace: Trace, words: tuple[str, ...]) -> Trace:
    main = trace.thread("main")
    items = main.items[:-1] + (Item(ItemKind.ANSWER, words=words),)
    threads = tuple(replace(main, items=items) if thread.name == "main" else thread
                    for thread in trace.threads)
    return replace(trace, threads=threads)


@pytest.mark.parametrize("fmt", FORMATS)
def test_qa_answer_check_rejects_wrong_answer(fmt):
    item = _item(QAKind.LOOKUP, 7)
    trace = _with_answer(render_qa_trace(item, fmt).trace, ("1",))

    with pytest.raises(TraceError) as error:
        validate(trace, answer_check=qa_answer_check(item.kind, item.answer))

    assert error.value.kind is ErrorKind.WRONG_ANSWER
    assert error.value.thread == "main"
    assert f"the item's answer is '{item.answer[0]}'" in str(error.value)


def test_qa_answer_check_accepts_track_in_any_order():
    item = _item(QAKind.TRACK, 8, hops=4)
    trace = _with_answer(render_qa_trace(item, "cot").trace, tuple(reversed(item.answer)))

    validate(trace, answer_check=qa_answer_check(item.kind, item.answer))


def test_qa_answer_check_rejects_answer_from_chunk_thread():
    item = _item(QAKind.COUNT, 9)
    trace = render_qa_trace(item, "mplm").trace
    chunk = trace.thread("c1")
    answered = replace(chunk, items=chunk.items[:-1] + (Item(ItemKind.ANSWER, words=item.answer),))
    trace = replace(trace, threads=tuple(answered if t.name == "c1" else t for t in trace.threads))

    with pytest.raises(TraceError) as error:
        qa_answer_check(item.kind, item.answer)(trace)

    assert error.value.kind is ErrorKind.WRONG_ANSWER
    assert "main, c1 answers" in str(error.value)


@pytest.mark.parametrize("kind", GENERATED_KINDS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_qa_vocabulary_covers_unknown_words(kind, fmt):
    tokenizer = project_tokenizer()
    trace = render_qa_trace(_item(kind, 10, length=2048, chunks=40), fmt).trace

    words = [word for thread in trace.threads for word in thread.words()]
    unknown = tokenizer.unknown_words(words)
    assert [word for word in unknown if word not in QA_VOCABULARY] == []


@pytest.mark.parametrize("kind", [QAKind.TRACK, QAKind.LOOKUP])
def test_qa_fj_one_chunk_resolves_in_one_round(kind):
    item = _item(kind, 12, length=256, chunks=1, hops=5)

    trace = render_qa_trace(item, "fj").trace

    assert [thread.name for thread in trace.threads] == ["main", "c1@1"]
    assert trace.thread("main").answer == item.answer
