"""Tests for the DIMACS reader and writer and the Formula type."""

from __future__ import annotations

import bz2
import gzip
import lzma
import warnings
from pathlib import Path

import numpy as np
import pytest

from mplm_data.generators.dimacs import (
    DimacsHeaderWarning,
    Formula,
    format_dimacs,
    parse_dimacs,
    read_dimacs,
    write_dimacs,
)
from mplm_data.generators.errors import InputError

SATLIB_SMALL = "c comment\np cnf 3 2\n1 -2 3 0\n-1 2 0\n%\n0\n"


def test_parse_dimacs_satlib_trailer_is_not_empty_clause():
    formula = parse_dimacs(SATLIB_SMALL)

    assert formula.n_vars == 3
    assert formula.clauses == ((1, -2, 3), (-1, 2))


def test_parse_dimacs_ignores_everything_after_percent():
    formula = parse_dimacs("p cnf 2 1\n1 2 0\n%\n0\nthis is not dimacs 0\n")

    assert formula.clauses == ((1, 2),)


def test_parse_dimacs_clause_split_over_two_lines():
    formula = parse_dimacs("p cnf 4 1\n1 -2\nc a comment inside the clause\n3 4 0\n")

    assert formula.clauses == ((1, -2, 3, 4),)


def test_parse_dimacs_several_clauses_on_one_line():
    formula = parse_dimacs("p cnf 3 3\n1 2 0 -1 0 3 -2 0\n")

    assert formula.clauses == ((1, 2), (-1,), (3, -2))


def test_parse_dimacs_whitespace_variants():
    text = "c x\r\np  cnf\t3   2 \r\n\t 1\t-2   0\r\n   3 0\r\n\r\n"

    formula = parse_dimacs(text)

    assert formula.clauses == ((1, -2), (3,))


def test_parse_dimacs_explicit_empty_clause():
    formula = parse_dimacs("p cnf 2 2\n1 2 0\n0\n%\n0\n")

    assert formula.clauses == ((1, 2), ())


def test_parse_dimacs_final_clause_without_zero():
    formula = parse_dimacs("p cnf 3 2\n1 2 0\n-3 1")

    assert formula.clauses == ((1, 2), (-3, 1))


def test_parse_dimacs_no_clauses():
    formula = parse_dimacs("c nothing here\np cnf 0 0\n")

    assert formula.n_vars == 0
    assert formula.clauses == ()


def test_parse_dimacs_header_mismatch_warns():
    text = "p cnf 40 5\n1 2 3 0\n4 5 6 0\n-7 1 2 0\n"

    with pytest.warns(DimacsHeaderWarning, match="declares 5 clauses but the file holds 3"):
        formula = parse_dimacs(text)

    assert formula.n_clauses == 3
    assert formula.n_vars == 40


def test_parse_dimacs_header_mismatch_strict_raises():
    text = "p cnf 40 5\n1 2 3 0\n4 5 6 0\n-7 1 2 0\n"

    with pytest.raises(InputError, match=r"^<string>:1: header 'p cnf 40 5' declares 5 clauses"):
        parse_dimacs(text, strict=True)


def test_parse_dimacs_variable_above_header_warns():
    with pytest.warns(DimacsHeaderWarning, match="clauses use variable 9"):
        formula = parse_dimacs("p cnf 3 1\n1 -9 0\n")

    assert formula.n_vars == 9


def test_parse_dimacs_matching_header_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_dimacs(SATLIB_SMALL, strict=True)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_parse_dimacs_random_letters_raise(seed):
    rng = np.random.default_rng(seed)
    letters = "abdefghijklmnopqrstuvwxyz ABCXYZ\n"
    text = "".join(rng.choice(list(letters), size=400))

    with pytest.raises(InputError) as info:
        parse_dimacs(text, source="letters.txt")

    assert str(info.value).startswith("letters.txt:")


def test_parse_dimacs_bad_token_names_line_and_token():
    with pytest.raises(InputError) as info:
        parse_dimacs("p cnf 3 2\n1 2 0\n3 x4 0\n", source="bad.cnf")

    assert str(info.value).startswith("bad.cnf:3: invalid literal 'x4'")
    assert info.value.line == 3


