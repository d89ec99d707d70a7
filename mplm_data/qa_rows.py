"""Arrow rows of QA traces, and the shard tasks that `mplm-data gen qa` runs.

`QATraceTask` generates synthetic items (`mplm_data.generators.qa`) and `QAFileTask` reads
HotpotQA-style records (`mplm_data.qa_io`); both render every item in each requested format,
validate the trace (schedule and answer) and write one row per (item, format). Item i of base
seed s is generated from `item_rng(s, i)`, so every row can be regenerated alone.

Columns (`QA_SCHEMA`). The trace columns are those of the Sudoku trace rows
(`mplm_data.traces.storage`): `task` (`qa`), `format`, `decomposition`, `tokenizer`, the six
costs and `trace` (the threads with their text and token counts). The instance columns are:

| column | type | meaning |
|---|---|---|
| kind | large_string | `track`, `lookup`, `count`, `sum` or `evidence` |
| seed, index | int64, nullable | base seed and item index (a file record has no seed; its index is its position in the file) |
| source | large_string, nullable | record `_id` (or `record N`) of a file item |
| length | int64 | requested document length in tokens (a file item: the measured one) |
| document_tokens | int64 | measured document length in the tokenizer's tokens |
| chunks, hops | int32 | chunks (= chunk threads) and chain length |
| distractors | int32, nullable | requested distractor facts (null for a file item) |
| question, answer | large_string | words joined by spaces |
| chain | large_list<struct> | chain facts in resolution order: `chunk`, `offset` (word offset in the chunk), `text` |
| generator_version | large_string | version of the generator or reader |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from mplm_data.generators.qa import GENERATOR_VERSION, QAConfig, QAItem, QAKind, generate_qa
from mplm_data.generators.qa_text import load_filler_words
from mplm_data.qa_io import read_qa_records
from mplm_data.shards import file_sha256
from mplm_data.traces.qa import qa_answer_check, render_qa_trace
from mplm_data.traces.schedule import Costs
from mplm_data.traces.storage import (COST_FIELDS, TRACE_FIELD, TRACE_VERSION, read_trace_rows,
                                      rendered_columns, row_costs, row_tokenizer, row_trace,
                                      validate_row)
from mplm_data.traces.sudoku import FORMATS
from mplm_data.traces.tokenizer import TraceTokenizer, cached_tokenizer
from mplm_data.traces.validate import validate

READER_VERSION = "hotpot-1"

CHAIN_TYPE = pa.struct([
    pa.field("chunk", pa.int32(), nullable=False),
    pa.field("offset", pa.int64(), nullable=False),
    pa.field("text", pa.large_string(), nullable=False),
])

QA_SCHEMA = pa.schema([
    pa.field("task", pa.large_string(), nullable=False),
    pa.field("kind", pa.large_string(), nullable=False),
    pa.field("seed", pa.int64(), nullable=True),
    pa.field("index", pa.int64(), nullable=True),
    pa.field("source", pa.large_string(), nullable=True),
    pa.field("length", pa.int64(), nullable=False),
    pa.field("document_tokens", pa.int64(), nullable=False),
    pa.field("chunks", pa.int32(), nullable=False),
    pa.field("hops", pa.int32(), nullable=False),
    pa.field("distractors", pa.int32(), nullable=True),
    pa.field("question", pa.large_string(), nullable=False),
    pa.field("answer", pa.large_string(), nullable=False),
    pa.field("chain", pa.large_list(pa.field("item", CHAIN_TYPE, nullable=False)), nullable=False),
    pa.field("generator_version", pa.large_string(), nullable=False),
    pa.field("format", pa.large_string(), nullable=False),
    pa.field("decomposition", pa.large_string(), nullable=False),
    pa.field("tokenizer", pa.large_string(), nullable=False),
    *COST_FIELDS,
    TRACE_FIELD,
])

# Task-named aliases of the shared row readers of `mplm_data.traces.storage`.
qa_row_costs = row_costs
qa_row_trace = row_trace


def _check_formats(formats: tuple[str, ...]) -> tuple[str, ...]:
    formats = tuple(formats)
    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if not formats or unknown:
        raise ValueError(f"formats must be a non-empty selection of {', '.join(FORMATS)}, got "
                         f"{', '.join(formats) or 'none'}")
    return tuple(dict.fromkeys(formats))


def qa_rows(item: QAItem, formats: tuple[str, ...], tokenizer: TraceTokenizer, *,
            length: int | None = None, distractors: int | None = None,
            generator_version: str = GENERATOR_VERSION) -> list[dict[str, Any]]:
    """Render and validate `item` in each format; return one row of `QA_SCHEMA` per format.

    Raises TraceError when a rendered trace fails validation (a renderer bug, never bad input).
    """
    document_tokens = sum(tokenizer.count_words(chunk) for chunk in item.chunks)
    instance = {
        "task": "qa", "kind": item.kind.value, "seed": item.seed, "index": item.index,
        "source": item.source, "length": document_tokens if length is None else length,
        "document_tokens": document_tokens, "chunks": len(item.chunks), "hops": item.hops,
        "distractors": distractors, "question": " ".join(item.question),
        "answer": " ".join(item.answer),
        "chain": [{"chunk": fact.chunk, "offset": fact.offset, "text": " ".join(fact.words)}
                  for fact in item.chain_facts],
        "generator_version": generator_version,
    }
    check = qa_answer_check(item.kind, item.answer, tokenizer)

    rows = []
    for fmt in formats:
        rendered = render_qa_trace(item, fmt, tokenizer)
        validate(rendered.trace, tokenizer=tokenizer, answer_check=check)
        rows.append({**instance, "format": fmt, **rendered_columns(rendered, tokenizer)})
    return rows


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=QA_SCHEMA)


@dataclass(frozen=True)
class QATraceTask:
    """Shard task: synthetic QA items (fields of `QAConfig`) as traces in `formats`.

    `tokenizer` is `mplm-v1` or a local Hugging Face tokenizer folder; document lengths and
    costs are counted in it. Raises ValueError for invalid settings and InputError for missing or
    unusable filler files.
    """

    kind: QAKind = QAKind.TRACK
    length: int = 4096
    chunks: int = 8
    hops: int = 2
    distractors: int = 4
    filler: tuple[str, ...] = ()
    formats: tuple[str, ...] = FORMATS
    tokenizer: str = "mplm-v1"
    name: str = field(init=False)

    def __post_init__(self) -> None:
        config = self.qa_config
        if config.filler:
            load_filler_words(config.filler)
        object.__setattr__(self, "kind", config.kind)
        object.__setattr__(self, "filler", config.filler)
        object.__setattr__(self, "formats", _check_formats(self.formats))
        object.__setattr__(self, "name", f"qa-{config.kind.value}")

    @property
    def qa_config(self) -> QAConfig:
        """Generator settings of every item."""
        return QAConfig(kind=self.kind, length=self.length, chunks=self.chunks, hops=self.hops,
                        distractors=self.distractors, filler=self.filler)

    def schema(self) -> pa.Schema:
        """Row schema of every shard."""
        return QA_SCHEMA

    def config(self) -> dict[str, Any]:
        """Settings that fix the rows, JSON-able, for the manifest and provenance.

        The constructor fields come first under their own names, so `QATraceTask(**fields)`
        rebuilds the task; the filler files' sha256 and the tokenizer's `name@digest` detect a
        changed input on resume.
        """
        return {"kind": self.kind.value, "length": self.length, "chunks": self.chunks,
                "hops": self.hops, "distractors": self.distractors, "filler": list(self.filler),
                "formats": list(self.formats), "tokenizer": self.tokenizer,
                "filler_sha256": [file_sha256(path) for path in self.filler],
                "tokenizer_ident": cached_tokenizer(self.tokenizer).ident,
                "generator_version": GENERATOR_VERSION, "trace_version": TRACE_VERSION}

    def rows(self, seed: int, start: int, stop: int) -> pa.Table:
        """Generate, render and validate items start..stop-1 of base `seed`."""
        tokenizer = cached_tokenizer(self.tokenizer)
        config = self.qa_config
        words = load_filler_words(config.filler) if config.filler else None
        rows: list[dict[str, Any]] = []
        for index in range(start, stop):
            item = generate_qa(config, seed, index, count_tokens=tokenizer.count, filler_words=words)
            rows += qa_rows(item, self.formats, tokenizer, length=self.length,
                            distractors=self.distractors)
        return _table(rows)


@dataclass(frozen=True)
class QAFileTask:
    """Shard task: the records of a HotpotQA-style file as traces in `formats`.

    The seed is unused, because nothing is random; item i is record i of the file.
    """

    path: str
    formats: tuple[str, ...] = FORMATS
    tokenizer: str = "mplm-v1"
    name: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", str(self.path))
        object.__setattr__(self, "formats", _check_formats(self.formats))
        object.__setattr__(self, "name", f"qa-{Path(self.path).stem}")

    def check_records(self) -> int:
        """Read every record of the file and return their number; raises InputError for a bad one."""
        return len(read_qa_records(self.path))

    def schema(self) -> pa.Schema:
        """Row schema of every shard."""
        return QA_SCHEMA

    def config(self) -> dict[str, Any]:
        """Settings that fix the rows, JSON-able; the file's sha256 detects a changed file."""
        return {"path": self.path, "formats": list(self.formats), "tokenizer": self.tokenizer,
                "kind": QAKind.EVIDENCE.value, "sha256": file_sha256(self.path),
                "tokenizer_ident": cached_tokenizer(self.tokenizer).ident,
                "generator_version": READER_VERSION, "trace_version": TRACE_VERSION}

    def rows(self, seed: int, start: int, stop: int) -> pa.Table:
        """Read, render and validate records start..stop-1."""
        tokenizer = cached_tokenizer(self.tokenizer)
        rows: list[dict[str, Any]] = []
        for item in read_qa_records(self.path, start, stop):
            rows += qa_rows(item, self.formats, tokenizer, generator_version=READER_VERSION)
        return _table(rows)


def validate_qa_row(row: dict[str, Any], tokenizer: TraceTokenizer | None = None) -> Costs:
    """Validate a row's trace against its answer and return the costs the validator measures.

    `tokenizer` (the project tokenizer by default) must be the one the row was counted in.
    Raises TraceError for an invalid trace, and MplmDataError for another tokenizer or when the
    measured costs differ from the recorded ones.
    """
    tokenizer = row_tokenizer(row, tokenizer)
    check = qa_answer_check(QAKind(row["kind"]), tuple(row["answer"].split()), tokenizer)
    return validate_row(row, tokenizer, check, f"row {row['kind']} index {row['index']}")


def read_qa_rows(path: str | Path) -> list[dict[str, Any]]:
    """Read every row of a QA trace file (one shard, `.arrow` or `.parquet`) as dicts.

    Raises InputError when the file lacks QA trace columns.
    """
    return read_trace_rows(path, QA_SCHEMA, "QA trace", "mplm-data gen qa")
