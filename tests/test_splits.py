"""Tests of the Sudoku symmetries, the invariant key, exact equivalence, CNF canonical forms and
split assignment: symmetric copies always share a split, and the pruned equivalence search agrees
with a brute-force search over the whole 4x4 group."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mplm_data.generators.sudoku_geometry import Geometry, grid_to_text, text_to_grid
from mplm_data.splits import (SPLIT_FIELD, SplitConfig, add_split_column, assign_splits,
                              instance_keys)
from mplm_data.symmetry import (Symmetry, canonical_clauses, equivalent, equivalent_brute_force,
                                formula_key, invariant_key, invariant_keys, random_symmetry)


def pattern_solution(geometry: Geometry) -> np.ndarray:
    """A valid complete grid: the shifted-row pattern for boxes of box_rows x box_cols."""
    n, rows, cols = geometry.n, geometry.box_rows, geometry.box_cols
    square = [[(r * cols + r // rows + c) % n + 1 for c in range(n)] for r in range(n)]
    return np.array(square, dtype=np.int8).ravel()


def random_puzzle(geometry: Geometry, rng: np.random.Generator, clues: int) -> np.ndarray:
    """A random symmetric image of the pattern grid with all but `clues` cells blanked."""
    grid = random_symmetry(geometry, rng).apply(pattern_solution(geometry), geometry)
    grid[rng.permutation(geometry.cells)[clues:]] = 0
    return grid


def read_puzzles(path: Path, limit: int) -> list[str]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")][:limit]


@pytest.fixture(scope="module")
def hard_9x9(public_data: Path) -> np.ndarray:
    geometry = Geometry.for_size(9)
    texts = read_puzzles(public_data / "sudoku" / "tdoku_puzzles2_17_clue_first1000.txt", 1000)
    return np.stack([text_to_grid(text, geometry) for text in texts])


@pytest.mark.parametrize("size", [4, 6, 8, 9, 12, 16])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_symmetry_keeps_grid_valid(size: int, seed: int) -> None:
    geometry = Geometry.for_size(size)
    element = random_symmetry(geometry, np.random.default_rng(seed))
    grid = element.apply(pattern_solution(geometry), geometry)

    for cells in geometry.units:
        assert sorted(grid[cells].tolist()) == list(range(1, size + 1))


def test_symmetry_rejects_transpose_of_rectangular_boxes() -> None:
    geometry = Geometry.for_size(6)
    element = Symmetry(True, tuple(range(6)), tuple(range(6)), tuple(range(1, 7)))

    with pytest.raises(ValueError, match="not square"):
        element.apply(pattern_solution(geometry), geometry)


def test_symmetry_rejects_row_order_across_bands() -> None:
    geometry = Geometry.for_size(4)
    element = Symmetry(False, (0, 2, 1, 3), tuple(range(4)), (1, 2, 3, 4))

    with pytest.raises(ValueError, match="strips of 2"):
        element.apply(pattern_solution(geometry), geometry)


@pytest.mark.parametrize("size", [4, 6, 9, 12, 16, 25])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_invariant_key_equal_for_symmetric_copies(size: int, seed: int) -> None:
    geometry = Geometry.for_size(size)
    rng = np.random.default_rng(seed)
    puzzle = random_puzzle(geometry, rng, clues=geometry.cells // 3)
    copy = random_symmetry(geometry, rng).apply(puzzle, geometry)

    assert invariant_key(copy, geometry) == invariant_key(puzzle, geometry)


def test_invariant_keys_independent_of_batch(hard_9x9: np.ndarray) -> None:
    geometry = Geometry.for_size(9)
    batch = invariant_keys(hard_9x9[:50], geometry)

    assert batch == [invariant_key(grid, geometry) for grid in hard_9x9[:50]]
    assert invariant_keys(hard_9x9[25:50], geometry) == batch[25:]


def test_invariant_keys_separate_real_puzzles(hard_9x9: np.ndarray) -> None:
    keys = invariant_keys(hard_9x9, Geometry.for_size(9))

    assert len(set(keys)) == len(hard_9x9)


@pytest.mark.parametrize("seed", range(6))
def test_equivalent_finds_symmetric_real_puzzles(hard_9x9: np.ndarray, seed: int) -> None:
    geometry = Geometry.for_size(9)
    rng = np.random.default_rng(seed)
    puzzle = hard_9x9[seed * 100]
    copy = random_symmetry(geometry, rng).apply(puzzle, geometry)

    assert equivalent(puzzle, copy, geometry)
    assert equivalent(copy, puzzle, geometry)


@pytest.mark.parametrize("seed", range(6))
def test_equivalent_rejects_different_real_puzzles(hard_9x9: np.ndarray, seed: int) -> None:
    geometry = Geometry.for_size(9)
    element = random_symmetry(geometry, np.random.default_rng(seed))
    copy = element.apply(hard_9x9[seed + 1], geometry)

    assert not equivalent(hard_9x9[seed], copy, geometry)


def test_equivalent_finds_duplicate_in_public_list(public_data: Path) -> None:
    # Two entries of the magictour list are the same puzzle with its bands reordered.
    geometry = Geometry.for_size(9)
    texts = read_puzzles(public_data / "sudoku" / "tdoku_puzzles3_magictour_top1465.txt", 2000)
    grids = np.stack([text_to_grid(text, geometry) for text in texts])
    keys = invariant_keys(grids, geometry)
    groups: dict[bytes, list[int]] = {}
    for index, key in enumerate(keys):
        groups.setdefault(key, []).append(index)
    shared = [members for members in groups.values() if len(members) > 1]

    assert len(shared) == 1
    first, second = shared[0]
    assert texts[first] != texts[second]
    assert equivalent(grids[first], grids[second], geometry)


@pytest.mark.parametrize("seed", range(8))
def test_equivalent_agrees_with_brute_force_4x4(seed: int) -> None:
    geometry = Geometry.for_size(4)
    rng = np.random.default_rng(seed)
    puzzles = [random_puzzle(geometry, rng, clues=int(rng.integers(3, 9))) for _ in range(12)]
    puzzles += [random_symmetry(geometry, rng).apply(p, geometry) for p in puzzles[:6]]

    found = 0
    for a in puzzles:
        for b in puzzles:
            exact = equivalent_brute_force(a, b, geometry)
            assert equivalent(a, b, geometry) == exact, (grid_to_text(a), grid_to_text(b))
            if exact:
                found += 1
                assert invariant_key(a, geometry) == invariant_key(b, geometry)
    assert found > len(puzzles)


def test_equivalent_agrees_with_brute_force_public_4x4(public_data: Path) -> None:
    geometry = Geometry.for_size(4)
    texts = read_puzzles(public_data / "sudoku" / "vukr_4x4.txt", 30)
    grids = [text_to_grid(text, geometry) for text in texts]

    for a, b in zip(grids, grids[1:]):
        assert equivalent(a, b, geometry) == equivalent_brute_force(a, b, geometry)


@pytest.mark.parametrize("clauses", [
    [[1, -2, 3], [-1, 2], [3]],
    [[5, 4], [4, 5], [-3, 2, 1]],
    [],
])
@pytest.mark.parametrize("seed", [0, 1])
def test_formula_key_ignores_order(clauses: list[list[int]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    shuffled = [list(rng.permutation(clause).tolist()) for clause in clauses]
    shuffled = [shuffled[i] for i in rng.permutation(len(shuffled))]

    assert canonical_clauses(shuffled) == canonical_clauses(clauses)
    assert formula_key(shuffled) == formula_key(clauses)


@pytest.mark.parametrize(("first", "second"), [
    ([[1, 2]], [[1, -2]]),
    ([[1, 2], [3]], [[1, 2, 3]]),
    ([[12]], [[1, 2]]),
])
def test_formula_key_separates_different_formulas(first: list, second: list) -> None:
    assert formula_key(first) != formula_key(second)


@pytest.mark.parametrize("fractions", [(0.9, 0.05, 0.06), (1.2, -0.1, -0.1), (0.5, 0.5, 0.1)])
def test_split_config_rejects_bad_fractions(fractions: tuple) -> None:
    with pytest.raises(ValueError, match="fraction|must equal 1"):
        SplitConfig(*fractions)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("key", "md5", "key must be one of"),
    ("salt", -1, "salt"),
])
def test_split_config_rejects_bad_fields(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SplitConfig(**{field: value})


def test_split_config_column_key_needs_column() -> None:
    with pytest.raises(ValueError, match="column must name"):
        SplitConfig(key="column")


def test_split_config_round_trips() -> None:
    config = SplitConfig(0.8, 0.1, 0.1, key="cnf", salt=3)

    assert SplitConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("fractions", [(0.9, 0.05, 0.05), (0.5, 0.5, 0.0), (0.0, 0.0, 1.0)])
def test_split_of_matches_fractions(fractions: tuple) -> None:
    config = SplitConfig(*fractions)
    names = [config.split_of(index.to_bytes(4, "little")) for index in range(20000)]

    for name, fraction in zip(("train", "validation", "test"), fractions):
        assert abs(names.count(name) / len(names) - fraction) < 0.015


def test_split_of_changes_with_salt() -> None:
    keys = [index.to_bytes(4, "little") for index in range(200)]
    plain, salted = SplitConfig(0.5, 0.25, 0.25), SplitConfig(0.5, 0.25, 0.25, salt=1)

    assert [plain.split_of(k) for k in keys] != [salted.split_of(k) for k in keys]


def sudoku_table(grids: list[np.ndarray], geometry: Geometry) -> pa.Table:
    count = len(grids)
    return pa.table({"n": [geometry.n] * count, "box_rows": [geometry.box_rows] * count,
                     "box_cols": [geometry.box_cols] * count,
                     "puzzle": pa.array([grid_to_text(g) for g in grids], pa.large_string())})


@pytest.mark.parametrize("size", [4, 6, 9])
def test_assign_splits_keeps_symmetric_copies_together(size: int) -> None:
    geometry = Geometry.for_size(size)
    rng = np.random.default_rng(size)
    originals = [random_puzzle(geometry, rng, clues=geometry.cells // 2) for _ in range(60)]
    copies = [random_symmetry(geometry, rng).apply(grid, geometry) for grid in originals]
    names = assign_splits(sudoku_table(originals + copies, geometry), SplitConfig(0.4, 0.3, 0.3))

    assert names[:60] == names[60:]
    assert {"train", "validation", "test"} == set(names)


def test_assign_splits_no_equivalent_pair_across_splits() -> None:
    geometry = Geometry.for_size(4)
    rng = np.random.default_rng(7)
    grids = [random_puzzle(geometry, rng, clues=int(rng.integers(4, 8))) for _ in range(30)]
    grids += [random_symmetry(geometry, rng).apply(grids[i], geometry) for i in range(30)]
    names = assign_splits(sudoku_table(grids, geometry), SplitConfig(0.4, 0.3, 0.3))

    for i, a in enumerate(grids):
        for j, b in enumerate(grids[:i]):
            if names[i] != names[j]:
                assert not equivalent_brute_force(a, b, geometry)


def test_assign_splits_mixed_geometries_without_shape_columns() -> None:
    grids = {size: random_puzzle(Geometry.for_size(size), np.random.default_rng(size), 10)
             for size in (4, 9)}
    table = pa.table({"puzzle": [grid_to_text(grids[4]), grid_to_text(grids[9])]})
    keys = instance_keys(table, SplitConfig())

    assert keys == [invariant_key(grids[4], Geometry.for_size(4)),
                    invariant_key(grids[9], Geometry.for_size(9))]


def test_formula_key_ignores_repeats() -> None:
    assert formula_key([[1, 1, -2], [1, -2], [3]]) == formula_key([[3], [-2, 1]])


def test_formula_key_reads_dimacs_text() -> None:
    text = "c example\np cnf 3 2\n1 -2 0\n3 0\n"

    assert formula_key(text) == formula_key([[3], [-2, 1]])


def test_assign_splits_cnf_ignores_order() -> None:
    clause_type = pa.large_list(pa.large_list(pa.int32()))
    table = pa.table({"clauses": pa.array([[[1, -2], [3]], [[3], [-2, 1]], [[2, 3]]], clause_type)})
    keys = instance_keys(table, SplitConfig(key="cnf"))

    assert keys[0] == keys[1]
    assert keys[0] != keys[2]


def test_add_split_column_schema() -> None:
    table = pa.table({"label": ["a", "b", "c"]})
    config = SplitConfig(key="column", column="label")
    result = add_split_column(table, config)

    assert result.schema.field("split") == SPLIT_FIELD
    assert result.column("split").to_pylist() == assign_splits(table, config)


def test_add_split_column_rejects_existing_column() -> None:
    table = pa.table({"label": ["a"], "split": ["train"]})

    with pytest.raises(ValueError, match="already have"):
        add_split_column(table, SplitConfig(key="column", column="label"))


def test_instance_keys_missing_column_names_fix() -> None:
    with pytest.raises(ValueError, match="SplitConfig.column"):
        instance_keys(pa.table({"grid": ["...."]}), SplitConfig())
