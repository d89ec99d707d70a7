"""Read HotpotQA-style QA records into QA items of kind `evidence`.

A file is a JSON array of records (HotpotQA's own layout), or JSON Lines with one record per line
(suffix `.jsonl`). A record is an object with

- `question` and `answer`: non-empty strings;
- `context`: a list of `[title, sentences]` pairs, `sentences` a list of strings, titles unique;
- `supporting_facts`: a non-empty list of `[title, sentence index]` pairs (index from 0);
- `_id` (optional): a string that names the record in errors and rows.

The item has one chunk per paragraph: the title's words, `:`, then each sentence's words (words
are split at whitespace). Its facts are the supporting sentences, located in their chunks, and
its chain lists them in the record's order (a repeated pair counts once). The question is
`question` and the question's words; the answer is the answer's words. A word that contains a
protocol token, such as `<send>`, has its `<` written as `&lt;`, so document text can never be
read as trace markup.

A malformed record raises InputError. The message names the file, the record (index from 0 and
`_id`), the field and the fix, and for JSON Lines also the line.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from mplm_data.generators.errors import InputError
from mplm_data.generators.qa import QAFact, QAItem, QAKind
from mplm_data.traces import protocol as p

logger = logging.getLogger(__name__)

TITLE_END = ":"
JSON_LINES_SUFFIX = ".jsonl"


@dataclass(frozen=True)
class _Record:
    """One raw record with where it came from."""

    number: int
    line: int | None
    data: Any


def _label(record: _Record) -> str:
    ident = record.data.get("_id") if isinstance(record.data, dict) else None
    return f"record {record.number}" + (f" (_id {ident})" if isinstance(ident, str) else "")


def _words(text: str) -> tuple[str, ...]:
    words = []
    for word in text.split():
        if len(p.split_words(word)) != 1 or word in p.PROTOCOL_SET:
            word = word.replace("<", "&lt;")
        words.append(word)
    return tuple(words)


def _load(path: Path) -> tuple[_Record, ...]:
    stat = path.stat()
    return _load_cached(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=2)
def _load_cached(path: Path, mtime_ns: int, size: int) -> tuple[_Record, ...]:
    """Parse a file once per version, so shard tasks that each read a range parse it once."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"the file is not UTF-8 text ({err.reason} at byte {err.start}); convert "
                         f"it to UTF-8", path=path) from err

    if path.suffix == JSON_LINES_SUFFIX:
        records = []
        for line_number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(_Record(len(records), line_number, json.loads(line)))
            except json.JSONDecodeError as err:
                raise InputError(f"invalid JSON ({err.msg} at column {err.colno}); write one "
                                 f"record object per line", path=path, line=line_number) from err
        return tuple(records)

    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON ({err.msg}); the file must hold a JSON array of records, "
                         f"or use the suffix .jsonl for one record per line", path=path,
                         line=err.lineno) from err
    if not isinstance(data, list):
        raise InputError(f"the file contains a JSON {type(data).__name__}, not an array of records; "
                         f"wrap the records in [ ... ]", path=path)
    return tuple(_Record(number, None, value) for number, value in enumerate(data))


def _fail(path: Path, record: _Record, message: str) -> InputError:
    return InputError(f"{_label(record)}: {message}", path=path, line=record.line)


def _text_field(path: Path, record: _Record, name: str) -> str:
    value = record.data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, record, f"field {name!r} must be a non-empty string, got {value!r:.60}")
    return value


def _paragraphs(path: Path, record: _Record) -> list[tuple[str, list[str]]]:
    context = record.data.get("context")
    if not isinstance(context, list) or not context:
        raise _fail(path, record, "field 'context' must be a non-empty list of [title, sentences] "
                                  "pairs")
    paragraphs: list[tuple[str, list[str]]] = []
    for number, entry in enumerate(context):
        valid = (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
                 and isinstance(entry[1], list) and all(isinstance(s, str) for s in entry[1]))
        if not valid:
            raise _fail(path, record, f"field 'context' entry {number} must be [title, [sentence, "
                                      f"...]] with strings, got {json.dumps(entry)[:80]}")
        if any(title == entry[0] for title, _ in paragraphs):
            raise _fail(path, record, f"field 'context' has two paragraphs titled {entry[0]!r}, so "
                                      f"supporting facts cannot name one; rename one of them")
        paragraphs.append((entry[0], list(entry[1])))
    return paragraphs


