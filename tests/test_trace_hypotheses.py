"""Puzzles beyond a decomposition: filtered out, or solved with hypothesis threads."""

from __future__ import annotations

import numpy as np
import pytest

from mplm_data.generators.errors import MplmDataError
from mplm_data.generators.sudoku_geometry import Geometry, text_to_grid
from mplm_data.solvers.sudoku_derivation import Technique
from mplm_data.solvers.sudoku_logic import derive
from mplm_data.traces.model import ItemKind
from mplm_data.traces.sudoku import answer_check, hypothesis_count, render_trace
from mplm_data.traces.sudoku_hypotheses import derivation_guesses, plan_hypotheses
from mplm_data.traces.sudoku_words import NotExpressibleError, max_technique
from mplm_data.traces.tokenizer import project_tokenizer
from mplm_data.traces.validate import validate
from trace_cases import minimal_puzzle, naked_single_derivation


def _validate(rendered, derivation) -> None:
    validate(rendered.trace, answer_check=answer_check(derivation.puzzle, derivation.solution,
                                                       derivation.geometry))


@pytest.mark.parametrize("decomposition, technique", [("cell", Technique.NAKED_SINGLE),
                                                      ("box", Technique.NAKED_SINGLE),
                                                      ("unit", Technique.HIDDEN_SINGLE)])
def test_hypotheses_max_technique_mapping(decomposition, technique):
    assert max_technique(decomposition) is technique


def test_hypotheses_filter_rejects_hidden_single():
    puzzle, _, geometry = minimal_puzzle(9, 0)
    derivation = derive(puzzle, geometry)
    assert derivation.grade.technique > Technique.NAKED_SINGLE
    assert derive(puzzle, geometry, max_technique=max_technique("cell")) is None

    with pytest.raises(NotExpressibleError, match="--solvable-by naked_single"):
        render_trace(derivation, "mplm", decomposition="cell")


@pytest.mark.parametrize("n, seed", [(6, 22), (6, 56)])
def test_hypotheses_plan_equals_derivation_guesses(n, seed):
    # These derivations use singles and one guess only, so the unit decomposition's plan, made
    # with naked and hidden singles, must guess exactly what the grader guessed.
    puzzle, _, geometry = minimal_puzzle(n, seed)
    derivation = derive(puzzle, geometry)
    assert all(step.technique <= Technique.HIDDEN_SINGLE or step.technique >= Technique.GUESS
               for step in derivation.steps)
    assert derivation.grade.guesses == 1

    plan = plan_hypotheses(puzzle, geometry, hidden=True, limit=10)

    assert [(g.cell, g.digit, g.parent, g.refuted) for g in plan] == \
           [(g.cell, g.digit, g.parent, g.refuted) for g in derivation_guesses(derivation)]


@pytest.mark.parametrize("decomposition", ["cell", "box", "unit"])
@pytest.mark.parametrize("seed", [0, 4, 10])
def test_hypotheses_traces_validate(decomposition, seed):
    puzzle, solution, geometry = minimal_puzzle(9, seed)
    derivation = derive(puzzle, geometry)

    rendered = render_trace(derivation, "mplm", decomposition=decomposition, hypotheses=True)

    _validate(rendered, derivation)
    assert np.array_equal(derivation.solution, solution)
    words = [word for thread in rendered.trace.threads for word in thread.words()]
    assert project_tokenizer().unknown_words(words) == []


def test_hypotheses_success_preempts_waiting_cells():
    puzzle, _, geometry = minimal_puzzle(9, 4)
    trace = render_trace(derive(puzzle, geometry), "mplm", hypotheses=True).trace
    plan = plan_hypotheses(puzzle, geometry, hidden=False, limit=64)
    open_guesses = [guess for guess in plan if not guess.refuted]
    winner = next(guess.name for guess in open_guesses
                  if not any(plan[child - 1] in open_guesses for child in guess.children))

    stopped = [thread for thread in trace.threads if thread.items[-1].kind is ItemKind.STOP]

    assert trace.thread(winner).items[-1].kind is ItemKind.ANSWER
    assert stopped
    assert {thread.items[-1].peer for thread in stopped} == {winner}


def test_hypotheses_refutation_reaches_guessed_cell():
    puzzle, _, geometry = minimal_puzzle(9, 0)
    trace = render_trace(derive(puzzle, geometry), "mplm", hypotheses=True).trace
    plan = plan_hypotheses(puzzle, geometry, hidden=False, limit=64)
    refuted = next(guess for guess in plan if guess.refuted and guess.parent == 0)
    cell = geometry.cell_name(refuted.cell)

    received = [item.words for item in trace.thread(cell).items
                if item.kind is ItemKind.MSG and item.peer == refuted.name]

    assert received == [(cell, "not", str(refuted.digit))]


def test_hypotheses_none_needed_same_trace():
    derivation = naked_single_derivation(9, 0)

    plain = render_trace(derivation, "mplm")
    with_hypotheses = render_trace(derivation, "mplm", hypotheses=True)

    assert with_hypotheses.trace == plain.trace
    assert hypothesis_count(with_hypotheses.trace) == 0


def test_hypotheses_limit():
    puzzle, _, geometry = minimal_puzzle(9, 9)

    with pytest.raises(NotExpressibleError, match="more than 64 hypotheses"):
        render_trace(derive(puzzle, geometry), "mplm", hypotheses=True)


def test_hypotheses_plan_rejects_unsolvable():
    # r1c1 sees 1 and 2 in its row and 3 and 4 in its column, so it has no candidate.
    geometry = Geometry.for_size(4)
    puzzle = text_to_grid(".12.3...4.......", geometry)

    with pytest.raises(MplmDataError, match="no solution"):
        plan_hypotheses(puzzle, geometry, hidden=False, limit=10)


@pytest.mark.public_data
@pytest.mark.parametrize("name, decomposition", [
    ("tdoku_puzzles2_17_clue_first1000.txt", "unit"),
])
def test_hypotheses_public_puzzles(public_data, name, decomposition):
    geometry = Geometry.for_size(9)
    lines = (public_data / "sudoku" / name).read_text().splitlines()
    puzzles = [line.strip() for line in lines if line.strip() and not line.startswith("#")][:3]

    for text in puzzles:
        derivation = derive(text_to_grid(text, geometry), geometry)
        rendered = render_trace(derivation, "mplm", decomposition=decomposition, hypotheses=True)
        _validate(rendered, derivation)
