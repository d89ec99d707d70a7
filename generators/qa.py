"""Synthetic long-context QA items: filler documents with planted facts, a question and its chain.

An item (`QAItem`) is a document cut into *chunks* (one per chunk thread of an MPLM trace), the
*facts* planted in it, a *question*, its *answer* and the *chain*: the facts that answer the
question, in the order a reader resolves them. The chain is the item's derivation; trace
renderers build every format from it. Kinds (`QAKind`):

- `track` (variable tracking): a value fact `x12 = 4821` and copies `x7 = x12`, `x3 = x7`, ...
  The question `question which 3 variables = 4821` asks for every variable that holds the value
  and states how many there are, so a reader knows when it has found them all. The chain starts
  at the value fact and follows the copies; the answer lists the variables in chain order.
- `lookup` (multi-hop key lookup): pointers `x5 = x9`, `x9 = x2` and a value `x2 = 4821`. The
  question `question value of x5` asks for the value at the end of the pointers from `x5`. The
  chain follows them; the answer is the value.
- `count`, `sum` (aggregation): facts `coins x4 = 7` of one category, spread over all chunks,
  among facts of other categories. The question `question sum coins` (or `count coins`) asks for
  the total of their values (or their number). The chain is the category's facts in document
  order.
- `evidence` (real-format QA): built by `mplm_data.qa_io` from a HotpotQA-style record, never by
  `generate_qa`. Its facts are the supporting sentences, its chain lists them in the record's
  order, and its answer is the record's answer.

Terms. `hops` is the chain length. For track and lookup with two or more chunks, each chain fact
lies in another chunk than the one before it, so resolving the chain crosses chunks `hops - 1`
times. For count and sum, `hops` is the number of facts aggregated, and every chunk gets at least
one of them when `hops >= chunks`. `distractors` counts the other planted facts: other values
and their copy chains for track and lookup (never linked to a chain variable, and never holding
the chain's value), facts of other categories for count and sum. Variable names are `x` and a
number; values of track and lookup are 1000..9999, values of aggregation facts 1..9. A fact is
written as its own sentence, ending with `.`, in front of a random filler sentence of its chunk
(never after the last one, which may be cut short). Its location (`QAFact.chunk`,
`QAFact.offset`) is its chunk and the position of its first word there.

Length. `length` is the document length in tokens. Chunk k gets a budget of `length // chunks`
tokens, plus one for the first `length % chunks` chunks. Filler fills what its facts leave of the
budget and ends with the first word that reaches it, so a chunk exceeds its budget by less than
one word's tokens, unless its facts alone exceed it. `count_tokens` maps a word to its token
count (1 for every word by default), so a caller measures in the tokenizer its traces use.

Randomness: every choice for item `index` draws from `item_rng(seed, index)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable, Iterator

import numpy as np

from .qa_text import CATEGORIES, file_sentences, grammar_sentences, load_filler_words
from .seeding import item_rng

GENERATOR_VERSION = "qa-1"

FACT_END = "."
EQUALS = "="
VALUE_LOW, VALUE_HIGH = 1000, 9999
AMOUNT_HIGH = 9

MAX_LENGTH = 1 << 24
MAX_CHUNKS = 4096
MIN_CHUNK_TOKENS = 16
MAX_HOPS = 4096
MAX_DISTRACTORS = 4096

CountTokens = Callable[[str], int]


class QAKind(str, Enum):
    """Question kind; the value appears in configs, CLI options and Arrow rows."""

    TRACK = "track"
    LOOKUP = "lookup"
    COUNT = "count"
    SUM = "sum"
    EVIDENCE = "evidence"


GENERATED_KINDS = (QAKind.TRACK, QAKind.LOOKUP, QAKind.COUNT, QAKind.SUM)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in {low}..{high}, got {value!r}")


@dataclass(frozen=True)
class QAConfig:
    """Settings of synthetic QA items (see the module docstring for each term).

    `filler` names UTF-8 text files whose words fill the documents; empty means the built-in
    grammar.
    """

    kind: QAKind = QAKind.TRACK
    length: int = 4096
    chunks: int = 8
    hops: int = 2
    distractors: int = 4
    filler: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            kind = QAKind(self.kind)
        except ValueError:
            kind = None
        if kind not in GENERATED_KINDS:
            raise ValueError(f"kind must be one of {', '.join(k.value for k in GENERATED_KINDS)}, "
                             f"got {self.kind!r}")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "filler", tuple(str(path) for path in self.filler))

        _check_int("chunks", self.chunks, 1, MAX_CHUNKS)
        _check_int("length", self.length, MIN_CHUNK_TOKENS * self.chunks, MAX_LENGTH)
        _check_int("hops", self.hops, 1, MAX_HOPS)
        _check_int("distractors", self.distractors, 0, MAX_DISTRACTORS)


@dataclass(frozen=True)
class QAFact:
    """A planted fact: its words (without the closing `.`), its chunk and its word offset there."""

    words: tuple[str, ...]
    chunk: int
    offset: int


@dataclass(frozen=True)
class QAItem:
    """One QA instance: chunked document, planted facts, question, answer and chain.

    `facts` are in document order; `chain` indexes `facts` in resolution order. `seed` and
    `index` identify a generated item, `source` a record read from a file.
    """

    kind: QAKind
    chunks: tuple[tuple[str, ...], ...]
    facts: tuple[QAFact, ...]
    chain: tuple[int, ...]
    question: tuple[str, ...]
    answer: tuple[str, ...]
    seed: int | None = None
    index: int | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        for number, fact in enumerate(self.facts):
            if not 0 <= fact.chunk < len(self.chunks):
                raise ValueError(f"fact {number} lies in chunk {fact.chunk}, but the document "
                                 f"has {len(self.chunks)} chunks")
            end = fact.offset + len(fact.words)
            if fact.offset < 0 or self.chunks[fact.chunk][fact.offset:end] != fact.words:
                raise ValueError(f"fact {number} ({' '.join(fact.words)}) is not at word "
                                 f"{fact.offset} of chunk {fact.chunk}")
        bad = [index for index in self.chain if not 0 <= index < len(self.facts)]
        if bad:
            raise ValueError(f"chain entry {bad[0]} is not a fact index (0..{len(self.facts) - 1})")
        if not self.question or not self.answer:
            raise ValueError("a QA item needs a non-empty question and answer")

    @property
    def hops(self) -> int:
        """Chain length."""
        return len(self.chain)

    @property
    def chain_facts(self) -> tuple[QAFact, ...]:
        """The chain's facts in resolution order."""
        return tuple(self.facts[index] for index in self.chain)

    def chunk_facts(self, chunk: int) -> tuple[QAFact, ...]:
        """The facts planted in `chunk`, in document order."""
        return tuple(fact for fact in self.facts if fact.chunk == chunk)

    def document_words(self) -> list[str]:
        """The whole document: the chunks' words in order."""
        return [word for chunk in self.chunks for word in chunk]


