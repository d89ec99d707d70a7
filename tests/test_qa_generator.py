"""Tests of the synthetic QA generator: config checks, determinism, placement, answers, filler."""

from __future__ import annotations

import re

import pytest

from mplm_data.generators.errors import InputError
from mplm_data.generators.qa import (GENERATED_KINDS, MIN_CHUNK_TOKENS, QAConfig, QAKind,
                                     generate_qa)
from mplm_data.generators.qa_text import GRAMMAR_WORDS, is_reserved, load_filler_words
from mplm_data.traces.tokenizer import project_tokenizer
from qa_oracle import oracle_answer

SHAPES = [  # (length, chunks, hops, distractors)
    (64, 1, 1, 0),
    (256, 3, 2, 2),
    (1024, 8, 5, 10),
    (2048, 16, 20, 30),
]


@pytest.mark.parametrize("field, value, fragment", [
    ("kind", "evidence", "kind must be one of"),
    ("kind", "bogus", "kind must be one of"),
    ("chunks", 0, "chunks must be an integer in 1..4096"),
    ("length", 8 * MIN_CHUNK_TOKENS - 1, f"length must be an integer in {8 * MIN_CHUNK_TOKENS}.."),
    ("hops", 0, "hops must be an integer in 1.."),
    ("hops", True, "hops must be an integer"),
    ("distractors", -1, "distractors must be an integer in 0.."),
])
def test_qa_config_rejects_invalid(field, value, fragment):
    with pytest.raises(ValueError) as error:
        QAConfig(**{"chunks": 8, field: value})

    assert fragment in str(error.value)
    assert repr(value) in str(error.value)


@pytest.mark.parametrize("kind", GENERATED_KINDS)
@pytest.mark.parametrize("seed", [0, 7])
def test_qa_generate_deterministic(kind, seed):
    config = QAConfig(kind=kind, length=512, chunks=4, hops=3, distractors=5)

    first = generate_qa(config, seed, 3)
    again = generate_qa(config, seed, 3)
    other = generate_qa(config, seed, 4)

    assert first == again
    assert first.chunks != other.chunks


