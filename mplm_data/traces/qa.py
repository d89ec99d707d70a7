"""Render a QA item in any trace format, and check a trace's answer.

`render_qa_trace(item, fmt, tokenizer)` is the entry point for `mplm`, `fj` and `cot` QA traces
(modules `qa_mplm`, `qa_fj`, `qa_cot`); it returns the trace with the schedule that measured its
costs. `qa_answer_check(kind, answer)` is the check that `validate` runs last: exactly one
thread answers, it is `main`, and its answer equals the item's answer (for track, the same
variables in any order).
"""

from __future__ import annotations

from typing import Callable

from mplm_data.generators.qa import QAItem, QAKind
from .model import ErrorKind, Trace, TraceError
from .qa_cot import render_qa_cot
from .qa_fj import render_qa_fj
from .qa_mplm import render_qa_mplm
from .qa_words import COORDINATOR
from .sudoku import FORMATS, RenderedTrace
from .tokenizer import TraceTokenizer, project_tokenizer
from .validate import item_positions

_RENDERERS = {"mplm": render_qa_mplm, "fj": render_qa_fj, "cot": render_qa_cot}


def render_qa_trace(item: QAItem, fmt: str, tokenizer: TraceTokenizer | None = None) -> RenderedTrace:
    """Render `item` as an `mplm`, `fj` or `cot` trace; raises ValueError for another format."""
    tokenizer = tokenizer or project_tokenizer()
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise ValueError(f"trace format {fmt!r} is unknown; use one of {', '.join(FORMATS)}")
    trace, schedule = renderer(item, tokenizer)
    return RenderedTrace(trace, schedule)


def qa_answer_check(kind: QAKind, answer: tuple[str, ...],
                    tokenizer: TraceTokenizer | None = None) -> Callable[[Trace], None]:
    """The check that a trace's `main` thread, and no other, answers `answer`."""
    tokenizer = tokenizer or project_tokenizer()
    kind = QAKind(kind)
    expected = tuple(answer)

    def check(trace: Trace) -> None:
        answering = [thread for thread in trace.threads if thread.answer is not None]
        if [thread.name for thread in answering] != [COORDINATOR]:
            names = ", ".join(thread.name for thread in answering) or "no thread"
            raise TraceError(ErrorKind.WRONG_ANSWER, COORDINATOR, -1,
                             f"{names} answers, but exactly one answer from {COORDINATOR} is "
                             f"expected")

        thread = answering[0]
        words = thread.answer
        same = sorted(words) == sorted(expected) if kind is QAKind.TRACK else words == expected
        if not same:
            position = item_positions(thread, tokenizer)[len(thread.items) - 1]
            raise TraceError(ErrorKind.WRONG_ANSWER, thread.name, position,
                             f"the answer is {' '.join(words)!r}, but the item's answer is "
                             f"{' '.join(expected)!r}")
    return check
