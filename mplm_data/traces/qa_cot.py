"""Chain-of-thought QA traces: one thread that reads the whole document and states the chain.

The thread `main` has the question, `chunks K`, `text` and the whole document as its prompt. It
writes the chain facts in resolution order, each closed by `.` (track and lookup: resolved by
`ChainReader` from every fact of the document; count and sum: the facts of the asked category in
document order; evidence: the supporting sentences), and answers. Its context is the whole
document plus the chain, so it grows linearly with the document.
"""

from __future__ import annotations

from typing import Generator

from mplm_data.generators.qa import QAItem, QAKind
from .model import Trace
from .qa_words import COORDINATOR, TEXT, ChainReader, aggregate_reply, facts_words, main_prompt
from .schedule import Action, Answer, Emit, GeneratorProgram, Schedule, run_programs
from .tokenizer import TraceTokenizer


def _cot_program(item: QAItem) -> Generator[Action, object, None]:
    facts = [fact.words for fact in item.facts]
    if item.kind in (QAKind.TRACK, QAKind.LOOKUP):
        reader = ChainReader(item.kind, item.question)
        chain = reader.resolve(facts)
        answer = reader.answer() if reader.done else ()
    elif item.kind in (QAKind.COUNT, QAKind.SUM):
        chain, total = aggregate_reply(facts, item.question)
        answer = (total,)
    else:
        chain, answer = [fact.words for fact in item.chain_facts], item.answer

    if chain:
        yield Emit(facts_words(chain))
    yield Answer(answer)


def render_qa_cot(item: QAItem, tokenizer: TraceTokenizer) -> tuple[Trace, Schedule]:
    """Render the item as a one-thread chain of thought; return the trace and its schedule."""
    prompt = (*main_prompt(item), TEXT, *item.document_words())
    roots = [(COORDINATOR, prompt, GeneratorProgram(_cot_program(item)))]
    return run_programs("qa", "cot", "single", roots, tokenizer)