@pytest.mark.parametrize("kind", GENERATED_KINDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_qa_facts_located_in_chunks(kind, shape):
    length, chunks, hops, distractors = shape
    item = generate_qa(QAConfig(kind=kind, length=length, chunks=chunks, hops=hops,
                                distractors=distractors), 1, 0)

    assert len(item.facts) == hops + distractors
    assert item.hops == hops
    for fact in item.facts:
        words = item.chunks[fact.chunk]
        assert words[fact.offset:fact.offset + len(fact.words)] == fact.words
        assert words[fact.offset + len(fact.words)] == "."
    assert list(item.facts) == sorted(item.facts, key=lambda fact: (fact.chunk, fact.offset))


@pytest.mark.parametrize("kind", GENERATED_KINDS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_qa_answer_matches_oracle(kind, shape, seed):
    length, chunks, hops, distractors = shape
    item = generate_qa(QAConfig(kind=kind, length=length, chunks=chunks, hops=hops,
                                distractors=distractors), seed, 5)

    expected = oracle_answer(list(item.question), item.document_words())
    answer = sorted(item.answer) if kind is QAKind.TRACK else list(item.answer)
    assert answer == expected


@pytest.mark.parametrize("kind", [QAKind.TRACK, QAKind.LOOKUP])
@pytest.mark.parametrize("chunks", [2, 3, 8])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_qa_chain_crosses_chunks(kind, chunks, seed):
    item = generate_qa(QAConfig(kind=kind, length=64 * chunks, chunks=chunks, hops=6,
                                distractors=3), seed, 0)

    placed = [fact.chunk for fact in item.chain_facts]
    assert all(before != after for before, after in zip(placed, placed[1:]))


@pytest.mark.parametrize("kind", [QAKind.TRACK, QAKind.LOOKUP])
def test_qa_chain_answer_in_chain_order(kind):
    item = generate_qa(QAConfig(kind=kind, length=512, chunks=4, hops=4, distractors=6), 3, 0)

    chain = item.chain_facts
    if kind is QAKind.TRACK:
        assert item.answer == tuple(fact.words[0] for fact in chain)
        assert chain[0].words[2] == item.question[5]
        assert all(later.words[2] == earlier.words[0] for earlier, later in zip(chain, chain[1:]))
    else:
        assert chain[0].words[0] == item.question[3]
        assert all(later.words[0] == earlier.words[2] for earlier, later in zip(chain, chain[1:]))
        assert item.answer == (chain[-1].words[2],)


@pytest.mark.parametrize("kind", [QAKind.COUNT, QAKind.SUM])
@pytest.mark.parametrize("hops, chunks", [(4, 4), (9, 4), (3, 8)])
def test_qa_aggregate_spread_over_chunks(kind, hops, chunks):
    item = generate_qa(QAConfig(kind=kind, length=64 * chunks, chunks=chunks, hops=hops,
                                distractors=4), 2, 0)

    placed = [fact.chunk for fact in item.chain_facts]
    assert len(set(placed)) == min(hops, chunks)
    assert all(fact.words[0] == item.question[2] for fact in item.chain_facts)


@pytest.mark.parametrize("length, chunks", [(256, 3), (1000, 7), (4096, 16)])
def test_qa_chunk_lengths_meet_budgets_in_words(length, chunks):
    item = generate_qa(QAConfig(length=length, chunks=chunks, hops=2, distractors=2), 0, 0)

    base, extra = divmod(length, chunks)
    assert [len(chunk) for chunk in item.chunks] == [base + (k < extra) for k in range(chunks)]


@pytest.mark.parametrize("kind", GENERATED_KINDS)
def test_qa_chunk_lengths_meet_budgets_in_tokens(kind):
    tokenizer = project_tokenizer()
    config = QAConfig(kind=kind, length=2048, chunks=8, hops=3, distractors=4)

    item = generate_qa(config, 0, 0, count_tokens=tokenizer.count)

    longest_word = max(tokenizer.count(word) for word in item.document_words())
    for chunk in item.chunks:
        tokens = tokenizer.count_words(chunk)
        assert 256 <= tokens < 256 + longest_word


def test_qa_grammar_avoids_reserved_words():
    assert [word for word in GRAMMAR_WORDS if is_reserved(word)] == []


@pytest.mark.parametrize("kind", GENERATED_KINDS)
def test_qa_filler_holds_no_fact_words(kind):
    item = generate_qa(QAConfig(kind=kind, length=1024, chunks=4, hops=3, distractors=3), 4, 0)

    in_facts = {(fact.chunk, fact.offset + position) for fact in item.facts
                for position in range(len(fact.words) + 1)}
    filler = [word for chunk, words in enumerate(item.chunks) for offset, word in enumerate(words)
              if (chunk, offset) not in in_facts]
    assert [word for word in filler if re.search(r"[0-9=]", word)] == []
    assert set(filler) <= set(GRAMMAR_WORDS)


def test_qa_file_filler_drops_reserved_words(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("The x12 = value of 4821 stays. Coins fall; rivers run!\n", encoding="utf-8")

    words = load_filler_words([str(text)])

    assert words == ("The", "stays.", "fall;", "rivers", "run!")


def test_qa_file_filler_fills_documents(tmp_path):
    text = tmp_path / "story.txt"
    text.write_text("A lighthouse keeper counted gulls every evening. " * 3, encoding="utf-8")

    item = generate_qa(QAConfig(length=256, chunks=2, hops=2, distractors=1,
                                filler=(str(text),)), 0, 0)

    fact_words = {word for fact in item.facts for word in fact.words} | {"."}
    filler = set(item.document_words()) - fact_words
    assert filler == {"A", "lighthouse", "keeper", "counted", "gulls", "every", "evening."}


def test_qa_public_text_as_filler(public_data):
    item = generate_qa(QAConfig(length=2048, chunks=4, hops=3, distractors=2,
                                filler=(str(public_data / "INDEX.md"),)), 0, 0)

    expected = oracle_answer(list(item.question), item.document_words())
    assert sorted(item.answer) == expected
    assert len(item.document_words()) == 2048


@pytest.mark.parametrize("content, fragment", [
    (None, "filler file not found"),
    ("12 = 34 <x> question", "contain no usable words"),
])
def test_qa_file_filler_rejects_unusable(tmp_path, content, fragment):
    path = tmp_path / "filler.txt"
    if content is not None:
        path.write_text(content, encoding="utf-8")

    with pytest.raises(InputError) as error:
        generate_qa(QAConfig(length=256, chunks=2, filler=(str(path),)), 0, 0)

    assert fragment in str(error.value)
    assert str(path) in str(error.value)
