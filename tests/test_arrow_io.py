"""Tests for the atomic Arrow/Parquet writer."""

from __future__ import annotations

import datasets
import pyarrow as pa
import pytest

from mplm_data import __version__
from mplm_data.arrow_io import AtomicArrowWriter, read_provenance, read_table, write_table


def _table(rows: int) -> pa.Table:
    return pa.table({
        "index": pa.array(range(rows), pa.int64()),
        "puzzle": pa.array([f"p{i}" for i in range(rows)], pa.large_string()),
        "facts": pa.array([[i] * (i % 3) for i in range(rows)], pa.large_list(pa.int32())),
    })


@pytest.mark.parametrize("suffix", [".arrow", ".parquet"])
def test_write_table_round_trips_rows_and_provenance(tmp_path, suffix):
    path = tmp_path / f"rows{suffix}"
    table = _table(7)

    assert write_table(path, table, provenance={"seed": 3}) == 7

    assert read_table(path).equals(table)
    assert read_provenance(path) == {"seed": 3, "version": __version__}


def test_arrow_file_loads_with_datasets(tmp_path):
    path = tmp_path / "rows.arrow"
    write_table(path, _table(5))

    dataset = datasets.Dataset.from_file(str(path))

    assert dataset.num_rows == 5
    assert dataset[4]["facts"] == [4]


@pytest.mark.parametrize("suffix", [".arrow", ".parquet"])
def test_writer_leaves_nothing_when_interrupted(tmp_path, suffix):
    path = tmp_path / f"rows{suffix}"
    table = _table(3)

    with pytest.raises(KeyboardInterrupt):
        with AtomicArrowWriter(path, table.schema) as writer:
            writer.write(table)
            raise KeyboardInterrupt

    assert list(tmp_path.iterdir()) == []


def test_writer_keeps_old_file_until_finalize(tmp_path):
    path = tmp_path / "rows.arrow"
    write_table(path, _table(2))

    with AtomicArrowWriter(path, _table(9).schema) as writer:
        writer.write(_table(9))
        assert read_table(path).num_rows == 2
        writer.finalize()

    assert read_table(path).num_rows == 9


def test_writer_rejects_mismatched_schema(tmp_path):
    with AtomicArrowWriter(tmp_path / "rows.arrow", _table(1).schema) as writer:
        with pytest.raises(ValueError, match="does not match"):
            writer.write(pa.table({"index": pa.array([1], pa.int32())}))


def test_writer_rejects_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match="suffix '.csv'"):
        AtomicArrowWriter(tmp_path / "rows.csv", _table(1).schema)
