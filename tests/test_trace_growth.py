"""Growth of per-thread context with n: MPLM's maximum grows with a smaller exponent.

The counts come from rendering the same naked-single puzzles at n = 4, 9 and 16 in every format,
so the comparison is a property of the traces, not of any timing.
"""

from __future__ import annotations

import json

import pytest

from mplm_data.traces.stats import SweepConfig, cost_sweep, fit_exponent, plot_growth
from trace_cases import naked_single_derivation

SIZES = (4, 9, 16)


def _sampler(n, config):
    return [naked_single_derivation(n, config.seed + index) for index in range(config.count)], config.count


@pytest.fixture(scope="module")
def sweep():
    return cost_sweep(SweepConfig(sizes=SIZES, count=2, seed=0), sampler=_sampler)


def test_growth_mplm_slower_than_cot(sweep):
    assert sweep.exponents["mplm"] < sweep.exponents["cot"] - 0.5


def test_growth_mplm_slower_than_fj(sweep):
    assert sweep.exponents["mplm"] < sweep.exponents["fj"] - 0.5


def test_growth_exponents_match_means(sweep):
    for name in ("mplm", "fj", "cot"):
        values = [sweep.means[name][n]["max_context_tokens"] for n in SIZES]
        assert sweep.exponents[name] == pytest.approx(fit_exponent(SIZES, values))


def test_growth_mplm_max_context_below_cot_at_16(sweep):
    assert sweep.means["mplm"][16]["max_context_tokens"] * 10 < sweep.means["cot"][16]["max_context_tokens"]


@pytest.mark.parametrize("exponent", [1.0, 1.5, 2.0, 3.0])
def test_growth_fit_recovers_power(exponent):
    sizes = [4, 9, 16, 25]

    assert fit_exponent(sizes, [3.0 * n ** exponent for n in sizes]) == pytest.approx(exponent)


@pytest.mark.parametrize("sizes, values", [([4], [1.0]), ([4, 9], [1.0, 0.0]), ([4, 9], [1.0])])
def test_growth_fit_rejects_bad_input(sizes, values):
    with pytest.raises(ValueError, match="two or more sizes"):
        fit_exponent(sizes, values)


def test_growth_json_layout(sweep):
    data = json.loads(json.dumps(sweep.as_json()))

    assert set(data["formats"]) == {"mplm", "mplm-box", "mplm-unit", "fj", "cot"}
    assert set(data["formats"]["mplm"]) == {"4", "9", "16"}
    assert set(data["formats"]["cot"]["9"]) == {"threads", "messages", "max_context_tokens",
                                                 "mean_context_tokens", "total_tokens",
                                                 "critical_path_steps"}
    assert data["exponents"]["mplm"] == sweep.exponents["mplm"]


def test_growth_plot_written(sweep, tmp_path):
    path = plot_growth(sweep, tmp_path / "growth.png")

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["growth.png"]


@pytest.mark.parametrize("field, value", [("sizes", (3, 9)), ("sizes", (9, 9)), ("count", 0),
                                          ("variants", ("mplm", "tree")), ("solvable_by", "row"),
                                          ("max_attempts", 0), ("seed", -1),
                                          ("clue_fraction", 0.0), ("clue_fraction", 1.5)])
def test_growth_config_rejects(field, value):
    with pytest.raises(ValueError, match=field):
        SweepConfig(**{field: value})
