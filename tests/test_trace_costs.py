"""Hand-checked costs of the 4x4 traces of `trace_cases.hand_derivation`.

Puzzle `.234 3412 2143 432.`: only r1c1 and r4c4 are blank, and they are not peers. Token counts
under the project tokenizer: a cell name is 2 tokens (`r1 ##c1`), a fork child name 3
(`b1 ##@ ##1`), every other word and every protocol token 1.

MPLM (cell). A given cell's prompt `<prompt> cell r1c2 given 2 <group> peers` + 7 cells +
`</group> </prompt>` is 10 + 14 = 24 tokens; it generates `<send> peers 2 </send> <halt>` = 5,
so its context is 29, and its message is sent in step 4 and available from step 5. A blank cell's
prompt (`empty digits 4` instead of `given 2`) is 25. r1c1 hears r1c2 (2), r1c3 (3), r1c4 (4)
in sender order: `<recv>` in step 1, deliveries in steps 5, 11, 17 (each `<msg> r1c2 2 </msg>`
= 5 tokens), each followed by a 4-token update (`drop 2 left 3`) and the next `<recv>`; then
`<send> peers 1 </send>` (steps 22-25) and `<answer> 1 </answer>` (26-28). Generated
3 + 12 + 4 + 3 = 22, delivered 15, context 62. r4c4 hears r1c4 (4), r2c4 (2), r3c3 (4, so
`drop none left 2`), r3c4 (3): generated 4 + 16 + 4 + 3 = 27, delivered 20, context 72, answer
ends in step 34. Totals: 7 messages, 14 * 5 + 22 + 27 = 119 tokens, mean context
(14 * 29 + 62 + 72) / 16 = 33.75.

CoT. Prompt `sudoku n 4 box 2 x 2 grid` + 16 cells + 3 `|` = 27 words + 2 = 29 tokens. Each step
`naked_single r1c1 = 1 from` + 3 premises of 4 tokens + `;` = 19 tokens; the answer is 21
(19 grid words + 2). Generated 59, context 88, last step 59.

FJ. Prompt 29; `<fork> b1 b2 b3 b4 </fork>` ends in step 6. Children start in step 7 with the
35-token prefix plus `<prompt> box b1 </prompt>` (4). b1@1 and b4@1 write one 19-token step
(steps 8-26), send `<send> parent r1c1 = 1 </send>` (7 tokens, steps 27-33) and halt in 34:
generated 27, context 66. b2@1 and b3@1 send `<send> parent none </send>` (steps 8-11) and halt:
generated 5, context 44. The parent's `<recv>` in step 7 gets b2@1 in step 12 (available then,
lower index than b3@1), b3@1 in 14, b1@1 in 34, b4@1 in 36, then answers in steps 37-57.
Parent: generated 6 + 4 + 21 = 31, delivered 6 + 6 + 9 + 9 = 30, context 90. Mean context
(90 + 66 + 44 + 44 + 66) / 5 = 62; total tokens 31 + 27 + 5 + 5 + 27 = 95.
"""

from __future__ import annotations

import pytest

from mplm_data.traces.schedule import Costs
from mplm_data.traces.sudoku import render_trace
from mplm_data.traces.validate import validate
from trace_cases import hand_derivation

EXPECTED = {
    "mplm": Costs(threads=16, messages=7, max_context_tokens=72, mean_context_tokens=33.75,
                  total_tokens=119, critical_path_steps=34),
    "cot": Costs(threads=1, messages=0, max_context_tokens=88, mean_context_tokens=88.0,
                 total_tokens=59, critical_path_steps=59),
    "fj": Costs(threads=5, messages=4, max_context_tokens=90, mean_context_tokens=62.0,
                total_tokens=95, critical_path_steps=57),
}

# (thread, context tokens, generated tokens, step each item ends in)
EXPECTED_RUNS = {
    "mplm": [("r1c1", 62, 22, [1, 5, 9, 10, 11, 15, 16, 17, 21, 25, 28]),
             ("r1c2", 29, 5, [4, 5]),
             ("r4c4", 72, 27, [1, 5, 9, 10, 11, 15, 16, 17, 21, 22, 23, 27, 31, 34])],
    "cot": [("main", 88, 59, [38, 59])],
    "fj": [("main", 90, 31, [6, 7, 12, 13, 14, 15, 34, 35, 36, 57]),
           ("b1@1", 66, 27, [26, 33, 34]),
           ("b2@1", 44, 5, [11, 12]),
           ("b3@1", 44, 5, [11, 12]),
           ("b4@1", 66, 27, [26, 33, 34])],
}


@pytest.mark.parametrize("fmt", ["mplm", "cot", "fj"])
def test_costs_hand_checked_4x4(fmt):
    rendered = render_trace(hand_derivation(), fmt)

    assert rendered.costs == EXPECTED[fmt]


@pytest.mark.parametrize("fmt", ["mplm", "cot", "fj"])
def test_costs_hand_checked_threads(fmt):
    runs = {run.name: run for run in render_trace(hand_derivation(), fmt).schedule.runs}

    for name, context, generated, steps in EXPECTED_RUNS[fmt]:
        assert (name, runs[name].context_tokens) == (name, context)
        assert (name, runs[name].generated_tokens) == (name, generated)
        assert (name, runs[name].item_steps) == (name, steps)


@pytest.mark.parametrize("fmt", ["mplm", "cot", "fj"])
def test_costs_validator_reproduces_render(fmt):
    rendered = render_trace(hand_derivation(), fmt)

    assert validate(rendered.trace).costs == EXPECTED[fmt]


def test_costs_mplm_updates_hand_checked():
    trace = render_trace(hand_derivation(), "mplm").trace

    words = " ".join(" ".join(item.to_words()) for item in trace.thread("r4c4").items)
    assert words == ("<recv> <msg> r1c4 4 </msg> drop 4 left 3 <recv> <msg> r2c4 2 </msg> "
                     "drop 2 left 2 <recv> <msg> r3c3 4 </msg> drop none left 2 "
                     "<recv> <msg> r3c4 3 </msg> drop 3 left 1 <send> peers 1 </send> "
                     "<answer> 1 </answer>")