@pytest.mark.parametrize("text, message", [
    ("1 2 0\n", "expected a 'p cnf VARIABLES CLAUSES' header"),
    ("", "no 'p cnf VARIABLES CLAUSES' header"),
    ("p cnf 3 1\np cnf 3 1\n1 0\n", "duplicate 'p' header"),
    ("p wcnf 3 1\n1 0\n", "invalid header"),
    ("p cnf three 1\n1 0\n", "invalid count 'three'"),
    ("p cnf 3 1\n1 2.5 0\n", "invalid literal '2.5'"),
    ("p cnf 3 1\n1 -3000000000 0\n", "literal -3000000000 is out of range"),
    ("p cnf 3000000000 1\n1 0\n", "header declares 3000000000 variables"),
])
def test_parse_dimacs_rejects_malformed(text, message):
    with pytest.raises(InputError, match=message):
        parse_dimacs(text)


@pytest.mark.parametrize("suffix, opener", [
    (".cnf", open), (".cnf.gz", gzip.open), (".cnf.bz2", bz2.open), (".cnf.xz", lzma.open),
])
def test_read_dimacs_compressed(tmp_path, suffix, opener):
    path = tmp_path / f"small{suffix}"
    with opener(path, "wt") as handle:
        handle.write(SATLIB_SMALL)

    assert read_dimacs(path).clauses == ((1, -2, 3), (-1, 2))


def test_read_dimacs_error_names_file(tmp_path):
    path = tmp_path / "broken.cnf"
    path.write_text("p cnf 2 1\n1 @ 0\n")

    with pytest.raises(InputError, match=rf"^{path}:2: invalid literal '@'"):
        read_dimacs(path)


@pytest.mark.parametrize("suffix", [".cnf", ".cnf.gz", ".cnf.bz2", ".cnf.xz"])
def test_write_dimacs_round_trip(tmp_path, suffix):
    formula = Formula(5, ((1, -2, 3), (), (-5,), (4, 4, -1)))
    path = tmp_path / "sub" / f"out{suffix}"

    write_dimacs(formula, path, comments=["written by a test", "second line"])

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_dimacs(path, strict=True) == formula
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_format_dimacs_header_matches_body():
    text = format_dimacs(Formula(4, ((1, 2), (-3,))))

    assert text == "p cnf 4 2\n1 2 0\n-3 0\n"


def test_formula_canonical_sorts_and_deduplicates():
    formula = Formula(4, ((3, -1, 3), (2, 1), (-1, 3), (-4,)))

    canonical = formula.canonical()

    assert canonical.clauses == ((-4,), (-1, 3), (1, 2))


def test_formula_canonical_equal_for_permuted_formulas():
    first = Formula(3, ((1, -2), (3, 2, -1)))
    second = Formula(3, ((-1, 3, 2), (-2, 1)))

    assert first != second
    assert first.canonical() == second.canonical()


@pytest.mark.parametrize("n_vars, clauses", [(2, ((1, 3),)), (2, ((0, 1),)), (-1, ()), (2**31, ())])
def test_formula_rejects_invalid_literals(n_vars, clauses):
    with pytest.raises(ValueError):
        Formula(n_vars, clauses)


def test_formula_unsatisfied_clauses():
    formula = Formula(3, ((1, 2), (-1, 3), (-2, -3)))

    assert formula.unsatisfied_clauses([1, -2, -3]) == [1]
    assert formula.unsatisfied_clauses([-1, 2, -3]) == []


def test_formula_to_arrays():
    literals, starts = Formula(3, ((1, -2), (), (3,))).to_arrays()

    assert literals.tolist() == [1, -2, 3]
    assert starts.tolist() == [0, 2, 2, 3]


@pytest.mark.parametrize("name, n_vars, n_clauses", [
    ("satlib_uf20-01.cnf", 20, 91), ("satlib_uf50-01.cnf", 50, 218),
    ("satlib_uuf50-01.cnf", 50, 218), ("satlib_uf100-01.cnf", 100, 430),
    ("satlib_uuf100-01.cnf", 100, 430),
])
def test_read_dimacs_public_satlib_file(public_data: Path, name, n_vars, n_clauses):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        formula = read_dimacs(public_data / "sat" / name, strict=True)

    assert formula.n_vars == n_vars
    assert formula.n_clauses == n_clauses
    assert {len(clause) for clause in formula.clauses} == {3}