# -- planning the facts ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Plan:
    """Facts before placement (words and chunk), with the chain as indices into them."""

    facts: list[tuple[tuple[str, ...], int]]
    chain: list[int]
    question: tuple[str, ...]
    answer: tuple[str, ...]


def _names(rng: np.random.Generator, count: int) -> list[str]:
    limit = max(99, 4 * count)
    return [f"x{number + 1}" for number in rng.choice(limit, size=count, replace=False).tolist()]


def _chain_chunks(rng: np.random.Generator, hops: int, chunks: int) -> list[int]:
    """Chunks of consecutive chain facts, each one differing from the one before when chunks > 1."""
    placed = [int(rng.integers(chunks))]
    for _ in range(1, hops):
        step = 1 + int(rng.integers(chunks - 1)) if chunks > 1 else 0
        placed.append((placed[-1] + step) % chunks)
    return placed


def _spread_chunks(rng: np.random.Generator, count: int, chunks: int) -> list[int]:
    """Chunks of `count` facts: distinct chunks, or all of them first when count >= chunks."""
    if count < chunks:
        return rng.choice(chunks, size=count, replace=False).tolist()
    rest = rng.integers(chunks, size=count - chunks).tolist()
    return rng.permutation(chunks).tolist() + rest


def _plan_chain(config: QAConfig, rng: np.random.Generator) -> _Plan:
    """Plan track or lookup facts: the chain, then distractor values and copies."""
    hops, extra = config.hops, config.distractors
    names = _names(rng, hops + extra)
    values = (rng.choice(VALUE_HIGH - VALUE_LOW + 1, size=hops + extra, replace=False)
              + VALUE_LOW).tolist()
    chain_names, distractor_names = names[:hops], names[hops:]
    value = str(values[0])

    if config.kind is QAKind.TRACK:
        targets = [value] + chain_names[:-1]
        question = ("question", "which", str(hops), "variables", EQUALS, value)
        answer = tuple(chain_names)
    else:
        targets = chain_names[1:] + [value]
        question = ("question", "value", "of", chain_names[0])
        answer = (value,)
    chunks = _chain_chunks(rng, hops, config.chunks)
    facts = [((name, EQUALS, target), chunk) for name, target, chunk in zip(chain_names, targets, chunks)]

    for number, name in enumerate(distractor_names):
        if number == 0 or rng.random() < 0.5:
            target = str(values[1 + number])
        else:
            target = distractor_names[int(rng.integers(number))]
        facts.append(((name, EQUALS, target), int(rng.integers(config.chunks))))
    return _Plan(facts, list(range(hops)), question, answer)


