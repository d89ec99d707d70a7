"""Supervised fine-tuning rows: one token sequence per thread, trained only on what it generated.

A thread's row is its whole context as the runtime builds it: for a forked thread the parent's
tokens through the `</fork>` that started it, then `<prompt> ... </prompt>`, then its items in
order, delivered `<msg>` and `<stop>` spans included, then `<eos>`. `labels` equal `input_ids`
on the thread's own generated tokens (free words, sends, `<recv>`, preemptions, forks, `<halt>`,
answers, and the words a preemption cut short) and on the final `<eos>` of a thread that ended
by itself; they are -100 (`IGNORE_INDEX`) on the forked prefix, the prompt, every delivered span
and the `<eos>` after a preemption, since the runtime never asks a stopped thread for a token.

The `<eos>` label is written explicitly, so it stays trained when the pad token equals the eos
token (`pad_rows` pads labels with -100 by position, never by token id). Rows longer than
`max_length` are dropped, not truncated, and so are rows with no trained token; `SftCounts`
reports both. This module does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pyarrow as pa

from mplm_data.arrow_io import SUFFIXES, AtomicArrowWriter, read_table
from mplm_data.generators.errors import InputError
from mplm_data.traces import protocol as p
from mplm_data.traces.model import ItemKind, Thread, Trace
from mplm_data.traces.storage import row_trace
from mplm_data.traces.text import context_words
from mplm_data.traces.tokenizer import TraceTokenizer

IGNORE_INDEX = -100

# Columns of a trace file (`mplm_data.traces.storage`) that SFT rows are built from.
TRACE_COLUMNS = ("task", "format", "decomposition", "seed", "index", "trace")

SFT_SCHEMA = pa.schema([
    pa.field("task", pa.large_string(), nullable=False),
    pa.field("format", pa.large_string(), nullable=False),
    pa.field("decomposition", pa.large_string(), nullable=False),
    pa.field("seed", pa.int64(), nullable=True),
    pa.field("index", pa.int64(), nullable=True),
    pa.field("thread", pa.large_string(), nullable=False),
    pa.field("input_ids", pa.list_(pa.int32()), nullable=False),
    pa.field("attention_mask", pa.list_(pa.int8()), nullable=False),
    pa.field("labels", pa.list_(pa.int32()), nullable=False),
    pa.field("length", pa.int32(), nullable=False),
    pa.field("trained_tokens", pa.int32(), nullable=False),
])


@dataclass(frozen=True)
class SftRow:
    """One thread's training row; `labels` is -100 where no loss is taken.

    `weights`, when set, holds a loss weight per position (see `trace_rows(item_weights=...)`).
    """

    thread: str
    input_ids: tuple[int, ...]
    attention_mask: tuple[int, ...]
    labels: tuple[int, ...]
    weights: tuple[float, ...] | None = None

    @property
    def trained_tokens(self) -> int:
        """Number of positions with a label."""
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


@dataclass
class SftCounts:
    """How many threads became rows, and why the others were dropped."""

    threads: int = 0
    rows: int = 0
    dropped_too_long: int = 0
    dropped_no_labels: int = 0
    tokens: int = 0
    trained_tokens: int = 0
    max_row_length: int = 0

    def add(self, other: "SftCounts") -> None:
        """Add another count into this one."""
        for name in ("threads", "rows", "dropped_too_long", "dropped_no_labels", "tokens",
                     "trained_tokens"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.max_row_length = max(self.max_row_length, other.max_row_length)

    def as_dict(self) -> dict[str, int]:
        """Return the counts by name."""
        return dict(self.__dict__)


def thread_sequences(trace: Trace, tokenizer: TraceTokenizer) -> dict[str, tuple[list[int], list[bool]]]:
    """Encode each thread's full context (without `<eos>`) and mark the tokens it generated.

    Returns {thread name: (token ids, generated flags)}, from `text.context_words`: a forked
    thread's context starts with its parent's context through the `</fork>` that started it, and
    those tokens count as not generated.
    """
    sequences: dict[str, tuple[list[int], list[bool]]] = {}
    for thread in trace.threads:
        words, flags = context_words(trace, thread.name)
        sequences[thread.name] = tokenizer.encode_with_mask(words, flags)
    return sequences


def eos_id_of(tokenizer: TraceTokenizer) -> int:
    """Id of `<eos>` in the tokenizer; raises ValueError when it has none."""
    eos = tokenizer.tokenizer.token_to_id(p.EOS)
    if eos is None:
        raise ValueError(f"tokenizer {tokenizer.ident} has no {p.EOS} token; pass eos_id explicitly")
    return eos


def trace_rows(trace: Trace, tokenizer: TraceTokenizer, *, max_length: int, eos_id: int | None = None,
               item_weights: Mapping[ItemKind, float] | None = None) -> tuple[list[SftRow], SftCounts]:
    """One row per thread of `trace` (see the module docstring) and the counts.

    With `item_weights`, each row also gets per-position loss weights: the weight of the item
    kind a token belongs to, 1.0 for kinds not listed and for the final `<eos>`.
    """
    if max_length < 2:
        raise ValueError(f"max_length must be at least 2, got {max_length}")
    eos = eos_id_of(tokenizer) if eos_id is None else eos_id
    counts = SftCounts()
    rows: list[SftRow] = []
    sequences = thread_sequences(trace, tokenizer)
    for thread in trace.threads:
        counts.threads += 1
        ids, generated = sequences[thread.name]
        ended_by_itself = bool(thread.items) and thread.items[-1].kind in (ItemKind.HALT, ItemKind.ANSWER)
        input_ids = ids + [eos]
        labels = [token if mine else IGNORE_INDEX for token, mine in zip(ids, generated)]
        labels.append(eos if ended_by_itself else IGNORE_INDEX)

        if len(input_ids) > max_length:
            counts.dropped_too_long += 1
            continue
        weights = None if item_weights is None else _position_weights(thread, len(input_ids), tokenizer,
                                                                       item_weights)
        row = SftRow(thread.name, tuple(input_ids), (1,) * len(input_ids), tuple(labels), weights)
        trained = row.trained_tokens
        if trained == 0:
            counts.dropped_no_labels += 1
            continue
        rows.append(row)
        counts.rows += 1
        counts.tokens += len(input_ids)
        counts.trained_tokens += trained
        counts.max_row_length = max(counts.max_row_length, len(input_ids))
    return rows, counts


def _position_weights(thread: Thread, length: int, tokenizer: TraceTokenizer,
                      item_weights: Mapping[ItemKind, float]) -> tuple[float, ...]:
    """Loss weight per position of a thread's row: its items sit right before the final `<eos>`."""
    item_part: list[float] = []
    for item in thread.items:
        weight = item_weights.get(item.kind, 1.0)
        item_part += [weight] * tokenizer.count_words(item.to_words())
    return (1.0,) * (length - 1 - len(item_part)) + tuple(item_part) + (1.0,)


