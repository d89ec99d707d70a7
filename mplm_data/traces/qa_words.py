"""Words of QA traces, and the chain reader that every QA thread program resolves facts with.

Threads: the coordinator (MPLM) or parent (FJ) or only thread (CoT) is `main`; chunk k (from 0)
is read by thread `c{k+1}` (MPLM) or child `c{k+1}@R` (FJ, round R). Prompts:

- `main`: the question, then `chunks K`, such as `question value of x5 chunks 3`; CoT's `main`
  adds `text` and the whole document.
- chunk threads: `chunk c2 text` and the chunk's words.

Message bodies hold facts as the document writes them, each closed by `.` (`x5 = x9 .`), a
partial count or sum (`7`), or `none` when the sender found nothing. An FJ parent writes the
query of each round before it forks: `find x9 =` (lookup: which fact defines x9), `find = x1`
(track: which fact copies x1), `find coins` (count, sum) or `find evidence`.

`ChainReader` holds what one thread knows of a track or lookup chain: the chain facts found so
far, and the variable or value it looks for next. Every renderer resolves facts through it from
the facts its thread can see, so a trace's answer is computed, not copied from the generator,
and the answer check compares the two.
"""

from __future__ import annotations

from mplm_data.generators.qa import EQUALS, FACT_END, QAItem, QAKind
from mplm_data.generators.qa_text import CATEGORIES, GRAMMAR_WORDS, QUESTION_WORDS

COORDINATOR = "main"
NONE = "none"
FIND = "find"
CHUNKS = "chunks"
CHUNK = "chunk"
TEXT = "text"
EVIDENCE = "evidence"

# Words the QA renderers write besides names, numbers and the document's own words.
QA_TRACE_WORDS: tuple[str, ...] = (COORDINATOR, NONE, FIND, CHUNKS, CHUNK, TEXT, EVIDENCE)

# Every word of a synthetic QA trace (built-in filler) besides variable names, chunk names and
# numbers. A WordPiece vocabulary without one of them encodes it as `<unk>`: still one token, so
# costs hold, but a model cannot tell such words apart.
QA_VOCABULARY: tuple[str, ...] = tuple(dict.fromkeys(
    QA_TRACE_WORDS + QUESTION_WORDS + CATEGORIES + GRAMMAR_WORDS))

Fact = tuple[str, ...]


def chunk_name(chunk: int) -> str:
    """Name of the thread (or FJ child label) that reads chunk `chunk` (from 0): `c1`, `c2`, ..."""
    return f"c{chunk + 1}"


def chunk_prompt(item: QAItem, chunk: int) -> tuple[str, ...]:
    """Prompt of a chunk thread: `chunk cK text` and the chunk's words."""
    return (CHUNK, chunk_name(chunk), TEXT, *item.chunks[chunk])


def main_prompt(item: QAItem) -> tuple[str, ...]:
    """Prompt of `main`: the question and the number of chunks."""
    return (*item.question, CHUNKS, str(len(item.chunks)))


def facts_words(facts: list[Fact] | tuple[Fact, ...]) -> tuple[str, ...]:
    """Facts as a message body or a CoT step: each fact's words, then `.`."""
    words: list[str] = []
    for fact in facts:
        words += [*fact, FACT_END]
    return tuple(words)


def split_facts(words: tuple[str, ...]) -> list[Fact]:
    """The facts of a body written by `facts_words`; `none` gives no fact."""
    if words == (NONE,):
        return []
    facts: list[Fact] = []
    current: list[str] = []
    for word in words:
        if word == FACT_END:
            facts.append(tuple(current))
            current = []
        else:
            current.append(word)
    if current:
        raise ValueError(f"message body {' '.join(words)!r} does not end a fact with {FACT_END!r}")
    return facts


def is_value(word: str) -> bool:
    """Whether a fact's right side is a value (a number), not a variable."""
    return word.isdigit()


def aggregate_reply(facts: list[Fact] | tuple[Fact, ...], question: tuple[str, ...]) -> tuple[list[Fact], str]:
    """Facts of the asked category among `facts`, and their count or sum as a word.

    The question is `question count CATEGORY` or `question sum CATEGORY`; a fact is
    `CATEGORY NAME = AMOUNT`.
    """
    operation, category = question[1], question[2]
    matches = [fact for fact in facts if fact[0] == category]
    if operation == QAKind.COUNT.value:
        return matches, str(len(matches))
    return matches, str(sum(int(fact[3]) for fact in matches))


class ChainReader:
    """One thread's view of a track or lookup chain, started from the question's words.

    Track: the question `question which N variables = V` gives the value and the number of chain
    facts; a fact `A = B` belongs to the chain when B is V or a variable already known to hold
    V. Lookup: the question `question value of X` gives the first variable; a fact `A = B`
    belongs to the chain when A is the variable looked for, and B is looked for next. The chain
    is complete when N facts are known (track) or a fact ends in a value (lookup).
    """

    def __init__(self, kind: QAKind, question: tuple[str, ...]):
        self.kind = kind
        self.found: list[Fact] = []
        if kind is QAKind.TRACK:
            self.needed = int(question[2])
            self.holders = {question[5]}
            self.wanted = question[5]
        elif kind is QAKind.LOOKUP:
            self.needed = 0
            self.holders = set()
            self.wanted = question[3]
        else:
            raise ValueError(f"ChainReader reads track and lookup chains, not {kind.value!r}")

    def copy(self) -> "ChainReader":
        """An independent copy (what a forked child knows at the fork)."""
        other = ChainReader.__new__(ChainReader)
        other.kind, other.needed, other.wanted = self.kind, self.needed, self.wanted
        other.holders, other.found = set(self.holders), list(self.found)
        return other

    @property
    def done(self) -> bool:
        """Whether the chain is complete."""
        if self.kind is QAKind.TRACK:
            return len(self.found) >= self.needed
        return bool(self.found) and is_value(self.found[-1][2])

    def matches(self, fact: Fact) -> bool:
        """Whether `fact` is the next chain fact for this reader."""
        if self.done or len(fact) != 3 or fact[1] != EQUALS:
            return False
        if self.kind is QAKind.TRACK:
            return fact[2] in self.holders and fact[0] not in self.holders
        return fact[0] == self.wanted

    def accept(self, fact: Fact) -> None:
        """Record a chain fact (found here or received); raises ValueError for any other fact."""
        if not self.matches(fact):
            raise ValueError(f"{' '.join(fact)} does not continue the chain (looking for "
                             f"{self.wanted})")
        self.found.append(fact)
        if self.kind is QAKind.TRACK:
            self.holders.add(fact[0])
            self.wanted = fact[0]
        else:
            self.wanted = fact[2]

    def resolve(self, facts: list[Fact] | tuple[Fact, ...]) -> list[Fact]:
        """Accept every fact of `facts` that continues the chain, repeatedly; return them in order."""
        resolved: list[Fact] = []
        progress = True
        while progress and not self.done:
            progress = False
            for fact in facts:
                if self.matches(fact):
                    self.accept(fact)
                    resolved.append(fact)
                    progress = True
        return resolved

    def query(self) -> tuple[str, ...]:
        """What an FJ parent asks its children next: `find X =` (lookup) or `find = X` (track)."""
        if self.kind is QAKind.TRACK:
            return (FIND, EQUALS, self.wanted)
        return (FIND, self.wanted, EQUALS)

    def answer(self) -> tuple[str, ...]:
        """The answer the found chain gives: the variables (track) or the final value (lookup)."""
        if self.kind is QAKind.TRACK:
            return tuple(fact[0] for fact in self.found)
        return (self.found[-1][2],)
