"""The runtime's protocol handling, driven by replay, scripted and program models (no learning)."""

from __future__ import annotations

import pytest

from mplm_data.generators.sudoku import PuzzleConfig, generate_puzzles
from mplm_data.generators.sudoku_geometry import Geometry, text_to_grid
from mplm_data.solvers.sudoku_derivation import Technique
from mplm_data.solvers.sudoku_logic import derive
from mplm_data.traces import protocol as p
from mplm_data.traces.model import Item, ItemKind, Thread, Trace
from mplm_data.traces.schedule import GeneratorProgram
from mplm_data.traces.sudoku import answer_check, render_trace
from mplm_data.traces.sudoku_regions import empty_cell_program, given_cell_program
from mplm_data.traces.sudoku_words import parse_cell
from mplm_data.traces.text import render_document
from mplm_data.traces.tokenizer import project_tokenizer
from mplm_data.runtime.engine import Runtime, RuntimeConfig
from mplm_data.runtime.models import ProgramModel, ReplayModel, ScriptedModel
from mplm_data.runtime.problems import Problem, problem_from_trace
from mplm_data.runtime.results import FaultKind, RunStatus, judge

TOKENIZER = project_tokenizer()

# 6x6 puzzles (2x3 boxes) from the project generator (minimal, seed 7, items 15 and 19) whose
# hypothesis-mode MPLM traces contain preemptions, one of them cutting an item short.
HYPOTHESIS_PUZZLES = (".....316......4....5..42...5...2....", ".3.2..1.43...1....2....35......6...2")


def derivations(n: int, count: int, seed: int, clues: int | None = None) -> list:
    config = PuzzleConfig(n=n, clues=clues)
    puzzles, _ = generate_puzzles(config, seed, 4 * count)
    found = [derive(puzzle, config.geometry, max_technique=Technique.NAKED_SINGLE) for puzzle in puzzles]
    found = [derivation for derivation in found if derivation is not None][:count]
    assert len(found) == count
    return found


def replay_run(traces: list[Trace], config: RuntimeConfig | None = None):
    runtime = Runtime(ReplayModel(traces, TOKENIZER), TOKENIZER, config)
    return runtime.run([problem_from_trace(trace) for trace in traces]), runtime


@pytest.mark.parametrize("fmt", ["mplm", "fj", "cot"])
@pytest.mark.parametrize("seed", [1, 2])
def test_replay_reproduces_generated_4x4_trace(fmt, seed):
    rendered = [render_trace(derivation, fmt) for derivation in derivations(4, 3, seed)]
    results, _ = replay_run([item.trace for item in rendered])

    for result, item in zip(results, rendered):
        assert result.status is RunStatus.COMPLETE
        assert result.faults == ()
        assert render_document(result.trace) == render_document(item.trace)
        assert result.costs == item.costs
        assert result.thread_tokens == tuple((run.context_tokens, run.generated_tokens)
                                             for run in item.schedule.runs)
        assert result.decode_steps == item.costs.critical_path_steps


@pytest.mark.parametrize("puzzle", HYPOTHESIS_PUZZLES)
def test_replay_reproduces_preemptions_and_partial_items(puzzle):
    geometry = Geometry.for_size(6)
    derivation = derive(text_to_grid(puzzle, geometry), geometry)
    item = render_trace(derivation, "mplm", hypotheses=True)
    kinds = {entry.kind for thread in item.trace.threads for entry in thread.items}
    assert ItemKind.STOP in kinds

    (result,), _ = replay_run([item.trace])
    assert render_document(result.trace) == render_document(item.trace)
    assert result.costs == item.costs
    verdict = judge(result, TOKENIZER, answer_check(derivation.puzzle, derivation.solution, geometry))
    assert verdict.solved


def test_replay_results_do_not_depend_on_batching():
    rendered = [render_trace(derivation, "mplm") for derivation in derivations(4, 5, 3)]
    traces = [item.trace for item in rendered]
    together, free = replay_run(traces)
    waves, limited = replay_run(traces, RuntimeConfig(max_live_threads=20))

    assert [render_document(result.trace) for result in waves] == \
        [render_document(result.trace) for result in together]
    assert [result.costs for result in waves] == [result.costs for result in together]
    assert limited.stats.peak_live_threads <= 20
    assert free.stats.peak_live_threads == 5 * 16
    assert limited.stats.steps > free.stats.steps


def test_scripted_model_that_never_sends_deadlocks():
    item = render_trace(derivations(4, 1, 4)[0], "mplm")
    recv = TOKENIZER.word_ids(p.RECV)[0]
    model = ScriptedModel(lambda context: recv, TOKENIZER.tokenizer.get_vocab_size())
    (result,) = Runtime(model, TOKENIZER).run([problem_from_trace(item.trace)])

    assert result.status is RunStatus.DEADLOCK
    assert set(result.waiting) == {thread.name for thread in item.trace.threads}
    assert result.steps == 1
    for fault, thread in zip(result.faults, item.trace.threads):
        assert fault.kind is FaultKind.DEADLOCK
        assert fault.thread == thread.name
        assert fault.position == TOKENIZER.count_words([p.PROMPT, *thread.prompt, p.PROMPT_END])
        assert "blocked in <recv> since step 1" in fault.reason
    assert not judge(result, TOKENIZER).valid