def _supporting(path: Path, record: _Record,
                paragraphs: list[tuple[str, list[str]]]) -> list[tuple[int, int]]:
    facts = record.data.get("supporting_facts")
    if not isinstance(facts, list) or not facts:
        raise _fail(path, record, "field 'supporting_facts' must be a non-empty list of [title, "
                                  "sentence index] pairs")
    chunk_of = {title: chunk for chunk, (title, _) in enumerate(paragraphs)}
    pairs: list[tuple[int, int]] = []
    for number, entry in enumerate(facts):
        valid = (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
                 and isinstance(entry[1], int) and not isinstance(entry[1], bool))
        if not valid:
            raise _fail(path, record, f"field 'supporting_facts' entry {number} must be [title, "
                                      f"sentence index], got {json.dumps(entry)[:80]}")
        title, sentence = entry
        if title not in chunk_of:
            raise _fail(path, record, f"field 'supporting_facts' entry {number} names paragraph "
                                      f"{title!r}, which is not in 'context'; fix the title")
        count = len(paragraphs[chunk_of[title]][1])
        if not 0 <= sentence < count:
            has = f"{count} sentence (0..0)" if count == 1 else f"{count} sentences" + (
                f" (0..{count - 1})" if count else "")
            raise _fail(path, record, f"field 'supporting_facts' entry {number} points to "
                                      f"sentence {sentence} of paragraph {title!r}, which has "
                                      f"{has}; fix the index")
        if (chunk_of[title], sentence) not in pairs:
            pairs.append((chunk_of[title], sentence))
    return pairs


def record_item(path: Path, record: _Record) -> QAItem:
    """Build the `evidence` item of one record; raises InputError when the record is malformed."""
    if not isinstance(record.data, dict):
        raise _fail(path, record, f"a record must be a JSON object, got {type(record.data).__name__}")
    question = _text_field(path, record, "question")
    answer = _text_field(path, record, "answer")
    paragraphs = _paragraphs(path, record)
    pairs = _supporting(path, record, paragraphs)

    chunks: list[tuple[str, ...]] = []
    located: dict[tuple[int, int], QAFact] = {}
    for chunk, (title, sentences) in enumerate(paragraphs):
        words = [*_words(title), TITLE_END]
        for sentence_number, sentence in enumerate(sentences):
            sentence_words = _words(sentence)
            located[chunk, sentence_number] = QAFact(sentence_words, chunk, len(words))
            words.extend(sentence_words)
        chunks.append(tuple(words))

    ordered = sorted(pairs)
    facts = tuple(located[pair] for pair in ordered)
    chain = tuple(ordered.index(pair) for pair in pairs)
    ident = record.data.get("_id")
    source = ident if isinstance(ident, str) else f"record {record.number}"
    return QAItem(QAKind.EVIDENCE, tuple(chunks), facts, chain, ("question", *_words(question)),
                  _words(answer), index=record.number, source=source)


def read_qa_records(path: str | Path, start: int = 0, stop: int | None = None) -> list[QAItem]:
    """Read records start..stop-1 (all by default) of a HotpotQA-style file as QA items.

    Raises InputError for a missing or malformed file or record.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("QA file not found; pass a JSON or JSON Lines file of HotpotQA-style "
                         "records", path=path)
    records = _load(path)
    if not records:
        raise InputError("the file contains no records", path=path)
    items = [record_item(path, record) for record in records[start:stop]]
    logger.debug("read %d QA records from %s", len(items), path)
    return items

