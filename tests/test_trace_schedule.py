"""The event-driven scheduler agrees with a slow step-by-step simulation of the timing rules.

`lockstep` shares no code with mplm_data.traces.schedule: it walks steps 1, 2, 3, ... and in each
step applies the rules of docs/protocol.md in order (preemptions, then deliveries, then one token
per running thread), replaying the recorded text of every thread.
"""

from __future__ import annotations

import pytest

from mplm_data.solvers.sudoku_logic import derive
from mplm_data.traces.model import ItemKind, Trace
from mplm_data.traces.sudoku import render_trace
from mplm_data.traces.text import parse_document
from mplm_data.traces.tokenizer import project_tokenizer
from mplm_data.traces.validate import schedule_trace
from trace_cases import hand_derivation, minimal_puzzle, naked_single_derivation


def lockstep(trace: Trace) -> dict:
    """Simulate step by step; return per-thread (context, generated, end step) and the costs."""
    tokenizer = project_tokenizer()
    count = tokenizer.count_words
    threads = trace.threads
    size = len(threads)
    index = {thread.name: number for number, thread in enumerate(threads)}
    segments = [list(thread.items) for thread in threads]

    start = [0 if thread.parent is None else None for thread in threads]
    context = [count(["<prompt>", *thread.prompt, "</prompt>"]) if thread.parent is None else 0
               for thread in threads]
    generated, position, left = [0] * size, [0] * size, [0] * size
    status = ["run" if thread.parent is None else "new" for thread in threads]
    recv_step, end, answer = [0] * size, [-1] * size, [-1] * size
    inbox: list[list[tuple]] = [[] for _ in threads]
    sent, forks = [0] * size, [0] * size
    preempts: list[tuple] = []
    messages = 0
    limit = sum(count(thread.words()) for thread in threads) + 4 * sum(map(len, segments)) + 10

    def targets(sender: int, dest: str, step: int) -> list[int]:
        thread = threads[sender]
        if dest == "all":
            return [other for other in range(size)
                    if other != sender and start[other] is not None and start[other] <= step]
        if dest == "parent":
            return [index[thread.parent]]
        return [index[name] for name in thread.groups.get(dest, (dest,)) if index[name] != sender]

    for step in range(1, limit):
        busy = set()
        for due, sender, target, words in sorted(preempts):
            if due != step or status[target] == "ended":
                continue
            item = segments[target][position[target]]
            assert item.kind is ItemKind.STOP and item.peer == threads[sender].name
            context[target] += count(item.to_words())
            status[target], end[target] = "ended", step
            messages += 1
            busy.add(target)

        for number in range(size):
            if status[number] != "blocked" or recv_step[number] >= step or number in busy:
                continue
            ready = [message for message in inbox[number] if message[0] <= step]
            if not ready:
                continue
            message = min(ready)
            inbox[number].remove(message)
            item = segments[number][position[number]]
            assert (item.peer, item.words) == (threads[message[1]].name, message[3])
            context[number] += count(item.to_words())
            position[number] += 1
            status[number] = "run"
            messages += 1
            busy.add(number)

        for number in range(size):
            if status[number] != "run" or number in busy or start[number] >= step:
                continue
            if position[number] >= len(segments[number]):
                continue
            item = segments[number][position[number]]
            if item.kind is ItemKind.STOP:
                continue
            if left[number] == 0:
                left[number] = count(item.to_words())
            left[number] -= 1
            generated[number] += 1
            context[number] += 1
            if left[number]:
                continue

            position[number] += 1
            if item.kind is ItemKind.SEND:
                for target in targets(number, item.peer, step):
                    sent[number] += 1
                    inbox[target].append((step + 1, number, sent[number], item.words))
            elif item.kind is ItemKind.PREEMPT:
                preempts += [(step + 1, number, target, item.words)
                             for target in targets(number, item.peer, step)]
            elif item.kind is ItemKind.FORK:
                forks[number] += 1
                for label in item.words:
                    child = index[f"{label}@{forks[number]}"]
                    start[child], status[child] = step + 1, "run"
                    context[child] = context[number] + count(["<prompt>", *threads[child].prompt,
                                                              "</prompt>"])
            elif item.kind is ItemKind.RECV:
                status[number], recv_step[number] = "blocked", step
            elif item.kind in (ItemKind.HALT, ItemKind.ANSWER):
                status[number], end[number] = "ended", step
                if item.kind is ItemKind.ANSWER:
                    answer[number] = step

        if all(state == "ended" for state in status):
            break

    answers = [step for step in answer if step >= 0]
    return {"runs": list(zip(context, generated, end)), "messages": messages,
            "critical_path_steps": max(answers) if answers else max(end),
            "total_tokens": sum(generated), "max_context_tokens": max(context)}


