"""Filler text for synthetic long-context QA documents: a built-in grammar or the user's files.

Filler is a stream of *sentences* (tuples of words). The built-in grammar writes sentences such as
`the quiet river follows a narrow road .` from fixed word lists (`GRAMMAR_WORDS`), so it never
writes a word that a planted fact or a question uses. Text from files is split at whitespace, and
words that could be mistaken for part of a fact or a question are dropped (`is_reserved`). The
remaining stream is cut into sentences after each word that ends in `.`, `!` or `?`, or every
`MAX_SENTENCE_WORDS` words.

This module also fixes the words that facts and questions are written in (`CATEGORIES`,
`QUESTION_WORDS`), because the filler must avoid them.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import InputError

# Categories of aggregation facts (`coins x4 = 7`).
CATEGORIES: tuple[str, ...] = ("coins", "gems", "books", "stamps", "shells", "keys")

# Words of questions and fact markup besides names, numbers and categories.
QUESTION_WORDS: tuple[str, ...] = ("question", "which", "variables", "value", "of", "count", "sum",
                                   "=")

MAX_SENTENCE_WORDS = 30

_DETERMINERS = ("the", "one", "every", "some")
_ADJECTIVES = ("quiet", "narrow", "old", "bright", "distant", "small", "heavy", "green", "cold",
               "gentle", "broken", "hidden", "early", "wide", "silent", "golden", "rough", "pale")
_NOUNS = ("river", "road", "town", "garden", "window", "forest", "bridge", "market", "letter",
          "teacher", "harbor", "mountain", "lamp", "village", "story", "engine", "field", "tower",
          "painter", "ship", "valley", "kitchen", "song", "station")
_VERBS = ("follows", "passes", "watches", "crosses", "reaches", "remembers", "carries", "finds",
          "leaves", "joins", "hides", "opens", "guards", "circles", "faces")
_PREPOSITIONS = ("near", "beyond", "under", "behind", "across", "past", "beside", "toward")
_ADVERBS = ("slowly", "again", "today", "quietly", "often", "later", "soon", "twice")

GRAMMAR_WORDS: tuple[str, ...] = tuple(dict.fromkeys(
    _DETERMINERS + _ADJECTIVES + _NOUNS + _VERBS + _PREPOSITIONS + _ADVERBS + (",", ".", "and")))

# Each template is a list of slots; a slot names a word list or is a literal word.
_LISTS = {"D": _DETERMINERS, "A": _ADJECTIVES, "N": _NOUNS, "V": _VERBS, "P": _PREPOSITIONS,
          "R": _ADVERBS}
_TEMPLATES: tuple[tuple[str, ...], ...] = (
    ("D", "A", "N", "V", "D", "N", "."),
    ("D", "N", "V", "P", "D", "A", "N", "."),
    ("D", "N", "and", "D", "N", "V", "R", "."),
    ("P", "D", "A", "N", ",", "D", "N", "V", "D", "N", "."),
    ("D", "A", "N", "V", "R", "."),
)

_RESERVED = frozenset(CATEGORIES + QUESTION_WORDS)
# A word that contains a digit, `=`, `<` or `>` could read as a name, a value or markup.
_SUSPICIOUS = re.compile(r"[0-9=<>]")
_SENTENCE_END = (".", "!", "?")


def is_reserved(word: str) -> bool:
    """Whether filler must not contain `word`: a fact or question word, or one with a digit or `=<>`."""
    return word.lower() in _RESERVED or bool(_SUSPICIOUS.search(word))


def grammar_sentences(rng: np.random.Generator) -> Iterator[tuple[str, ...]]:
    """Yield sentences of the built-in grammar forever, drawing every word from `rng`."""
    while True:
        template = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))]
        words = []
        for slot in template:
            options = _LISTS.get(slot)
            words.append(slot if options is None else options[int(rng.integers(len(options)))])
        yield tuple(words)


def file_sentences(words: tuple[str, ...], rng: np.random.Generator) -> Iterator[tuple[str, ...]]:
    """Yield sentences of `words` forever, from a random start word, wrapping around at the end."""
    if not words:
        raise ValueError("file_sentences needs at least one word; load them with load_filler_words")
    position = int(rng.integers(len(words)))
    sentence: list[str] = []
    while True:
        word = words[position]
        position = (position + 1) % len(words)
        sentence.append(word)
        if word.endswith(_SENTENCE_END) or len(sentence) == MAX_SENTENCE_WORDS:
            yield tuple(sentence)
            sentence = []


@lru_cache(maxsize=8)
def _read_words(path: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"filler file is not UTF-8 text ({err.reason} at byte {err.start}); "
                         f"convert it to UTF-8", path=path) from err
    return tuple(word for word in text.split() if not is_reserved(word))


def load_filler_words(paths: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Read the usable filler words of the files, in order; raises InputError when none is usable.

    Files are cached by path, modification time and size, so a generation run reads each once.
    """
    words: list[str] = []
    for path in paths:
        file = Path(path)
        if not file.is_file():
            raise InputError("filler file not found; pass an existing text file", path=path)
        stat = file.stat()
        words.extend(_read_words(str(file), stat.st_mtime_ns, stat.st_size))
    if not words:
        raise InputError(f"the filler files {', '.join(map(str, paths))} contain no usable words "
                         f"(words with digits, '=', '<' or '>' and question words are dropped); "
                         f"pass files of ordinary prose")
    return tuple(words)
