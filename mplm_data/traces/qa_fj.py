"""Fork-join QA traces: a parent that forks one child per chunk in every round, one round per hop.

The parent `main` has the question and `chunks K` as its prompt. Each round it writes the
round's query (`find x9 =`, `find = x1`, `find coins` or `find evidence`, see `qa_words`), then
`<fork> c1 ... cK </fork>`. Child `cK@R` (chunk K, round R) starts with the parent's whole
context as its prefix and the prompt `chunk cK text` plus the chunk, so its context contains the
question, every earlier round and the query. It sends what its chunk adds to `parent` and halts:

- track, lookup: the chain facts its chunk continues the chain with (`x9 = x2 .`), or `none`;
- count, sum: it writes the facts of the category it holds, then sends their count or sum, or
  sends `none`;
- evidence: its supporting sentences, or `none`.

The parent receives the K results (the join) and starts the next round until the chain is
complete; count, sum and evidence take one round. It then answers. A track or lookup chain of
`hops` facts, consecutive ones in different chunks, takes `hops` rounds, and the parent's
context, which every child of the next round carries, grows by K results per round.
"""

from __future__ import annotations

from typing import Generator

from mplm_data.generators.qa import QAItem, QAKind
from mplm_data.generators.errors import MplmDataError
from . import protocol as p
from .model import Trace
from .qa_words import (COORDINATOR, EVIDENCE, FIND, NONE, ChainReader, Fact, aggregate_reply,
                       chunk_name, chunk_prompt, facts_words, main_prompt, split_facts)
from .schedule import (Action, Answer, Child, Delivery, Emit, Fork, GeneratorProgram, Halt, Recv,
                       Schedule, Send, run_programs)
from .tokenizer import TraceTokenizer

ProgramBody = Generator[Action, Delivery | None, None]


def _chain_child(reader: ChainReader, facts: list[Fact]) -> ProgramBody:
    found = reader.resolve(facts)
    yield Send(p.GROUP_PARENT, facts_words(found) if found else (NONE,))
    yield Halt()


def _reply_child(item: QAItem, facts: list[Fact]) -> ProgramBody:
    if item.kind is QAKind.EVIDENCE:
        yield Send(p.GROUP_PARENT, facts_words(facts) if facts else (NONE,))
        yield Halt()
        return

    matches, partial = aggregate_reply(facts, item.question)
    if matches:
        yield Emit(facts_words(matches))
    yield Send(p.GROUP_PARENT, (partial,) if matches else (NONE,))
    yield Halt()


def _fork(item: QAItem, program_of) -> Fork:
    children = []
    for chunk in range(len(item.chunks)):
        facts = [fact.words for fact in item.chunk_facts(chunk)]
        children.append(Child(chunk_name(chunk), chunk_prompt(item, chunk),
                              GeneratorProgram(program_of(facts))))
    return Fork(tuple(children))


def _parent(item: QAItem) -> ProgramBody:
    if item.kind not in (QAKind.TRACK, QAKind.LOOKUP):
        category = EVIDENCE if item.kind is QAKind.EVIDENCE else item.question[2]
        yield Emit((FIND, category))
        yield _fork(item, lambda facts: _reply_child(item, facts))
        total = 0
        for _ in item.chunks:
            delivery = yield Recv()
            if item.kind is not QAKind.EVIDENCE and delivery.words != (NONE,):
                total += int(delivery.words[0])
        yield Answer(item.answer if item.kind is QAKind.EVIDENCE else (str(total),))
        return

    reader = ChainReader(item.kind, item.question)
    while not reader.done:
        yield Emit(reader.query())
        snapshot = reader.copy()
        yield _fork(item, lambda facts: _chain_child(snapshot.copy(), facts))
        before = len(reader.found)
        for _ in item.chunks:
            delivery = yield Recv()
            for fact in split_facts(delivery.words):
                reader.accept(fact)
        if len(reader.found) == before:
            raise MplmDataError(f"no chunk continues the chain after {' '.join(reader.query())}; "
                                f"the item's chain is broken")
    yield Answer(reader.answer())


def render_qa_fj(item: QAItem, tokenizer: TraceTokenizer) -> tuple[Trace, Schedule]:
    """Render the item as fork-join rounds of chunk children; return the trace and its schedule."""
    roots = [(COORDINATOR, main_prompt(item), GeneratorProgram(_parent(item)))]
    return run_programs("qa", "fj", "chunk", roots, tokenizer)