def _compare(trace: Trace) -> None:
    schedule = schedule_trace(trace)
    expected = lockstep(trace)

    runs = [(run.context_tokens, run.generated_tokens, run.end_step) for run in schedule.runs]
    assert runs == expected["runs"]
    for name in ("messages", "critical_path_steps", "total_tokens", "max_context_tokens"):
        assert (name, getattr(schedule.costs, name)) == (name, expected[name])


@pytest.mark.parametrize("fmt", ["mplm", "fj", "cot"])
def test_schedule_matches_lockstep_hand(fmt):
    _compare(render_trace(hand_derivation(), fmt).trace)


@pytest.mark.parametrize("fmt, decomposition", [("mplm", "cell"), ("mplm", "box"), ("mplm", "unit"),
                                                ("fj", "box")])
@pytest.mark.parametrize("n, seed", [(4, 11), (9, 12), (9, 13)])
def test_schedule_matches_lockstep_sizes(fmt, decomposition, n, seed):
    _compare(render_trace(naked_single_derivation(n, seed), fmt, decomposition=decomposition).trace)


@pytest.mark.parametrize("decomposition, seed, preempted", [
    ("cell", 4, True), ("cell", 10, True), ("box", 8, True), ("unit", 4, False), ("cell", 2, False)])
def test_schedule_matches_lockstep_hypotheses(decomposition, seed, preempted):
    puzzle, _, geometry = minimal_puzzle(9, seed)
    trace = render_trace(derive(puzzle, geometry), "mplm", decomposition=decomposition,
                         hypotheses=True).trace
    stops = [item for thread in trace.threads for item in thread.items if item.kind is ItemKind.STOP]
    assert bool(stops) == preempted

    _compare(trace)


PREEMPT_CUTS_WORD = """#trace toy mplm pair
=== r1c1
<prompt> cell r1c1 </prompt> <preempt> r1c2 </preempt> <halt>
=== r1c2
<prompt> cell r1c2 </prompt> <send> r1c1 r3 <stop> r1c1 </stop>
"""


def test_schedule_matches_lockstep_cut_word():
    # r1c2 emits `<send> r1 ##c1 r3` ... and is stopped in step 5, after 4 tokens.
    _compare(parse_document(PREEMPT_CUTS_WORD))


def test_schedule_render_cuts_word():
    from mplm_data.traces.schedule import (Emit, GeneratorProgram, Halt, Preempt, Send,
                                           run_programs)

    def first():
        yield Preempt("r1c2", ())
        yield Halt()

    def second():
        yield Send("r1c1", ("r3c4",))
        yield Emit(("never",))
        yield Halt()

    trace, _ = run_programs("toy", "mplm", "pair", [
        ("r1c1", ("cell",), GeneratorProgram(first())),
        ("r1c2", ("cell",), GeneratorProgram(second()))], project_tokenizer())

    # `<send> r1 ##c1 r3 ##c4 </send>`: steps 1-4 emit `<send> r1 ##c1 r3` before the stop.
    assert [item.to_words() for item in trace.thread("r1c2").items] == [
        ["<send>", "r1c1", "r3"], ["<stop>", "r1c1", "</stop>"]]
    _compare(trace)
