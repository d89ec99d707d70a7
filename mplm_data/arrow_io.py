"""Atomic Arrow and Parquet files with provenance in the schema metadata.

`AtomicArrowWriter` writes to a temporary file beside the target and renames it into place in
`finalize()`, so a reader never sees a partial file and an interrupted run leaves only the
temporary file, which the next run overwrites. The format follows the suffix: `.arrow` writes the
Arrow IPC stream format (the layout `datasets` uses for `.arrow` files and reads with
`Dataset.from_file`), `.parquet` writes Parquet.

Provenance (config, seed, package version, tokenizer, ...) is stored as JSON under the schema
metadata key `mplm_data`.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from mplm_data import __version__
from mplm_data.generators.errors import InputError, MplmDataError

logger = logging.getLogger(__name__)

PROVENANCE_KEY = b"mplm_data"
SUFFIXES = (".arrow", ".parquet")


def _format_of(path: Path, role: str = "output") -> str:
    if path.suffix not in SUFFIXES:
        raise MplmDataError(f"{role} file {path} has suffix {path.suffix!r}; use one of "
                            f"{', '.join(SUFFIXES)}")
    return path.suffix[1:]


def _check_input(path: Path) -> str:
    file_format = _format_of(path, "input")
    if not path.is_file():
        raise InputError(f"file {path} was not found; check the path")
    return file_format


def with_provenance(schema: pa.Schema, provenance: dict[str, Any] | None) -> pa.Schema:
    """Return `schema` with the provenance JSON (plus the package version) in its metadata."""
    record = {"version": __version__, **(provenance or {})}
    metadata = dict(schema.metadata or {})
    metadata[PROVENANCE_KEY] = json.dumps(record, sort_keys=True).encode()
    return schema.with_metadata(metadata)


class AtomicArrowWriter:
    """Write record batches to `path` through a temporary file, renamed into place on `finalize()`.

    Use it as a context manager. Leaving the block without `finalize()`, or by an exception,
    removes the temporary file and leaves any existing `path` untouched.
    """

    def __init__(self, path: str | Path, schema: pa.Schema, *,
                 provenance: dict[str, Any] | None = None):
        self.path = Path(path)
        self.format = _format_of(self.path)
        self.schema = with_provenance(schema, provenance)
        self.rows = 0
        self._tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self._writer: ipc.RecordBatchStreamWriter | pq.ParquetWriter | None = None
        self._done = False

    def __enter__(self) -> "AtomicArrowWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.format == "arrow":
            self._writer = ipc.new_stream(self._tmp, self.schema)
        else:
            self._writer = pq.ParquetWriter(self._tmp, self.schema)
        return self

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        """Append a table or record batch whose columns match the schema (metadata aside)."""
        if self._writer is None or self._done:
            raise RuntimeError("AtomicArrowWriter.write called outside its `with` block")
        if not data.schema.equals(self.schema, check_metadata=False):
            raise ValueError(f"batch schema does not match the file schema {self.path.name}:\n"
                             f"expected {self.schema.remove_metadata()}\ngot {data.schema}")

        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        table = table.replace_schema_metadata(self.schema.metadata)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def finalize(self) -> int:
        """Close the file, rename it into place and return the number of rows written."""
        if self._writer is None or self._done:
            raise RuntimeError("AtomicArrowWriter.finalize called outside its `with` block or twice")
        self._writer.close()
        os.replace(self._tmp, self.path)
        self._done = True
        logger.debug("wrote %d rows to %s", self.rows, self.path)
        return self.rows

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._done:
            return
        if self._writer is not None:
            self._writer.close()
        self._tmp.unlink(missing_ok=True)


def write_table(path: str | Path, table: pa.Table, *, provenance: dict[str, Any] | None = None) -> int:
    """Write one table atomically and return its row count."""
    with AtomicArrowWriter(path, table.schema, provenance=provenance) as writer:
        writer.write(table)
        return writer.finalize()


def read_table(path: str | Path) -> pa.Table:
    """Read a whole `.arrow` (IPC stream) or `.parquet` file."""
    path = Path(path)
    if _check_input(path) == "arrow":
        with pa.memory_map(str(path)) as source:
            return ipc.open_stream(source).read_all()
    return pq.read_table(path)


def read_provenance(path: str | Path) -> dict[str, Any]:
    """Return the provenance JSON stored in a file's schema metadata ({} when there is none)."""
    path = Path(path)
    if _check_input(path) == "arrow":
        with pa.memory_map(str(path)) as source:
            schema = ipc.open_stream(source).schema
    else:
        schema = pq.read_schema(path)
    raw = (schema.metadata or {}).get(PROVENANCE_KEY)
    return {} if raw is None else json.loads(raw)
