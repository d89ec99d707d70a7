"""MPLM QA traces: a coordinator and one persistent thread per chunk that pass only needed facts.

Threads, in this order: `main` (prompt: the question and `chunks K`), then `c1` ... `cK`
(prompt: `chunk cK text` and the chunk). `main` sends the question to `all` and every chunk
thread first receives it. Then, by kind:

- track, lookup: a chunk thread without any fact halts at once. A thread with facts resolves the
  chain as far as its own facts allow (`ChainReader.resolve`) and sends each chain fact it finds
  to `all` (`<send> all x9 = x2 . </send>`), because any other chunk may hold the next fact.
  Then it receives the facts others send, resolves again, and halts when the chain is complete:
  every thread with facts hears every chain fact, and the question states when the chain is
  complete. `main` receives the chain facts as they are sent and answers once the chain is
  complete.
- count, sum: each chunk thread writes the facts of the asked category it holds (`coins x4 = 7
  .`), sends their count or sum to `main` and halts, or sends `none` at once when it holds none.
  `main` receives K replies and answers the total.
- evidence: each chunk thread sends its supporting sentences to `main`, or `none`, and halts.
  `main` receives K replies and answers.

A chunk thread's context stays near its chunk's size: besides the chunk it only receives the
question and the chain facts. `main`'s context grows with the chain (track, lookup) or with one
short reply per chunk (count, sum, evidence).
"""

from __future__ import annotations

from typing import Generator

from mplm_data.generators.qa import QAItem, QAKind
from . import protocol as p
from .model import Trace
from .qa_words import (COORDINATOR, NONE, ChainReader, Fact, aggregate_reply, chunk_name,
                       chunk_prompt, facts_words, main_prompt, split_facts)
from .schedule import (Action, Answer, Delivery, Emit, GeneratorProgram, Halt, Recv, Schedule,
                       Send, run_programs)
from .tokenizer import TraceTokenizer

ProgramBody = Generator[Action, Delivery | None, None]

CHAIN_KINDS = (QAKind.TRACK, QAKind.LOOKUP)
AGGREGATE_KINDS = (QAKind.COUNT, QAKind.SUM)


def _main_program(item: QAItem) -> ProgramBody:
    yield Send(p.GROUP_ALL, item.question)

    if item.kind in CHAIN_KINDS:
        reader = ChainReader(item.kind, item.question)
        while not reader.done:
            delivery = yield Recv()
            for fact in split_facts(delivery.words):
                reader.accept(fact)
        yield Answer(reader.answer())
        return

    total = 0
    for _ in item.chunks:
        delivery = yield Recv()
        if item.kind in AGGREGATE_KINDS and delivery.words != (NONE,):
            total += int(delivery.words[0])
    yield Answer((str(total),) if item.kind in AGGREGATE_KINDS else item.answer)


def _chain_program(facts: list[Fact], kind: QAKind) -> ProgramBody:
    question = yield Recv()
    if not facts:
        yield Halt()
        return

    reader = ChainReader(kind, question.words)
    while True:
        for fact in reader.resolve(facts):
            yield Send(p.GROUP_ALL, facts_words([fact]))
        if reader.done:
            yield Halt()
            return
        delivery = yield Recv()
        for fact in split_facts(delivery.words):
            reader.accept(fact)


def _reply_program(facts: list[Fact], kind: QAKind) -> ProgramBody:
    question = yield Recv()
    if kind in AGGREGATE_KINDS:
        matches, partial = aggregate_reply(facts, question.words)
        if matches:
            yield Emit(facts_words(matches))
        body = (partial,) if matches else (NONE,)
    else:
        body = facts_words(facts) if facts else (NONE,)
    yield Send(COORDINATOR, body)
    yield Halt()


def render_qa_mplm(item: QAItem, tokenizer: TraceTokenizer) -> tuple[Trace, Schedule]:
    """Render the item as an MPLM trace (see the module docstring); return it with its schedule."""
    roots = [(COORDINATOR, main_prompt(item), GeneratorProgram(_main_program(item)))]
    for chunk in range(len(item.chunks)):
        facts = [fact.words for fact in item.chunk_facts(chunk)]
        body = _chain_program if item.kind in CHAIN_KINDS else _reply_program
        roots.append((chunk_name(chunk), chunk_prompt(item, chunk),
                      GeneratorProgram(body(facts, item.kind))))
    return run_programs("qa", "mplm", "chunk", roots, tokenizer)
