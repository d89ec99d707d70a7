"""Cost statistics of 3-SAT traces over a sweep of variables, clause ratios and split depths.

`sat_stats(n_values, ratios, depths, count, seed, ...)` draws `count` uniform random 3-SAT
formulas for every (n, ratio) pair, labels each with a certified python-sat label, renders it as
CoT once and as MPLM and FJ at every split depth d (both from the same cube plan), checks every
answer, and averages. It returns

    {"formats":   {fmt: {n: {metric: mean}}},          # over ratios, depths and formulas
     "exponents": {fmt: slope},                        # log-log slope of `metric` over n
     "labels":    {"SAT" | "UNSAT": {fmt: {n: {metric: mean}}}},
     "ratios":    {fmt: {ratio: {metric: mean}}},
     "depths":    {fmt: {d: {metric: mean}}},          # mplm and fj only
     "savings":   {"all" | "SAT" | "UNSAT": {"n": {n: {...}}, "depth": {d: {...}},
                                             "ratio": {ratio: {...}}}},
     "counts":    {n: {"SAT": formulas, "UNSAT": formulas}},
     "settings":  {...}}

with numbers as keys (JSON writes them as strings). Metrics are the trace costs (`COST_NAMES`)
plus `preempted_threads` (threads a preemption stopped) and `cut_threads` (threads stopped
before the end of their DPLL events). A savings entry compares MPLM with FJ on the same
(formula, depth) pairs: `total_tokens` and `critical_path_steps` hold the fraction of FJ's sum
that MPLM saves, 1 - sum(MPLM) / sum(FJ), next to both means and the number of pairs.

The exponent is the least-squares slope of log(mean metric) against log(n). DPLL's work grows
exponentially in n near the threshold, so the slope only summarises the range measured. It is
None for a single n or a metric with a zero mean.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mplm_data.generators.ksat import MAX_RATIO, KsatConfig, generate_ksat
from mplm_data.solvers.sat_labels import label_formula
from .model import ItemKind, Trace
from .sat import RenderedSatTrace, render_sat_trace, sat_answer_check
from .sat_plan import DEFAULT_MAX_EVENTS, plan_cubes
from .schedule import COST_NAMES
from .stats import check_sweep_arguments, growth_exponent, save_figure
from .sudoku import FORMATS
from .tokenizer import TraceTokenizer, project_tokenizer

METRICS = (*COST_NAMES, "preempted_threads", "cut_threads")
LABELS = ("SAT", "UNSAT")
SAVED = ("total_tokens", "critical_path_steps")


def cut_threads(trace: Trace) -> int:
    """Count the threads that a preemption stopped before they sent anything.

    In SAT traces such a thread was still writing DPLL events, so the rest of its run was saved.
    """
    count = 0
    for thread in trace.threads:
        kinds = [item.kind for item in thread.items]
        if kinds and kinds[-1] is ItemKind.STOP and ItemKind.SEND not in kinds \
                and ItemKind.PARTIAL not in kinds:
            count += 1
    return count


def trace_metrics(rendered: RenderedSatTrace) -> dict[str, float]:
    """Return the costs of a rendered trace plus its preempted and cut thread counts."""
    return {**rendered.costs.as_dict(), "preempted_threads": rendered.preempted,
            "cut_threads": cut_threads(rendered.trace)}


def _check_arguments(n_values: Sequence[int], ratios: Sequence[float], depths: Sequence[int],
                     count: int, formats: Sequence[str], metric: str) -> None:
    for name, values in (("n_values", n_values), ("depths", depths)):
        if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
            raise ValueError(f"{name} must be a non-empty list of positive integers, got "
                             f"{list(values)!r}")
    if any(n < 3 for n in n_values):
        raise ValueError(f"n_values must be at least 3 for 3-SAT, got {list(n_values)!r}")
    if not ratios or any(not 0 < float(r) <= MAX_RATIO for r in ratios):
        raise ValueError(f"ratios must be a non-empty list of clause ratios in (0, {MAX_RATIO}], "
                         f"got {list(ratios)!r}")
    check_sweep_arguments(count, formats, metric, METRICS)


def _means(rows: list[dict[str, Any]]) -> dict[str, float]:
    return {name: float(np.mean([row[name] for row in rows])) for name in METRICS}


def _grouped(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, float]]:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row[key]].append(row)
    return {value: _means(groups[value]) for value in sorted(groups)}


def _savings(pairs: list[tuple[dict[str, Any], dict[str, Any]]],
             key: str) -> dict[Any, dict[str, float]]:
    """Savings of MPLM over FJ per value of `key`, from (mplm row, fj row) pairs."""
    groups: dict[Any, list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    for mplm, fj in pairs:
        groups[mplm[key]].append((mplm, fj))

    result: dict[Any, dict[str, float]] = {}
    for value in sorted(groups):
        group = groups[value]
        entry: dict[str, float] = {"pairs": len(group)}
        for name in SAVED:
            mplm_sum = sum(mplm[name] for mplm, _ in group)
            fj_sum = sum(fj[name] for _, fj in group)
            entry[name] = 1.0 - mplm_sum / fj_sum if fj_sum else 0.0
            entry[f"mplm_{name}"] = mplm_sum / len(group)
            entry[f"fj_{name}"] = fj_sum / len(group)
        entry["cut_threads"] = float(np.mean([mplm["cut_threads"] for mplm, _ in group]))
        result[value] = entry
    return result


def _measure(n_values: list[int], ratios: list[float], depths: list[int], count: int, seed: int,
             formats: Sequence[str], tokenizer: TraceTokenizer, solver: str,
             max_events: int) -> list[dict[str, Any]]:
    """Render every formula of the sweep; return one metrics row per trace."""
    rows: list[dict[str, Any]] = []
    pair = 0
    for n in n_values:
        for ratio in ratios:
            config = KsatConfig(n_vars=n, ratio=ratio)
            for offset in range(count):
                formula = generate_ksat(config, seed, pair * count + offset).formula
                label = label_formula(formula, solver=solver)
                check = sat_answer_check(formula, label.satisfiable, tokenizer)
                base = {"n": n, "ratio": ratio, "label": label.text, "formula": pair * count + offset}

                rendered: list[tuple[str, int | None, RenderedSatTrace]] = []
                if "cot" in formats:
                    rendered.append(("cot", None, render_sat_trace(formula, "cot", tokenizer,
                                                                   max_events=max_events)))
                for depth in depths:
                    if "mplm" not in formats and "fj" not in formats:
                        break
                    plan = plan_cubes(formula, depth, max_events=max_events)
                    for fmt in ("mplm", "fj"):
                        if fmt in formats:
                            rendered.append((fmt, depth, render_sat_trace(formula, fmt, tokenizer,
                                                                          plan=plan)))
                for fmt, depth, trace in rendered:
                    check(trace.trace)
                    rows.append({**base, "format": fmt, "depth": depth, **trace_metrics(trace)})
            pair += 1
    return rows


def sat_stats(n_values: Sequence[int], ratios: Sequence[float] = (3.5, 4.26, 5.0),
              depths: Sequence[int] = (2,), count: int = 4, seed: int = 0, *,
              formats: Sequence[str] = FORMATS, tokenizer: TraceTokenizer | None = None,
              metric: str = "max_context_tokens", solver: str = "cadical153",
              max_events: int = DEFAULT_MAX_EVENTS, plot: str | Path | None = None) -> dict[str, Any]:
    """Sweep n, ratio and depth; return mean costs and savings (see the module docstring).

    Formula i of the p-th (n, ratio) pair, in sorted order, is item p * count + i of uniform
    3-SAT with `seed`. `plot` saves the log-log plot of `metric` and the savings there. Raises
    ValueError for invalid arguments and MplmDataError when a DPLL run exceeds `max_events`.
    """
    n_values = sorted(set(n_values)) if n_values else []
    ratios = sorted({float(ratio) for ratio in ratios}) if ratios else []
    depths = sorted(set(depths)) if depths else []
    _check_arguments(n_values, ratios, depths, count, formats, metric)
    tokenizer = tokenizer or project_tokenizer()

    rows = _measure(n_values, ratios, depths, count, seed, formats, tokenizer, solver, max_events)
    by_format = {fmt: [row for row in rows if row["format"] == fmt] for fmt in formats}
    formats_means = {fmt: _grouped(by_format[fmt], "n") for fmt in formats}
    labels = {label: {fmt: _grouped([row for row in by_format[fmt] if row["label"] == label], "n")
                      for fmt in formats} for label in LABELS}

    fj_rows = {(row["formula"], row["depth"]): row for row in by_format.get("fj", [])}
    pairs = [(mplm, fj_rows[mplm["formula"], mplm["depth"]]) for mplm in by_format.get("mplm", [])
             if (mplm["formula"], mplm["depth"]) in fj_rows]
    savings = {}
    for group in ("all", *LABELS):
        chosen = [pair for pair in pairs if group == "all" or pair[0]["label"] == group]
        savings[group] = {key: _savings(chosen, key) for key in ("n", "depth", "ratio")}

    counts: dict[int, dict[str, int]] = {n: dict.fromkeys(LABELS, 0) for n in n_values}
    first = by_format[formats[0]]
    for row in first:
        if row["depth"] in (None, depths[0]):
            counts[row["n"]][row["label"]] += 1

    stats = {
        "formats": formats_means,
        "exponents": {fmt: growth_exponent(n_values, [formats_means[fmt][n][metric] for n in n_values])
                      for fmt in formats},
        "labels": labels,
        "ratios": {fmt: _grouped(by_format[fmt], "ratio") for fmt in formats},
        "depths": {fmt: _grouped(by_format[fmt], "depth") for fmt in formats if fmt != "cot"},
        "savings": savings,
        "counts": counts,
        "settings": {"n_values": n_values, "ratios": ratios, "depths": depths, "count": count,
                     "seed": seed, "formats": list(formats), "tokenizer": tokenizer.ident,
                     "metric": metric, "solver": solver, "max_events": max_events},
    }
    if plot is not None:
        plot_sat_stats(stats, plot)
    return stats


def plot_sat_stats(stats: dict[str, Any], path: str | Path) -> Path:
    """Draw mean `metric` against n per format (log-log) and MPLM's token savings over FJ.

    Writes the figure with `save_figure` and imports matplotlib with the Agg backend.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = stats["settings"]["metric"]
    path = Path(path)
    figure, (costs, saved) = plt.subplots(1, 2, figsize=(11, 4))
    for fmt, by_n in stats["formats"].items():
        ns = sorted(by_n, key=int)
        exponent = stats["exponents"].get(fmt)
        label = fmt if exponent is None else f"{fmt} (slope {exponent:.2f})"
        costs.plot([int(n) for n in ns], [by_n[n][metric] for n in ns], marker="o", label=label)
    costs.set_xscale("log")
    costs.set_yscale("log")
    costs.set_xlabel("variables n")
    costs.set_ylabel(f"mean {metric}")
    costs.legend()

    for group, by_key in stats["savings"].items():
        by_n = by_key["n"]
        if by_n:
            ns = sorted(by_n, key=int)
            saved.plot([int(n) for n in ns], [100 * by_n[n]["total_tokens"] for n in ns],
                       marker="o", label=group)
    saved.axhline(0, color="grey", linewidth=0.5)
    saved.set_xlabel("variables n")
    saved.set_ylabel("total tokens MPLM saves over FJ (%)")
    saved.legend()
    settings = stats["settings"]
    figure.suptitle(f"3-SAT traces: ratios {settings['ratios']}, depths {settings['depths']}, "
                    f"{settings['count']} formulas per (n, ratio)")
    figure.tight_layout()
    return save_figure(figure, path)
