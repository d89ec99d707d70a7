"""Tests of the project tokenizer's vocabulary: every word the renderers write has its own tokens.

A word that the WordPiece pieces cannot spell becomes one `<unk>` token. Costs stay right, but a
model cannot tell such words apart, so every word of a Sudoku, 3-SAT or QA trace must encode
without `<unk>`.
"""

from __future__ import annotations

import pytest

from mplm_data.generators.dimacs import Formula
from mplm_data.generators.ksat import KsatConfig, generate_ksat
from mplm_data.generators.qa import GENERATED_KINDS, QAConfig, generate_qa
from mplm_data.solvers.sudoku_logic import derive
from mplm_data.traces.model import Trace
from mplm_data.traces.protocol import UNK
from mplm_data.traces.qa import render_qa_trace
from mplm_data.traces.sat import render_sat_trace
from mplm_data.traces.sudoku import render_trace
from mplm_data.traces.tokenizer import project_tokenizer
from trace_cases import minimal_puzzle, naked_single_derivation

TOKENIZER = project_tokenizer()
FORMATS = ["mplm", "fj", "cot"]


def _words(trace: Trace) -> list[str]:
    """Every word of the trace, thread names included (they are written by peers and in forks)."""
    return [word for thread in trace.threads for word in (thread.name, *thread.words())]


@pytest.mark.parametrize("n, fmt, decomposition", [
    (4, "mplm", "cell"), (9, "mplm", "box"), (9, "mplm", "unit"), (16, "mplm", "cell"),
    (16, "fj", "cell"), (16, "cot", "cell"),
])
def test_vocabulary_sudoku_words_known(n, fmt, decomposition):
    trace = render_trace(naked_single_derivation(n, 1), fmt, decomposition=decomposition).trace

    assert TOKENIZER.unknown_words(_words(trace)) == []


@pytest.mark.parametrize("seed", [2, 4])
def test_vocabulary_sudoku_hypothesis_words_known(seed):
    puzzle, _, geometry = minimal_puzzle(9, seed)
    trace = render_trace(derive(puzzle, geometry), "mplm", hypotheses=True).trace

    assert TOKENIZER.unknown_words(_words(trace)) == []


@pytest.mark.parametrize("n_vars, ratio, depth", [(50, 4.26, 3), (100, 3.5, 1), (20, 5.0, 4)])
@pytest.mark.parametrize("fmt", FORMATS)
def test_vocabulary_sat_words_known(n_vars, ratio, depth, fmt):
    formula = generate_ksat(KsatConfig(n_vars=n_vars, ratio=ratio), 1, 0).formula
    trace = render_sat_trace(formula, fmt, depth=depth).trace

    assert TOKENIZER.unknown_words(_words(trace)) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_vocabulary_sat_unsplit_words_known(fmt):
    # Unit clauses decide every variable, so the only cube thread is named `cube`.
    trace = render_sat_trace(Formula(2, ((1,), (-2,))), fmt, depth=2).trace

    assert TOKENIZER.unknown_words(_words(trace)) == []


@pytest.mark.parametrize("kind", GENERATED_KINDS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_vocabulary_qa_words_known(kind, fmt):
    config = QAConfig(kind=kind, length=2048, chunks=40, hops=4, distractors=6)
    item = generate_qa(config, 3, 0, count_tokens=TOKENIZER.count)
    trace = render_qa_trace(item, fmt).trace

    assert TOKENIZER.unknown_words(_words(trace)) == []


@pytest.mark.parametrize("word, tokens", [
    ("-17", ["-", "##17"]),
    ("-117", ["-", "##11", "##7"]),
    ("5&7", ["5", "##&", "##7"]),
    ("15&-5", ["15", "##&-", "##5"]),
    ("-1&-20&3", ["-", "##1", "##&-", "##20", "##&", "##3"]),
    ("15&-5@2", ["15", "##&-", "##5", "##@", "##2"]),
])
def test_vocabulary_literal_and_cube_pieces(word, tokens):
    encoding = TOKENIZER.tokenizer.encode(word, add_special_tokens=False)

    assert encoding.tokens == tokens
    assert TOKENIZER.count(word) == len(tokens)
    assert TOKENIZER.tokenizer.decode(encoding.ids) == word


@pytest.mark.parametrize("word", ["1-0", "12-15", "x-ray"])
def test_vocabulary_hyphenated_word_one_unknown(word):
    # Only `&-` continues a word with a hyphen, so document words such as scores stay one
    # `<unk>` token.
    assert TOKENIZER.tokenizer.encode(word, add_special_tokens=False).tokens == [UNK]


@pytest.mark.parametrize("piece", ["main", "cnf", "coins", "question", ",", "##&", "##&-"])
def test_vocabulary_new_pieces_after_sudoku_pieces(piece):
    # Pieces added for SAT and QA come after every Sudoku piece, so older token ids stay valid.
    assert TOKENIZER.tokenizer.token_to_id(piece) > TOKENIZER.tokenizer.token_to_id("##@")