def pad_rows(rows: list[SftRow], pad_id: int, *, to_length: int | None = None) -> dict[str, np.ndarray]:
    """Right-pad rows into int64 arrays: input ids with `pad_id`, attention 0 and labels -100.

    Padding goes by position, so a trained `<eos>` keeps its label even when `pad_id` is the eos id.
    When the rows carry weights, a float32 `weights` array (0 on padding) is added.
    """
    width = max(len(row.input_ids) for row in rows) if to_length is None else to_length
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    labels = np.full((len(rows), width), IGNORE_INDEX, dtype=np.int64)
    attention_mask = np.zeros((len(rows), width), dtype=np.int64)
    for index, row in enumerate(rows):
        length = len(row.input_ids)
        if length > width:
            raise ValueError(f"row of thread {row.thread} has {length} tokens, more than "
                             f"to_length={width}")
        input_ids[index, :length] = row.input_ids
        labels[index, :length] = row.labels
        attention_mask[index, :length] = row.attention_mask
    batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
    if any(row.weights is not None for row in rows):
        weights = np.zeros((len(rows), width), dtype=np.float32)
        for index, row in enumerate(rows):
            weights[index, :len(row.input_ids)] = row.weights if row.weights is not None else 1.0
        batch["weights"] = weights
    return batch


@dataclass
class SftTableBuilder:
    """Collect rows of many traces into `SFT_SCHEMA` columns."""

    columns: dict[str, list[Any]] = field(default_factory=lambda: {name: [] for name in SFT_SCHEMA.names})

    def add(self, trace: Trace, rows: Iterable[SftRow], *, seed: int | None = None,
            index: int | None = None) -> None:
        """Append the rows of one trace with its ids."""
        columns = self.columns
        for row in rows:
            columns["task"].append(trace.task)
            columns["format"].append(trace.format)
            columns["decomposition"].append(trace.decomposition)
            columns["seed"].append(seed)
            columns["index"].append(index)
            columns["thread"].append(row.thread)
            columns["input_ids"].append(list(row.input_ids))
            columns["attention_mask"].append(list(row.attention_mask))
            columns["labels"].append(list(row.labels))
            columns["length"].append(len(row.input_ids))
            columns["trained_tokens"].append(row.trained_tokens)

    def __len__(self) -> int:
        return len(self.columns["thread"])

    def table(self) -> pa.Table:
        """The collected rows as a table, and clear the builder."""
        table = pa.Table.from_pydict(self.columns, schema=SFT_SCHEMA)
        self.columns = {name: [] for name in SFT_SCHEMA.names}
        return table


def trace_files(source: Path) -> list[Path]:
    """The trace files a source names: the file itself, or the `.arrow`/`.parquet` files of a folder."""
    if source.is_dir():
        files = sorted(path for path in source.rglob("*") if path.suffix in SUFFIXES and path.is_file()
                       and not path.name.startswith("."))
        if not files:
            raise InputError(f"no .arrow or .parquet files under {source}; pass a trace file or a "
                             f"folder that holds them")
        return files
    if not source.is_file():
        raise InputError(f"trace input {source} does not exist")
    return [source]


def write_sft(sources: list[Path], out: Path, tokenizer: TraceTokenizer, *, max_length: int,
              eos_id: int | None = None) -> SftCounts:
    """Turn every trace row of `sources` into SFT rows written atomically to `out`; return counts.

    Raises InputError for a file that is not a trace file.
    """
    eos = eos_id_of(tokenizer) if eos_id is None else eos_id
    counts = SftCounts()
    provenance = {"kind": "sft", "tokenizer": tokenizer.ident, "max_length": max_length,
                  "eos_id": eos, "sources": [str(path) for path in sources]}
    with AtomicArrowWriter(out, SFT_SCHEMA, provenance=provenance) as writer:
        for path in sources:
            table = read_table(path)
            missing = [name for name in TRACE_COLUMNS if name not in table.schema.names]
            if missing:
                raise InputError(f"{path} is not a trace file: it lacks the columns "
                                 f"{', '.join(missing)}")
            builder = SftTableBuilder()
            for row in table.select(list(TRACE_COLUMNS)).to_pylist():
                trace = row_trace(row, tokenizer)
                rows, trace_counts = trace_rows(trace, tokenizer, max_length=max_length, eos_id=eos)
                counts.add(trace_counts)
                builder.add(trace, rows, seed=row["seed"], index=row["index"])
            writer.write(builder.table())
        writer.finalize()
    return counts