def _plan_aggregate(config: QAConfig, rng: np.random.Generator) -> _Plan:
    """Plan count or sum facts: the category's facts over all chunks, then other categories."""
    hops, extra = config.hops, config.distractors
    names = _names(rng, hops + extra)
    amounts = rng.integers(1, AMOUNT_HIGH + 1, size=hops + extra).tolist()
    category_index = int(rng.integers(len(CATEGORIES)))
    category = CATEGORIES[category_index]
    others = [other for other in CATEGORIES if other != category]

    chunks = _spread_chunks(rng, hops, config.chunks)
    facts = [((category, names[number], EQUALS, str(amounts[number])), chunks[number])
             for number in range(hops)]
    for number in range(hops, hops + extra):
        other = others[int(rng.integers(len(others)))]
        facts.append(((other, names[number], EQUALS, str(amounts[number])),
                      int(rng.integers(config.chunks))))

    total = hops if config.kind is QAKind.COUNT else sum(amounts[:hops])
    question = ("question", config.kind.value, category)
    return _Plan(facts, list(range(hops)), question, (str(total),))


# -- writing the document --------------------------------------------------------------------------

def _budgets(length: int, chunks: int) -> list[int]:
    base, extra = divmod(length, chunks)
    return [base + (1 if chunk < extra else 0) for chunk in range(chunks)]


def _filler(sentences: Iterator[tuple[str, ...]], target: int,
            count_tokens: CountTokens) -> list[tuple[str, ...]]:
    """Filler sentences of at least `target` tokens; the last one is cut after the word that reaches it."""
    written: list[tuple[str, ...]] = []
    tokens = 0
    while tokens < target:
        sentence = next(sentences)
        words: list[str] = []
        for word in sentence:
            words.append(word)
            tokens += count_tokens(word)
            if tokens >= target:
                break
        written.append(tuple(words))
    return written


def _write_chunk(chunk: int, facts: list[tuple[int, tuple[str, ...]]], budget: int,
                 sentences: Iterator[tuple[str, ...]], rng: np.random.Generator,
                 count_tokens: CountTokens) -> tuple[list[str], dict[int, int]]:
    """Words of one chunk and the offset of each planned fact (by plan index) in it."""
    fact_tokens = sum(count_tokens(word) for _, words in facts for word in (*words, FACT_END))
    filler = _filler(sentences, max(0, budget - fact_tokens), count_tokens)

    # Fact k goes before filler sentence slots[k]; equal slots keep the planned order. The last
    # filler sentence may be cut short, so no fact follows it.
    slots = rng.integers(max(1, len(filler)), size=len(facts)).tolist()
    order = sorted(range(len(facts)), key=lambda k: (slots[k], k))
    words: list[str] = []
    offsets: dict[int, int] = {}
    cursor = 0
    for sentence_index in range(len(filler) + 1):
        while cursor < len(order) and slots[order[cursor]] == sentence_index:
            plan_index, fact_words = facts[order[cursor]]
            offsets[plan_index] = len(words)
            words.extend((*fact_words, FACT_END))
            cursor += 1
        if sentence_index < len(filler):
            words.extend(filler[sentence_index])
    return words, offsets


def _one_token(word: str) -> int:
    return 1


def generate_qa(config: QAConfig, seed: int, index: int, *, count_tokens: CountTokens | None = None,
                filler_words: tuple[str, ...] | None = None) -> QAItem:
    """Generate item `index` of base `seed` (see the module docstring).

    `filler_words` overrides reading `config.filler` (pass the result of `load_filler_words` to
    read the files once per run). Raises InputError when filler files are missing or unusable.
    """
    count_tokens = count_tokens or _one_token
    if filler_words is None and config.filler:
        filler_words = load_filler_words(config.filler)
    rng = item_rng(seed, index)

    if config.kind in (QAKind.TRACK, QAKind.LOOKUP):
        plan = _plan_chain(config, rng)
    else:
        plan = _plan_aggregate(config, rng)
    sentences = file_sentences(filler_words, rng) if filler_words else grammar_sentences(rng)

    chunks: list[tuple[str, ...]] = []
    located: dict[int, tuple[int, int]] = {}
    for chunk, budget in enumerate(_budgets(config.length, config.chunks)):
        facts = [(number, words) for number, (words, where) in enumerate(plan.facts) if where == chunk]
        words, offsets = _write_chunk(chunk, facts, budget, sentences, rng, count_tokens)
        chunks.append(tuple(words))
        located.update((number, (chunk, offset)) for number, offset in offsets.items())

    order = sorted(range(len(plan.facts)), key=lambda number: located[number])
    final_index = {number: position for position, number in enumerate(order)}
    facts = tuple(QAFact(plan.facts[number][0], *located[number]) for number in order)
    chain = [final_index[number] for number in plan.chain]
    if config.kind in (QAKind.COUNT, QAKind.SUM):
        chain.sort()
    return QAItem(config.kind, tuple(chunks), facts, tuple(chain), plan.question, plan.answer,
                  seed=seed, index=index)
