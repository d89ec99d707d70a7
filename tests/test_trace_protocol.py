"""Protocol tokens, the project tokenizer, and word splitting."""

from __future__ import annotations

import importlib.util
import json

import pytest

from mplm_data.traces import protocol as p
from mplm_data.traces.sudoku import render_trace
from mplm_data.traces.text import ThreadParser, thread_text
from mplm_data.traces.tokenizer import (PROJECT_TOKENIZER, load_tokenizer, project_tokenizer,
                                        save_pretrained)
from mplm_data.generators.errors import InputError
from trace_cases import hand_derivation, naked_single_derivation


@pytest.mark.parametrize("token", p.PROTOCOL_TOKENS)
@pytest.mark.parametrize("template", ["{}", "1{}2", " {} ", "r1c2{}r3c4", "{}{}"])
def test_protocol_token_is_one_token(token, template):
    tokenizer = project_tokenizer().tokenizer
    text = template.format(token, token)

    tokens = tokenizer.encode(text, add_special_tokens=False).tokens

    assert tokens.count(token) == text.count(token)
    assert "<unk>" not in tokens


@pytest.mark.parametrize("word, pieces", [
    ("r12c7", ["r12", "##c7"]),
    ("b3@2", ["b3", "##@", "##2"]),
    ("h17", ["h", "##17"]),
    ("36", ["36"]),
    ("137", ["13", "##7"]),
    ("naked_single", ["naked_single"]),
])
def test_protocol_word_pieces(word, pieces):
    assert project_tokenizer().tokenizer.encode(word, add_special_tokens=False).tokens == pieces


@pytest.mark.parametrize("fmt, decomposition", [("mplm", "cell"), ("mplm", "box"), ("mplm", "unit"),
                                                ("fj", "box"), ("cot", "single")])
@pytest.mark.parametrize("n", [4, 9])
def test_protocol_rendered_text_decodes_back(fmt, decomposition, n):
    tokenizer = project_tokenizer()
    trace = render_trace(naked_single_derivation(n, 3), fmt, decomposition=decomposition).trace

    for thread in trace.threads:
        text = thread_text(thread)
        ids = tokenizer.tokenizer.encode(text, add_special_tokens=False).ids
        assert tokenizer.unknown_words(thread.words()) == []
        assert tokenizer.tokenizer.decode(ids, skip_special_tokens=False) == text
        assert len(ids) == tokenizer.count_words(thread.words())


@pytest.mark.parametrize("text, words", [
    ("x<recv>y", ["x", "<recv>", "y"]),
    ("  <send> r1c2 3</send>", ["<send>", "r1c2", "3", "</send>"]),
    ("a<b c", ["a<b", "c"]),
    ("<send><send>", ["<send>", "<send>"]),
    ("", []),
])
def test_protocol_split_words(text, words):
    assert p.split_words(text) == words


@pytest.mark.parametrize("chunk", [1, 2, 5, 11])
def test_protocol_stream_parser_matches_whole_parse(chunk):
    trace = render_trace(hand_derivation(), "mplm").trace
    thread = trace.thread("r4c4")
    tokenizer = project_tokenizer()
    parser = ThreadParser("r4c4", generated_only=True, prompt=thread.prompt)

    events = []
    for item in thread.items:
        if not item.generated:
            parser.deliver(item)
            continue
        # Feed the decoded text of the item's tokens a few characters at a time, as a runtime
        # decoding token by token would.
        ids = tokenizer.encode_words(item.to_words())
        text = " " + tokenizer.tokenizer.decode(ids, skip_special_tokens=False)
        for start in range(0, len(text), chunk):
            events += parser.feed(text[start:start + chunk])
    events += parser.close()

    assert parser.thread() == thread
    assert [event.kind.value for event in events][:3] == ["recv", "text", "recv"]


def test_protocol_stream_parser_reports_recv_at_once():
    parser = ThreadParser("r1c1", generated_only=True, prompt=("cell",))

    assert parser.feed("drop 3 left") == []
    assert [item.kind.value for item in parser.feed(" 2 <recv>")] == ["text", "recv"]


def test_protocol_stream_parser_rejects_generated_delivery():
    parser = ThreadParser("r1c1", generated_only=True, prompt=("cell",))

    with pytest.raises(ValueError, match="only the runtime"):
        parser.feed("<recv> <msg>")


def test_protocol_save_pretrained_files(tmp_path):
    folder = save_pretrained(project_tokenizer(), tmp_path / "tok")

    config = json.loads((folder / "tokenizer_config.json").read_text())
    assert config["pad_token"] == "<pad>"
    assert config["eos_token"] == "<eos>"
    assert config["unk_token"] == "<unk>"
    assert load_tokenizer(folder).count("<send>") == 1


@pytest.mark.skipif(importlib.util.find_spec("transformers") is None,
                    reason="transformers is not installed")
def test_protocol_transformers_loads_saved_tokenizer(tmp_path):
    from transformers import PreTrainedTokenizerFast

    folder = save_pretrained(project_tokenizer(), tmp_path / "tok")
    loaded = PreTrainedTokenizerFast.from_pretrained(str(folder))

    assert loaded.pad_token == "<pad>"
    assert loaded.convert_tokens_to_ids("<recv>") == project_tokenizer().tokenizer.token_to_id("<recv>")
    assert loaded.decode(loaded.encode("r1c2 <recv>", add_special_tokens=False)) == "r1c2 <recv>"


def test_protocol_loaded_tokenizer_counts_differ_by_ident(tmp_path):
    folder = save_pretrained(project_tokenizer(), tmp_path / "tok")

    loaded = load_tokenizer(folder)

    assert loaded.name == "tok"
    assert loaded.ident != project_tokenizer().ident
    assert project_tokenizer().ident.startswith(PROJECT_TOKENIZER + "@")


def test_protocol_missing_tokenizer_folder(tmp_path):
    with pytest.raises(InputError, match="no tokenizer.json"):
        load_tokenizer(tmp_path / "absent")


def test_protocol_loaded_tokenizer_counts_traces(tmp_path):
    # A tokenizer loaded from a folder counts each word with its leading space; for the project
    # vocabulary that gives the same counts, under another identifier.
    from mplm_data.traces.storage import trace_record
    from mplm_data.traces.validate import validate

    loaded = load_tokenizer(save_pretrained(project_tokenizer(), tmp_path / "tok"))
    derivation = hand_derivation()

    record = trace_record(derivation, "mplm", loaded)

    assert record.tokenizer == loaded.ident
    assert record.costs == render_trace(derivation, "mplm").costs
    assert validate(record.trace, tokenizer=loaded).costs == record.costs