def _break_thread(trace: Trace, name: str) -> Trace:
    """Replace `<halt>` of thread `name` by the words `drop </msg>`, which a thread may not write."""
    threads = []
    for thread in trace.threads:
        if thread.name == name:
            assert thread.items[-1].kind is ItemKind.HALT
            broken = thread.items[:-1] + (Item(ItemKind.TEXT, words=("drop", p.MSG_END)),)
            thread = Thread(thread.name, thread.prompt, broken, thread.parent)
        threads.append(thread)
    return Trace(trace.task, trace.format, trace.decomposition, tuple(threads))


def test_malformed_thread_is_reported_and_others_go_on():
    item = render_trace(derivations(4, 1, 5)[0], "mplm")
    given = next(thread for thread in item.trace.threads if "given" in thread.prompt)
    broken = _break_thread(item.trace, given.name)
    (result,) = Runtime(ReplayModel([broken], TOKENIZER), TOKENIZER).run([problem_from_trace(item.trace)])

    (fault,) = result.faults
    assert fault.thread == given.name
    assert fault.kind is FaultKind.MALFORMED
    before = [p.PROMPT, *given.prompt, p.PROMPT_END, *given.items[0].to_words(), "drop"]
    assert fault.position == TOKENIZER.count_words(before)
    assert p.MSG_END in fault.reason
    assert result.status is RunStatus.COMPLETE

    for got, expected in zip(result.trace.threads, item.trace.threads):
        if got.name == given.name:
            assert got.items == expected.items[:-1] + (Item(ItemKind.TEXT, words=("drop",)),)
        else:
            assert got == expected
    verdict = judge(result, TOKENIZER)
    assert not verdict.valid
    assert verdict.valid_threads == verdict.threads - 1


def _cell_program(geometry: Geometry):
    def program_for(prompt: tuple[str, ...]):
        cell = parse_cell(prompt[1], geometry)
        if prompt[2] == "given":
            return GeneratorProgram(given_cell_program(int(prompt[3]), ("peers",)))
        return GeneratorProgram(empty_cell_program(cell, geometry, ("peers",)))
    return program_for


@pytest.mark.parametrize("n, clues, seed", [(4, None, 6), (4, None, 7), (9, 36, 8)])
def test_program_model_costs_match_generated_trace(n, clues, seed):
    rendered = [render_trace(derivation, "mplm") for derivation in derivations(n, 2, seed, clues)]
    model = ProgramModel(_cell_program(Geometry.for_size(n)), TOKENIZER)
    results = Runtime(model, TOKENIZER).run([problem_from_trace(item.trace) for item in rendered])

    for result, item in zip(results, rendered):
        assert result.faults == ()
        assert result.costs == item.costs
        assert render_document(result.trace) == render_document(item.trace)


def test_fork_with_unknown_label_is_reported():
    item = render_trace(derivations(4, 1, 9)[0], "fj")
    problem = problem_from_trace(item.trace)
    no_children = Problem(problem.task, problem.format, problem.decomposition, problem.roots)
    (result,) = Runtime(ReplayModel([item.trace], TOKENIZER), TOKENIZER).run([no_children])

    (fault,) = result.faults
    assert fault.kind is FaultKind.UNKNOWN_THREAD
    assert fault.thread == "main"
    assert "'b1'" in fault.reason


def test_problem_from_trace_collects_child_prompts():
    item = render_trace(derivations(4, 1, 10)[0], "fj")
    problem = problem_from_trace(item.trace, key="k")
    assert problem.roots == (("main", item.trace.threads[0].prompt),)
    assert problem.child_prompt("b3") == ("box", "b3")
    assert problem.child_prompt("b9") is None
    assert problem.key == "k"


@pytest.mark.parametrize("field, value", [("max_new_tokens", 0), ("max_live_threads", -1),
                                          ("max_steps", 1.5), ("temperature", -0.1), ("seed", -1)])
def test_runtime_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        RuntimeConfig(**{field: value})


def test_token_limit_stops_a_thread():
    item = render_trace(derivations(4, 1, 11)[0], "cot")
    config = RuntimeConfig(max_new_tokens=10)
    (result,) = Runtime(ReplayModel([item.trace], TOKENIZER), TOKENIZER, config).run(
        [problem_from_trace(item.trace)])
    (fault,) = result.faults
    assert fault.kind is FaultKind.TOKEN_LIMIT
    assert result.thread_tokens[0][1] == 10


def test_end_token_ids_stop_a_thread_like_eos():
    item = render_trace(derivations(4, 1, 12)[0], "cot")
    word = TOKENIZER.word_ids("sudoku")[0]
    model = ScriptedModel(lambda context: word, TOKENIZER.tokenizer.get_vocab_size())
    config = RuntimeConfig(end_token_ids=(word,))
    (result,) = Runtime(model, TOKENIZER, config).run([problem_from_trace(item.trace)])

    (fault,) = result.faults
    assert fault.kind is FaultKind.NO_END
    assert result.thread_tokens[0][1] == 0
