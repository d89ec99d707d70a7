"""Hand-checked costs of a 3-chunk, 2-hop lookup item in every trace format.

The item: chunk c1 `the river x1 = x2 .`, chunk c2 `one lamp glows .` (no fact), chunk c3
`x2 = 4821 . the end`; the question `question value of x1`, the answer `4821`. Token counts under
the project tokenizer: `x1`, `x2` are 2 tokens (`x ##1`), `4821` is 3 (`4 ##8 ##21`), a fork child
`c1@2` is 3 (`c1 ##@ ##2`), every other word and every protocol token 1. So the chunks are 8, 4
and 9 tokens, and `main`'s prompt `question value of x1 chunks 3` is 7 + 2 = 9 tokens.

MPLM. `main` sends the question (`<send> all question value of x1 </send>`, 8 tokens, steps 1-8),
so every chunk thread, blocked in `<recv>` since step 1, receives it in step 9 (8 tokens). c2 has
no fact and halts in step 10. c1 (prompt 13) holds `x1 = x2` and sends `<send> all x1 = x2 .
</send>` (9 tokens, steps 10-18), then waits (`<recv>` in 19). c3 (prompt 14) has no match yet
and waits (`<recv>` in 10); it receives c1's fact in step 19 (9 tokens), sends `x2 = 4821 .`
(10 tokens, steps 20-29) and halts in 30, because the chain ends in a value. `main` (`<recv>` in
9) receives c1's fact in 19, waits again (`<recv>` in 20), receives c3's in 30 (10 tokens) and
answers `<answer> 4821 </answer>` in steps 31-35. c1 receives c3's fact in 30 and halts in 31.
c2 ended before either fact was sent, so both skip it: 3 + 2 + 2 = 7 messages. Contexts: main
9 + 15 + 19 = 43, c1 13 + 12 + 18 = 43, c2 9 + 2 + 8 = 19, c3 14 + 13 + 17 = 44; generated
15 + 12 + 2 + 13 = 42; mean 149 / 4 = 37.25.

FJ. `main` writes `find x1 =` (4 tokens, steps 1-4) and `<fork> c1 c2 c3 </fork>` (5, steps
5-9). The round-1 children start in step 10 with the 18-token prefix; c2@1 and c3@1 send
`<send> parent none </send>` (steps 11-14) and halt in 15; c1@1 sends `x1 = x2 .` (9 tokens,
steps 11-19) and halts in 20. `main` (`<recv>` in 10) receives c2@1 in 15 and c3@1 in 17 (6 tokens
each: `<msg> c2@1 none </msg>`) and c1@1 in 20 (11 tokens). Round 2: `find x2 =` (steps 21-24)
and the fork (25-29); the children start in step 30 with the 53-token prefix (9 + 21 generated +
23 delivered). c1@2 and c2@2 send `none` (steps 31-34, halt 35); c3@2 sends `x2 = 4821 .` (10
tokens, steps 31-40) and halts in 41. `main` (`<recv>` in 30) receives them in steps 35, 37 and
41 (6, 6 and 12 tokens), then answers in steps 42-46. Contexts: main 9 + 29 + 47 = 85; round 1
c1@1 18 + 13 + 10 = 41, c2@1 18 + 9 + 5 = 32, c3@1 18 + 14 + 5 = 37; round 2 c1@2 53 + 13 + 5 =
71, c2@2 53 + 9 + 5 = 67, c3@2 53 + 14 + 11 = 78. Mean 411 / 7, generated 29 + 10 + 5 * 4 + 11 = 70.

CoT. Prompt `question value of x1 chunks 3 text` and the 21-token document: 8 + 21 + 2 = 31. It
writes `x1 = x2 . x2 = 4821 .` (13 tokens, steps 1-13) and `<answer> 4821 </answer>` (14-18):
context 49.
"""

from __future__ import annotations

import pytest

from mplm_data.generators.qa import QAFact, QAItem, QAKind
from mplm_data.traces.qa import qa_answer_check, render_qa_trace
from mplm_data.traces.schedule import Costs
from mplm_data.traces.validate import validate


def hand_item() -> QAItem:
    """The 3-chunk, 2-hop lookup item of the module docstring."""
    chunks = (("the", "river", "x1", "=", "x2", "."),
              ("one", "lamp", "glows", "."),
              ("x2", "=", "4821", ".", "the", "end"))
    facts = (QAFact(("x1", "=", "x2"), 0, 2), QAFact(("x2", "=", "4821"), 2, 0))
    return QAItem(QAKind.LOOKUP, chunks, facts, (0, 1), ("question", "value", "of", "x1"),
                  ("4821",))


