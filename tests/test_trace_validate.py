"""The validator names the thread, token position and reason of each broken trace."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mplm_data.traces.model import ErrorKind, Item, ItemKind, Trace, TraceError
from mplm_data.traces.sudoku import answer_check, render_trace
from mplm_data.traces.text import parse_document, parse_thread
from mplm_data.traces.validate import validate
from trace_cases import hand_derivation

# Prompt lengths in the hand-built 4x4 MPLM trace (see test_trace_costs): a given cell's prompt
# is 24 tokens, a blank cell's 25.
GIVEN_PROMPT, BLANK_PROMPT = 24, 25


def _mplm_trace() -> Trace:
    return render_trace(hand_derivation(), "mplm").trace


def _replace_thread(trace: Trace, name: str, items: tuple[Item, ...]) -> Trace:
    threads = tuple(dataclasses.replace(thread, items=items) if thread.name == name else thread
                    for thread in trace.threads)
    return dataclasses.replace(trace, threads=threads)


def _error(trace: Trace, **kwargs) -> TraceError:
    with pytest.raises(TraceError) as caught:
        validate(trace, **kwargs)
    return caught.value


def test_validate_accepts_rendered_trace():
    derivation = hand_derivation()
    trace = _mplm_trace()

    schedule = validate(trace, answer_check=answer_check(derivation.puzzle, derivation.solution,
                                                         derivation.geometry))
    assert schedule.costs.threads == 16


def test_validate_deleted_message_unmatched():
    trace = _mplm_trace()
    items = trace.thread("r1c2").items
    assert items[0].kind is ItemKind.SEND

    error = _error(_replace_thread(trace, "r1c2", items[1:]))

    assert error.kind is ErrorKind.UNMATCHED_RECV
    assert error.thread == "r1c1"
    assert error.position == BLANK_PROMPT


def test_validate_send_to_missing_thread():
    trace = _mplm_trace()
    items = trace.thread("r1c2").items
    broken = (Item(ItemKind.SEND, "r9c9", items[0].words),) + items[1:]

    error = _error(_replace_thread(trace, "r1c2", broken))

    assert error.kind is ErrorKind.UNKNOWN_THREAD
    assert error.thread == "r1c2"
    assert error.position == GIVEN_PROMPT


DEADLOCK = """#trace toy mplm pair
=== r1c1
<prompt> cell r1c1 </prompt> <recv> <msg> r1c2 1 </msg> <send> r1c2 2 </send> <halt>
=== r1c2
<prompt> cell r1c2 </prompt> <recv> <msg> r1c1 2 </msg> <send> r1c1 1 </send> <halt>
"""


def test_validate_deadlock():
    error = _error(parse_document(DEADLOCK))

    assert error.kind is ErrorKind.DEADLOCK
    assert error.thread == "r1c1"
    # `<prompt> cell r1 ##c1 </prompt>` is 5 tokens; the `<recv>` is token 5.
    assert error.position == 5


def test_validate_order_mismatch():
    trace = _mplm_trace()
    items = list(trace.thread("r1c1").items)
    first, second = items[1], items[4]
    assert first.kind is second.kind is ItemKind.MSG
    items[1], items[4] = second, first

    error = _error(_replace_thread(trace, "r1c1", tuple(items)))

    assert error.kind is ErrorKind.ORDER
    assert error.thread == "r1c1"
    assert error.position == BLANK_PROMPT


def test_validate_text_after_halt():
    trace = _mplm_trace()
    items = trace.thread("r1c2").items + (Item(ItemKind.TEXT, words=("late",)),)

    error = _error(_replace_thread(trace, "r1c2", items))

    assert error.kind is ErrorKind.AFTER_END
    assert error.thread == "r1c2"
    # The send (4 tokens) and `<halt>` (1) come before the extra word.
    assert error.position == GIVEN_PROMPT + 5


def test_validate_parse_rejects_text_after_halt():
    with pytest.raises(TraceError) as caught:
        parse_thread("r1c1", "<prompt> x </prompt> <halt> more")

    assert caught.value.kind is ErrorKind.AFTER_END
    assert caught.value.position == 4


def test_validate_missing_end():
    trace = _mplm_trace()
    items = trace.thread("r1c2").items[:-1]

    error = _error(_replace_thread(trace, "r1c2", items))

    assert error.kind is ErrorKind.NO_END
    assert error.thread == "r1c2"
    assert error.position == GIVEN_PROMPT + 4


PREEMPTED = """#trace toy mplm pair
=== r1c1
<prompt> cell r1c1 </prompt> <preempt> r1c2 </preempt> <halt>
=== r1c2
<prompt> cell r1c2 </prompt> drop 1 left 3 <stop> r1c1 </stop>
"""


def test_validate_preemption_cut_text():
    # `<preempt> r1 ##c2 </preempt>` ends in step 4, so r1c2 is stopped in step 5, after the 4
    # tokens of `drop 1 left 3`.
    schedule = validate(parse_document(PREEMPTED))

    assert schedule.costs.messages == 1
    assert schedule.runs[1].end_step == 5


def test_validate_preemption_missing_in_text():
    text = PREEMPTED.replace("drop 1 left 3 <stop> r1c1 </stop>", "drop 1 left 3 1 2 <halt>")

    error = _error(parse_document(text))

    assert error.kind is ErrorKind.AFTER_END
    assert error.thread == "r1c2"
    # 5 prompt tokens, then the 4 tokens generated before step 5.
    assert error.position == 9


def test_validate_preemption_never_sent():
    text = PREEMPTED.replace("<preempt> r1c2 </preempt> <halt>", "<halt>")

    error = _error(parse_document(text))

    assert error.kind is ErrorKind.UNMATCHED_STOP
    assert error.thread == "r1c2"
    assert error.position == 9


@pytest.mark.parametrize("text, position", [
    ("drop 1", 0),
    ("<prompt> x </prompt> <send> </send>", 4),
    ("<prompt> x </prompt> <msg> r1c1 1 </msg>", 3),
    ("<prompt> x </prompt> <recv> <send> r1c1 1 </send>", 4),
    ("<prompt> x </prompt> </send>", 3),
    ("<prompt> x <recv> </prompt>", 2),
    ("<prompt> x </prompt> <send> r1c1 <recv> </send>", 6),
    ("<prompt> x </prompt> <fork> </fork>", 4),
])
def test_validate_malformed_markup(text, position):
    with pytest.raises(TraceError) as caught:
        parse_thread("t", text)

    assert caught.value.kind is ErrorKind.MALFORMED
    assert caught.value.position == position


def test_validate_wrong_answer():
    derivation = hand_derivation()
    trace = _mplm_trace()
    items = trace.thread("r1c1").items
    wrong = items[:-1] + (Item(ItemKind.ANSWER, words=("2",)),)
    solution = np.asarray(derivation.solution)

    error = _error(_replace_thread(trace, "r1c1", wrong),
                   answer_check=answer_check(derivation.puzzle, solution, derivation.geometry))

    assert error.kind is ErrorKind.WRONG_ANSWER
    assert error.thread == "r1c1"
    # Prompt 25, then 19 generated and 15 delivered tokens before the answer.
    assert error.position == 59


def test_validate_missing_answer():
    derivation = hand_derivation()
    trace = _mplm_trace()
    items = trace.thread("r4c4").items[:-1] + (Item(ItemKind.HALT),)

    error = _error(_replace_thread(trace, "r4c4", items),
                   answer_check=answer_check(derivation.puzzle, derivation.solution,
                                             derivation.geometry))

    assert error.kind is ErrorKind.WRONG_ANSWER
    assert "r4c4" in error.reason


def test_validate_fork_child_out_of_order():
    trace = render_trace(hand_derivation(), "fj").trace
    threads = list(trace.threads)
    threads[1], threads[2] = threads[2], threads[1]

    error = _error(dataclasses.replace(trace, threads=tuple(threads)))

    assert error.kind is ErrorKind.MALFORMED
    assert error.thread == "b1@1"


def test_validate_preemption_before_next_item():
    # r1c2's `<halt>` would be emitted in step 5, the step the preemption stops it in.
    text = PREEMPTED.replace("drop 1 left 3 <stop> r1c1 </stop>", "drop 1 left 3 <halt>")

    error = _error(parse_document(text))

    assert error.kind is ErrorKind.AFTER_END
    assert error.thread == "r1c2"
    assert error.position == 9


@pytest.mark.parametrize("fmt, decomposition", [("mplm", "cell"), ("mplm", "box"), ("fj", "box"),
                                                ("cot", "single")])
@pytest.mark.parametrize("seed", [0, 1])
def test_validate_mutations_raise_trace_errors(fmt, decomposition, seed):
    # Model output can be anything: a mutated trace either validates or raises TraceError,
    # never another exception.
    import random

    from mplm_data.traces.text import render_document
    from trace_cases import naked_single_derivation

    derivation = naked_single_derivation(4, seed)
    check = answer_check(derivation.puzzle, derivation.solution, derivation.geometry)
    lines = render_document(render_trace(derivation, fmt, decomposition=decomposition).trace).split("\n")
    rng = random.Random(seed)
    replacements = ["<recv>", "<halt>", "r9c9", "3", "</send>", "<stop>", "all", "parent", "<fork>"]

    outcomes = set()
    for _ in range(40):
        mutated = list(lines)
        number = rng.randrange(2, len(lines) - 1, 2)
        words = mutated[number].split(" ")
        position = rng.randrange(len(words))
        if rng.random() < 0.5:
            del words[position]
        else:
            words[position] = rng.choice(replacements)
        mutated[number] = " ".join(words)
        try:
            validate(parse_document("\n".join(mutated)), answer_check=check)
            outcomes.add("valid")
        except TraceError as err:
            outcomes.add(err.kind.value)
    assert outcomes - {"valid"}
