"""Train, validation and test splits that never share an instance.

Each row's split follows from a hash of its instance key, so equal keys always land in the same
split, whatever the order, shard or worker that produced the row. The key kinds:

- `sudoku`: `symmetry.invariant_keys` of the `puzzle` column (canonical text). Puzzles equivalent
  under relabelling, line and strip permutations or transposition share a key, so no split
  contains a symmetric copy of a puzzle from another split. A few non-equivalent puzzles share a
  key as well and then share a split, which costs nothing.
- `cnf`: the canonical form of the `clauses` column (DIMACS text, or a list of clauses of signed
  int literals), so formulas equal up to literal and clause order or repeats share a split.
- `column`: the exact value of one column.

The split is stored as a `split` column (large_string) in every shard, and the split config goes
into the manifest. The Hub export then writes one group of Parquet files per split. The
assignment changes only with the key, the fractions and `salt`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from mplm_data.generators.sudoku_geometry import Geometry, text_to_grid
from mplm_data.symmetry import formula_key, invariant_keys

SPLIT_NAMES = ("train", "validation", "test")
KEY_KINDS = ("sudoku", "cnf", "column")
SPLIT_FIELD = pa.field("split", pa.large_string(), nullable=False)
_DEFAULT_COLUMN = {"sudoku": "puzzle", "cnf": "clauses"}


@dataclass(frozen=True)
class SplitConfig:
    """Split fractions and the instance key that decides a row's split.

    `column` names the column the key reads (default `puzzle` for sudoku and `clauses` for cnf,
    required for `column`). `salt` reshuffles the assignment without changing the fractions.
    """

    train: float = 0.9
    validation: float = 0.05
    test: float = 0.05
    key: str = "sudoku"
    column: str | None = None
    salt: int = 0

    def __post_init__(self) -> None:
        for name in SPLIT_NAMES:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} fraction must be between 0 and 1, got {value!r}")
        total = self.train + self.validation + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"train + validation + test must equal 1, got {total!r} "
                             f"({self.train}, {self.validation}, {self.test})")
        if self.key not in KEY_KINDS:
            raise ValueError(f"key must be one of {', '.join(KEY_KINDS)}, got {self.key!r}")
        if self.key == "column" and not self.column:
            raise ValueError("column must name the key column when key='column', got None")
        if not isinstance(self.salt, int) or self.salt < 0:
            raise ValueError(f"salt must be a non-negative integer, got {self.salt!r}")

    @property
    def key_column(self) -> str:
        """Column that the key reads."""
        return self.column or _DEFAULT_COLUMN[self.key]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, as stored in the manifest."""
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> "SplitConfig":
        """Rebuild a config from `to_dict` output."""
        return cls(**record)

    def split_of(self, key: bytes) -> str:
        """Name of the split that instance `key` belongs to."""
        digest = hashlib.sha256(self.salt.to_bytes(8, "little") + key).digest()
        position = int.from_bytes(digest[:8], "little") / 2.0**64

        cumulative = 0.0
        last = "train"
        for name in SPLIT_NAMES:
            fraction = getattr(self, name)
            if fraction == 0:
                continue
            cumulative += fraction
            last = name
            if position < cumulative:
                return name
        # Rounding can leave the total a hair below 1; the last non-empty split takes the rest.
        return last

def instance_keys(table: pa.Table, config: SplitConfig) -> list[bytes]:
    """Return the instance key of every row of `table` for the key kind of `config`."""
    column = config.key_column
    if column not in table.column_names:
        raise ValueError(f"split key {config.key!r} reads column {column!r}, which the rows do "
                         f"not have (columns: {', '.join(table.column_names)}); set "
                         f"SplitConfig.column to the instance column")

    values = table.column(column).to_pylist()
    if config.key == "cnf":
        return [formula_key(clauses) for clauses in values]
    if config.key == "column":
        return [json.dumps(value, sort_keys=True).encode() for value in values]
    return _sudoku_keys(table, values)


def _sudoku_keys(table: pa.Table, puzzles: list[str]) -> list[bytes]:
    """Invariant keys of canonical-text puzzles, batched per geometry."""
    shapes: list[tuple[int, ...]]
    if {"n", "box_rows", "box_cols"} <= set(table.column_names):
        columns = [table.column(name).to_pylist() for name in ("n", "box_rows", "box_cols")]
        shapes = list(zip(*columns))
    else:
        shapes = [(Geometry.for_cell_count(len(text)).n, 0, 0) for text in puzzles]

    keys: list[bytes] = [b""] * len(puzzles)
    for shape in sorted(set(shapes)):
        n, box_rows, box_cols = shape
        geometry = Geometry(n, box_rows, box_cols) if box_rows else Geometry.for_size(n)
        rows = [i for i, other in enumerate(shapes) if other == shape]
        grids = np.stack([text_to_grid(puzzles[i], geometry) for i in rows])
        for row, key in zip(rows, invariant_keys(grids, geometry)):
            keys[row] = key
    return keys


def assign_splits(table: pa.Table, config: SplitConfig) -> list[str]:
    """Return the split name of every row of `table`."""
    return [config.split_of(key) for key in instance_keys(table, config)]


def with_split_field(schema: pa.Schema) -> pa.Schema:
    """Return `schema` with the `split` column appended."""
    return schema.append(SPLIT_FIELD)


def add_split_column(table: pa.Table, config: SplitConfig) -> pa.Table:
    """Append the `split` column to `table`."""
    if SPLIT_FIELD.name in table.column_names:
        raise ValueError(f"the rows already have a {SPLIT_FIELD.name!r} column; drop it or do "
                         f"not pass a split config")
    names = pa.array(assign_splits(table, config), type=SPLIT_FIELD.type)
    return table.append_column(SPLIT_FIELD, names)


def parse_split_option(text: str, key: str) -> SplitConfig | None:
    """Parse a `--splits` value: `none`, or train,validation,test fractions such as `0.9,0.05,0.05`."""
    if text.strip().lower() == "none":
        return None
    parts = [part.strip() for part in text.split(",")]
    try:
        train, validation, test = (float(part) for part in parts)
    except ValueError:
        raise ValueError(f"splits {text!r} is invalid; give three fractions train,validation,test "
                         f"such as 0.9,0.05,0.05, or none") from None
    return SplitConfig(train=train, validation=validation, test=test, key=key)
