"""Tests of the 3-SAT trace renderers: preemption, hand-checked costs, validity and answer checks.

The small formulas are built so that the traced DPLL takes a known path under each cube: a
formula whose conflict needs only some cube literals shows which peers a refutation stops, and a
pigeonhole part guarded by the split variables keeps every cube but one busy for hundreds of
steps.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pytest

from mplm_data.generators.dimacs import Formula, read_dimacs
from mplm_data.generators.errors import MplmDataError
from mplm_data.generators.ksat import KsatConfig, generate_ksat
from mplm_data.solvers.sat_labels import label_formula
from mplm_data.traces.model import ErrorKind, Item, ItemKind, Thread, Trace, TraceError
from mplm_data.traces.sat import render_sat_trace, sat_answer_check
from mplm_data.traces.sat_plan import plan_cubes
from mplm_data.traces.sat_stats import cut_threads
from mplm_data.traces.sat_words import JOIN, SAT_VOCABULARY, event_words
from mplm_data.traces.text import parse_document, render_document
from mplm_data.traces.tokenizer import project_tokenizer
from mplm_data.traces.validate import validate

FORMATS = ["mplm", "fj", "cot"]


def _chain_formula(length: int = 8) -> Formula:
    """Every clause contains 1, so cube 1 is satisfied at once. Under -1, unit propagation runs
    along the chain 2 -> 3 -> ... and from both ends at the same time, until clause 5 is false."""
    clauses = [(1, 2)] + [(1, -var, var + 1) for var in range(2, length + 1)] + [(1, -(length + 1))]
    return Formula(length + 1, tuple(clauses))


def _refutation_formula(chain: int = 12) -> Formula:
    """Split on (1, 2): cube 1&2 refutes {2} after a short search over 3 and 4, which stops -1&2.

    Under -1 a propagation chain over 8.. runs first, so -1&2 is still busy when 1&2 reports.
    Cube 1&-2 is refuted at once by clauses 5 and 6, and -1&-2 needs the chain and then a search
    over 5 and 6, so it runs on after the preemption and ends by itself.
    """
    clauses = [(-2, 3, 4), (-2, 3, -4), (-2, -3, 4), (-2, -3, -4), (2, -1, 7), (2, -1, -7),
               (1, 2, 5, 6), (1, 2, 5, -6), (1, 2, -5, 6), (1, 2, -5, -6), (1, 8)]
    clauses += [(1, -var, var + 1) for var in range(8, 8 + chain - 1)]
    return Formula(8 + chain - 1, tuple(clauses))


def _guarded_pigeonhole(pigeons: int = 4, holes: int = 3) -> Formula:
    """Pigeonhole clauses guarded by 1 and, in a copy, by 2: cube 1&2 satisfies every clause at
    once, and every other cube of the split (1, 2) has to refute the pigeonhole formula."""
    def var(pigeon: int, hole: int) -> int:
        return 3 + pigeon * holes + hole

    php = [tuple(var(pigeon, hole) for hole in range(holes)) for pigeon in range(pigeons)]
    php += [(-var(first, hole), -var(second, hole)) for hole in range(holes)
            for first, second in combinations(range(pigeons), 2)]
    clauses = [(1, *clause) for clause in php] + [(2, *clause) for clause in php]
    return Formula(2 + pigeons * holes, tuple(clauses))


def _stop_sender(thread: Thread) -> str | None:
    last = thread.items[-1]
    return last.peer if last.kind is ItemKind.STOP else None


def _validated(formula: Formula, fmt: str, **options):
    rendered = render_sat_trace(formula, fmt, **options)
    satisfiable = label_formula(formula).satisfiable
    schedule = validate(rendered.trace, answer_check=sat_answer_check(formula, satisfiable))
    assert schedule.costs == rendered.costs
    return rendered


# -- preemption ------------------------------------------------------------------------------------

def test_sat_refutation_preempts_exactly_containing_peers():
    formula = _refutation_formula()
    rendered = _validated(formula, "mplm", split=(1, 2))
    trace = rendered.trace
    ends = {run.name: run.end_step for run in rendered.schedule.runs}

    assert [thread.name for thread in trace.threads] == ["main", "1&2", "1&-2", "-1&2", "-1&-2"]
    assert trace.thread("1&2").items[-3] == Item(ItemKind.SEND, "main", ("refuted", "2"))
    assert trace.thread("1&2").items[-2] == Item(ItemKind.PREEMPT, "2", ())
    assert _stop_sender(trace.thread("-1&2")) == "1&2"
    assert _stop_sender(trace.thread("1&-2")) is None
    assert _stop_sender(trace.thread("-1&-2")) is None
    # -1&-2 was running when the preemption stopped -1&2, and finished later by itself.
    assert ends["-1&-2"] > ends["-1&2"]
    assert trace.thread("-1&-2").items[-1].kind is ItemKind.HALT
    assert trace.thread("main").answer == ("unsat",)


def test_sat_refutation_cuts_dpll_text():
    formula = _refutation_formula()
    rendered = render_sat_trace(formula, "mplm", split=(1, 2))
    full = event_words(plan_cubes(formula, split=(1, 2)).records[2])
    written = rendered.trace.thread("-1&2").items[0].words

    assert len(written) < len(full)
    assert written == full[:len(written)]
    assert cut_threads(rendered.trace) == 1


def test_sat_model_preempts_every_peer():
    formula = _guarded_pigeonhole()
    rendered = _validated(formula, "mplm", split=(1, 2))
    trace = rendered.trace

    assert trace.thread("1&2").items[-2] == Item(ItemKind.PREEMPT, "cubes", ())
    for name in ("1&-2", "-1&2", "-1&-2"):
        assert _stop_sender(trace.thread(name)) == "1&2"
    assert cut_threads(trace) == 3
    assert trace.thread("main").answer[0] == "sat"


def test_sat_model_preemption_saves_over_fj():
    formula = _guarded_pigeonhole()
    mplm = render_sat_trace(formula, "mplm", split=(1, 2))
    fj = render_sat_trace(formula, "fj", split=(1, 2))

    assert fj.costs.total_tokens > 3 * mplm.costs.total_tokens
    assert fj.costs.critical_path_steps > 3 * mplm.costs.critical_path_steps


def test_sat_simultaneous_refutations_both_reach_main():
    # Cubes 1&3&4 and 1&3&-4 refute {1, 3} before assuming their third literal, so they write
    # the same text and preempt each other in the same step, after both have reported.
    formula = Formula(6, ((-1, -3, 5), (-1, -3, -5), (1, 6), (3, 6), (4, 6)))
    rendered = _validated(formula, "mplm", split=(1, 3, 4))
    first, second = rendered.trace.thread("1&3&4"), rendered.trace.thread("1&3&-4")
    steps = {run.name: run.item_steps for run in rendered.schedule.runs}

    assert first.items[:-1] == second.items[:-1]
    assert steps["1&3&4"] == steps["1&3&-4"]
    assert _stop_sender(first) == "1&3&-4"
    assert _stop_sender(second) == "1&3&4"
    assert Item(ItemKind.SEND, "main", ("refuted", "1", "3")) in first.items


# -- hand-checked costs ----------------------------------------------------------------------------
# _chain_formula(8) split on 1 (the variable in every clause). Token counts, project tokenizer:
# protocol tokens, words and numbers up to 36 are one token each, a negative literal two.
#
# mplm: main's prompt `cnf vars 9 clauses 9 split 1 cubes 2` is 11 tokens with the markers. A cube
# prompt is 56: 47 for the formula, `cube 1` (2) or `cube -1` (3), the group `cubes` with the
# other cube (5 or 4). Thread 1 writes `assume 1` (steps 1-2), sends `sat 1 -2 ... -9` to main
# (21 tokens, steps 3-23), preempts `cubes` (24-26) and halts (27): 27 generated. Thread -1 is
# stopped in step 27 after 26 tokens (`assume -1 2 from 1 -9 from 9 3 from 2 -8 from 8 4 from 3
# -7 from 7 5 from`), and the notice `<stop> 1 </stop>` is 3. main receives the model in step 24
# (21 delivered) and answers it in steps 25-44 (20 tokens). Contexts 11+21+21=53, 56+27=83,
# 56+26+3=85; total 21+27+26=74; messages: one delivery and one preemption notice.
#
# fj: main's prompt is 49, it writes `split 1` (1-2) and `<fork> 1 -1 </fork>` (3-7). The
# children start in step 8 with a prefix of 56. Child 1@1 (prompt 4) writes 24 tokens and ends in
# step 32; child -1@1 (prompt 5) writes the whole refutation, 33 tokens, sends `refuted -1` (6)
# and halts in step 48. main receives 23 + 9 tokens in steps 32 and 48 and answers in 49-68.
#
# cot: prompt 49, `decide 1` (2) ends the search, and the 20-token answer ends in step 22.
HAND_COSTS = {
    "mplm": dict(threads=3, messages=2, max_context_tokens=85, mean_context_tokens=221 / 3,
                 total_tokens=74, critical_path_steps=44),
    "fj": dict(threads=3, messages=2, max_context_tokens=110, mean_context_tokens=295 / 3,
               total_tokens=93, critical_path_steps=68),
    "cot": dict(threads=1, messages=0, max_context_tokens=71, mean_context_tokens=71,
                total_tokens=22, critical_path_steps=22),
}
HAND_THREADS = {
    "mplm": [("main", 53, 21), ("1", 83, 27), ("-1", 85, 26)],
    "fj": [("main", 110, 29), ("1@1", 84, 24), ("-1@1", 101, 40)],
    "cot": [("main", 71, 22)],
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_sat_hand_instance_costs(fmt):
    rendered = _validated(_chain_formula(), fmt, depth=1)

    assert rendered.costs.as_dict() == pytest.approx(HAND_COSTS[fmt])


@pytest.mark.parametrize("fmt", FORMATS)
def test_sat_hand_instance_threads(fmt):
    rendered = render_sat_trace(_chain_formula(), fmt, depth=1)

    threads = [(run.name, run.context_tokens, run.generated_tokens) for run in rendered.schedule.runs]
    assert threads == HAND_THREADS[fmt]


def test_sat_hand_instance_mplm_text():
    trace = render_sat_trace(_chain_formula(), "mplm", depth=1).trace

    assert render_document(trace).splitlines()[2] == (
        "<prompt> cnf vars 9 clauses 9 split 1 cubes 2 </prompt> <recv> <msg> 1 sat 1 -2 -3 -4 "
        "-5 -6 -7 -8 -9 </msg> <answer> sat 1 -2 -3 -4 -5 -6 -7 -8 -9 </answer>")
    assert " ".join(trace.thread("1").items[0].words) == "assume 1"
    assert " ".join(trace.thread("-1").items[0].words) == \
        "assume -1 2 from 1 -9 from 9 3 from 2 -8 from 8 4 from 3 -7 from 7 5 from"
    assert trace.thread("-1").items[-1] == Item(ItemKind.STOP, "1", ())


def test_sat_hand_instance_fj_text():
    trace = render_sat_trace(_chain_formula(), "fj", depth=1).trace

    assert [(thread.name, thread.parent) for thread in trace.threads] == \
        [("main", None), ("1@1", "main"), ("-1@1", "main")]
    assert trace.thread("main").items[:2] == (Item(ItemKind.TEXT, words=("split", "1")),
                                              Item(ItemKind.FORK, words=("1", "-1")))
    assert trace.thread("-1@1").items[-2] == Item(ItemKind.SEND, "parent", ("refuted", "-1"))


# -- validity on generated and public formulas -----------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("n, ratio", [(8, 3.5), (15, 4.26), (25, 5.0), (30, 4.26)])
@pytest.mark.parametrize("index", [0, 1])
def test_sat_trace_validates(fmt, depth, n, ratio, index):
    formula = generate_ksat(KsatConfig(n_vars=n, ratio=ratio), 7, index).formula

    rendered = _validated(formula, fmt, depth=depth)

    assert rendered.trace.task == "sat"
    assert rendered.trace.format == fmt


@pytest.mark.parametrize("clauses, label", [
    ((), "sat"),                           # no clauses: SAT with the all-false model
    (((1,), (-1,)), "unsat"),              # refuted by level-0 propagation, no split variable
    (((1, 2), (-1,), (-2,)), "unsat"),
    (((1,), (2,)), "sat"),                  # unit clauses assign every variable
])
@pytest.mark.parametrize("fmt", FORMATS)
def test_sat_trace_decided_by_propagation(clauses, label, fmt):
    formula = Formula(2, clauses)

    rendered = _validated(formula, fmt, depth=2)

    assert rendered.trace.thread("main").answer[0] == label
    assert rendered.variables == ()


@pytest.mark.parametrize("name, satisfiable", [("uf20-01", True), ("uuf50-01", False)])
@pytest.mark.parametrize("fmt", FORMATS)
def test_sat_trace_public_formulas_validate(public_data: Path, name, satisfiable, fmt):
    formula = read_dimacs(public_data / "sat" / f"satlib_{name}.cnf")

    rendered = _validated(formula, fmt, depth=3)

    assert rendered.trace.thread("main").answer[0] == ("sat" if satisfiable else "unsat")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("depth", [1, 3])
def test_sat_trace_document_round_trip(fmt, depth):
    formula = generate_ksat(KsatConfig(n_vars=20, ratio=4.26), 3, 0).formula
    trace = render_sat_trace(formula, fmt, depth=depth).trace

    text = render_document(trace)

    assert parse_document(text) == trace
    assert render_document(parse_document(text)) == text


# -- savings ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("index", [4, 5, 17])
def test_sat_unsat_cut_fj_costs_more(index):
    formula = generate_ksat(KsatConfig(n_vars=20, ratio=5.0), 0, index).formula
    plan = plan_cubes(formula, 4)
    mplm = render_sat_trace(formula, "mplm", plan=plan)
    fj = render_sat_trace(formula, "fj", plan=plan)

    assert not label_formula(formula).satisfiable
    assert cut_threads(mplm.trace) >= 1
    assert fj.costs.total_tokens >= mplm.costs.total_tokens
    assert fj.costs.critical_path_steps >= mplm.costs.critical_path_steps


@pytest.mark.parametrize("depth", [5, 6])
def test_sat_public_unsat_cut_fj_costs_more(public_data: Path, depth):
    formula = read_dimacs(public_data / "sat" / "satlib_uuf50-01.cnf")
    plan = plan_cubes(formula, depth)
    mplm = render_sat_trace(formula, "mplm", plan=plan)
    fj = render_sat_trace(formula, "fj", plan=plan)

    assert cut_threads(mplm.trace) >= 1
    assert fj.costs.total_tokens >= mplm.costs.total_tokens


# -- answer check ----------------------------------------------------------------------------------

def _with_answer(trace: Trace, words: tuple[str, ...], name: str = "main") -> Trace:
    threads = []
    for thread in trace.threads:
        if thread.name == name:
            items = (*thread.items[:-1], Item(ItemKind.ANSWER, words=words))
            thread = Thread(thread.name, thread.prompt, items, thread.parent)
        threads.append(thread)
    return Trace(trace.task, trace.format, trace.decomposition, tuple(threads))


@pytest.mark.parametrize("words, reason", [
    (("sat", "1", "2", "3", "4", "5", "6", "7", "8", "9"), "falsifies"),
    (("sat", "1", "-2"), "exactly once"),
    (("sat", "1", "x"), "not a literal"),
    (("unsat",), "formula is SAT"),
    ((), "formula is SAT"),
])
def test_sat_answer_check_rejects_wrong_sat_answer(words, reason):
    formula = Formula(9, ((1, 2), (-2, -3), (1,), (-9, -8)))
    trace = render_sat_trace(formula, "cot").trace
    check = sat_answer_check(formula, True)
    check(trace)

    with pytest.raises(TraceError) as error:
        check(_with_answer(trace, words))

    assert error.value.kind is ErrorKind.WRONG_ANSWER
    assert reason in str(error.value)


@pytest.mark.parametrize("words", [("sat", "1", "-2"), ("unsat", "1")])
def test_sat_answer_check_rejects_wrong_unsat_answer(words):
    formula = Formula(2, ((1,), (-1, 2), (-2,)))
    trace = render_sat_trace(formula, "cot").trace
    check = sat_answer_check(formula, False)
    check(trace)

    with pytest.raises(TraceError) as error:
        check(_with_answer(trace, words))

    assert error.value.kind is ErrorKind.WRONG_ANSWER


def test_sat_answer_check_rejects_answer_from_cube_thread():
    formula = _chain_formula()
    trace = render_sat_trace(formula, "mplm", depth=1).trace
    model = trace.thread("main").answer
    forged = _with_answer(trace, model, name="-1")

    with pytest.raises(TraceError) as error:
        sat_answer_check(formula, True)(forged)

    assert "main, -1 answers" in str(error.value)


# -- words and plans -------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_sat_vocabulary_covers_unknown_words(fmt):
    formula = generate_ksat(KsatConfig(n_vars=50, ratio=4.26), 1, 0).formula
    trace = render_sat_trace(formula, fmt, depth=3).trace

    words = [word for thread in trace.threads for word in thread.words()]
    unknown = project_tokenizer().unknown_words(words)
    assert [word for word in unknown if word not in SAT_VOCABULARY and JOIN not in word] == []


def test_sat_plan_cubes_split_order():
    formula = _refutation_formula()

    plan = plan_cubes(formula, split=(2, 1))

    assert plan.cubes == ((2, 1), (2, -1), (-2, 1), (-2, -1))
    assert [record.cube for record in plan.records] == list(plan.cubes)


@pytest.mark.parametrize("split, message", [((1, 1), "distinct"), ((0,), "distinct"),
                                            ((30,), "distinct")])
def test_sat_plan_rejects_invalid_split(split, message):
    with pytest.raises(ValueError, match=message):
        plan_cubes(_refutation_formula(), split=split)


def test_sat_plan_rejects_run_past_event_budget():
    with pytest.raises(MplmDataError, match="max_events=5"):
        render_sat_trace(_guarded_pigeonhole(), "fj", split=(1, 2), max_events=5)


def test_sat_render_rejects_unknown_format():
    with pytest.raises(ValueError, match="unknown"):
        render_sat_trace(_chain_formula(), "tree")
