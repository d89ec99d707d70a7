"""Tests of the HotpotQA-style reader on tests/data/hotpot_small.json and broken copies of it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mplm_data.generators.errors import InputError
from mplm_data.generators.qa import QAKind
from mplm_data.qa_io import read_qa_records
from mplm_data.traces.model import ItemKind
from mplm_data.traces.qa import qa_answer_check, render_qa_trace
from mplm_data.traces.validate import validate

SMALL = Path(__file__).parent / "data" / "hotpot_small.json"
RECORDS = json.loads(SMALL.read_text(encoding="utf-8"))


def _write(tmp_path: Path, records, name: str = "records.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def test_qa_io_reads_small_file():
    items = read_qa_records(SMALL)

    assert [item.source for item in items] == ["hand-bridge-01", "hand-comparison-02", "hand-yesno-03"]
    assert [len(item.chunks) for item in items] == [4, 3, 5]
    assert [item.answer for item in items] == [("Tampere",), ("the", "Vessa"), ("no",)]
    assert all(item.kind is QAKind.EVIDENCE for item in items)


def test_qa_io_facts_are_supporting_sentences():
    item = read_qa_records(SMALL)[1]

    texts = [" ".join(fact.words) for fact in item.chain_facts]
    assert texts == ["The Vessa is a river of the northern plain.", "It is 212 kilometres long.",
                     "Its total length is 348 kilometres."]
    assert [fact.chunk for fact in item.chain_facts] == [2, 0, 2]
    assert item.chunks[0][:2] == ("Talborn", ":")


@pytest.mark.parametrize("record", [0, 1, 2])
@pytest.mark.parametrize("fmt", ["mplm", "fj", "cot"])
def test_qa_io_traces_validate(record, fmt):
    item = read_qa_records(SMALL)[record]
    rendered = render_qa_trace(item, fmt)

    schedule = validate(rendered.trace, answer_check=qa_answer_check(item.kind, item.answer))

    assert schedule.costs == rendered.costs
    assert rendered.trace.thread("main").answer == item.answer


@pytest.mark.parametrize("record", [0, 1, 2])
def test_qa_io_mplm_messages_follow_supporting_facts(record):
    item = read_qa_records(SMALL)[record]
    trace = render_qa_trace(item, "mplm").trace

    supporting = {fact.chunk for fact in item.facts}
    for chunk in range(len(item.chunks)):
        sends = [entry for entry in trace.thread(f"c{chunk + 1}").items if entry.kind is ItemKind.SEND]
        assert len(sends) == 1
        assert (sends[0].words == ("none",)) == (chunk not in supporting)


def test_qa_io_rejects_supporting_fact_past_paragraph_end(tmp_path):
    records = copy.deepcopy(RECORDS)
    records[0]["supporting_facts"][0] = ["Lindqvist Library", 3]
    path = _write(tmp_path, records)

    with pytest.raises(InputError) as error:
        read_qa_records(path)

    message = str(error.value)
    assert message.startswith(f"{path}: record 0 (_id hand-bridge-01): ")
    assert ("field 'supporting_facts' entry 0 points to sentence 3 of paragraph 'Lindqvist "
            "Library', which has 3 sentences (0..2); fix the index") in message


def _drop(field):
    def mutate(record):
        del record[field]
    return mutate


def _set(field, value):
    def mutate(record):
        record[field] = value
    return mutate


@pytest.mark.parametrize("mutate, fragment", [
    (_drop("question"), "field 'question' must be a non-empty string, got None"),
    (_set("answer", "  "), "field 'answer' must be a non-empty string"),
    (_set("context", {"a": 1}), "field 'context' must be a non-empty list"),
    (_set("context", [["Title", "one sentence"]]), "field 'context' entry 0 must be [title, [sentence"),
    (_drop("supporting_facts"), "field 'supporting_facts' must be a non-empty list"),
    (_set("supporting_facts", [["Nowhere", 0]]), "names paragraph 'Nowhere', which is not in 'context'"),
    (_set("supporting_facts", [["Aino Halme", True]]), "entry 0 must be [title, sentence index]"),
    (_set("supporting_facts", [["Aino Halme", -1]]), "points to sentence -1 of paragraph 'Aino Halme'"),
])
def test_qa_io_rejects_malformed_record(tmp_path, mutate, fragment):
    records = copy.deepcopy(RECORDS)
    mutate(records[0])
    path = _write(tmp_path, records)

    with pytest.raises(InputError) as error:
        read_qa_records(path)

    assert "record 0 (_id hand-bridge-01)" in str(error.value)
    assert fragment in str(error.value)


def test_qa_io_rejects_duplicate_titles(tmp_path):
    records = copy.deepcopy(RECORDS)
    records[2]["context"].append(["Lena Marsh", ["Another painter with the same name."]])
    path = _write(tmp_path, records)

    with pytest.raises(InputError) as error:
        read_qa_records(path)

    assert "record 2 (_id hand-yesno-03): field 'context' has two paragraphs titled 'Lena Marsh'" \
        in str(error.value)


@pytest.mark.parametrize("content, fragment", [
    ('{"question": "q"}', "the file contains a JSON dict, not an array of records"),
    ("[1, 2", "invalid JSON"),
    ("[]", "the file contains no records"),
    ("[3]", "record 0: a record must be a JSON object, got int"),
])
def test_qa_io_rejects_malformed_file(tmp_path, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(InputError) as error:
        read_qa_records(path)

    assert fragment in str(error.value)
    assert str(path) in str(error.value)


def test_qa_io_reads_json_lines_with_line_numbers(tmp_path):
    broken = copy.deepcopy(RECORDS[2])
    broken["supporting_facts"] = [["Osk Prize", 1]]
    lines = [json.dumps(RECORDS[0]), "", json.dumps(RECORDS[1]), json.dumps(broken)]
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    assert [item.source for item in read_qa_records(path, 0, 2)] == ["hand-bridge-01",
                                                                      "hand-comparison-02"]
    with pytest.raises(InputError) as error:
        read_qa_records(path)
    assert str(error.value).startswith(f"{path}:4: record 2 (_id hand-yesno-03): ")
    assert "which has 1 sentence (0..0)" in str(error.value)


def test_qa_io_escapes_protocol_tokens(tmp_path):
    records = copy.deepcopy(RECORDS[:1])
    records[0]["context"][2][1][0] = "Aino Halme<send> was an architect born in Tampere."
    path = _write(tmp_path, records)

    item = read_qa_records(path)[0]

    assert "Halme&lt;send>" in item.chunks[2]
    for fmt in ("mplm", "fj", "cot"):
        validate(render_qa_trace(item, fmt).trace, answer_check=qa_answer_check(item.kind, item.answer))