EXPECTED = {
    "mplm": Costs(threads=4, messages=7, max_context_tokens=44, mean_context_tokens=37.25,
                  total_tokens=42, critical_path_steps=35),
    "fj": Costs(threads=7, messages=6, max_context_tokens=85, mean_context_tokens=411 / 7,
                total_tokens=70, critical_path_steps=46),
    "cot": Costs(threads=1, messages=0, max_context_tokens=49, mean_context_tokens=49.0,
                 total_tokens=18, critical_path_steps=18),
}

# (thread, context tokens, generated tokens, step each item ends in)
EXPECTED_RUNS = {
    "mplm": [("main", 43, 15, [8, 9, 19, 20, 30, 35]),
             ("c1", 43, 12, [1, 9, 18, 19, 30, 31]),
             ("c2", 19, 2, [1, 9, 10]),
             ("c3", 44, 13, [1, 9, 10, 19, 29, 30])],
    "fj": [("main", 85, 29, [4, 9, 10, 15, 16, 17, 18, 20, 24, 29, 30, 35, 36, 37, 38, 41, 46]),
           ("c1@1", 41, 10, [19, 20]),
           ("c2@1", 32, 5, [14, 15]),
           ("c3@1", 37, 5, [14, 15]),
           ("c1@2", 71, 5, [34, 35]),
           ("c2@2", 67, 5, [34, 35]),
           ("c3@2", 78, 11, [40, 41])],
    "cot": [("main", 49, 18, [13, 18])],
}

EXPECTED_TEXT = {
    ("mplm", "main"): "<send> all question value of x1 </send> <recv> <msg> c1 x1 = x2 . </msg> "
                      "<recv> <msg> c3 x2 = 4821 . </msg> <answer> 4821 </answer>",
    ("mplm", "c2"): "<recv> <msg> main question value of x1 </msg> <halt>",
    ("mplm", "c3"): "<recv> <msg> main question value of x1 </msg> <recv> <msg> c1 x1 = x2 . </msg> "
                    "<send> all x2 = 4821 . </send> <halt>",
    ("fj", "main"): "find x1 = <fork> c1 c2 c3 </fork> <recv> <msg> c2@1 none </msg> <recv> "
                    "<msg> c3@1 none </msg> <recv> <msg> c1@1 x1 = x2 . </msg> find x2 = <fork> "
                    "c1 c2 c3 </fork> <recv> <msg> c1@2 none </msg> <recv> <msg> c2@2 none </msg> "
                    "<recv> <msg> c3@2 x2 = 4821 . </msg> <answer> 4821 </answer>",
    ("cot", "main"): "x1 = x2 . x2 = 4821 . <answer> 4821 </answer>",
}


@pytest.mark.parametrize("fmt", ["mplm", "fj", "cot"])
def test_qa_hand_costs(fmt):
    rendered = render_qa_trace(hand_item(), fmt)

    assert rendered.costs == EXPECTED[fmt]


@pytest.mark.parametrize("fmt", ["mplm", "fj", "cot"])
def test_qa_hand_thread_runs(fmt):
    runs = {run.name: run for run in render_qa_trace(hand_item(), fmt).schedule.runs}

    assert sorted(runs) == sorted(name for name, *_ in EXPECTED_RUNS[fmt])
    for name, context, generated, steps in EXPECTED_RUNS[fmt]:
        assert (name, runs[name].context_tokens) == (name, context)
        assert (name, runs[name].generated_tokens) == (name, generated)
        assert (name, runs[name].item_steps) == (name, steps)


@pytest.mark.parametrize("fmt, thread", sorted(EXPECTED_TEXT))
def test_qa_hand_thread_text(fmt, thread):
    trace = render_qa_trace(hand_item(), fmt).trace

    words = " ".join(" ".join(item.to_words()) for item in trace.thread(thread).items)
    assert words == EXPECTED_TEXT[fmt, thread]


@pytest.mark.parametrize("fmt", ["mplm", "fj", "cot"])
def test_qa_hand_validator_reproduces_costs(fmt):
    item = hand_item()
    rendered = render_qa_trace(item, fmt)

    schedule = validate(rendered.trace, answer_check=qa_answer_check(item.kind, item.answer))
    assert schedule.costs == EXPECTED[fmt]
