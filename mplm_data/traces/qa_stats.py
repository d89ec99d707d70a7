"""Cost statistics of QA traces over a sweep of document lengths and hop counts.

`qa_stats(lengths, hops, count, seed, ...)` generates `count` items for every (length, hops)
pair at a fixed chunk size (`chunks = max(1, length // chunk_tokens)`, so longer documents get
more chunk threads), renders each in every format and averages the costs. It returns

    {"formats":   {fmt: {length: {metric: mean}}},   # mean over the hops values and items
     "hops":      {fmt: {hops: {metric: mean}}},     # mean over the lengths and items
     "exponents": {fmt: slope},                      # log-log slope of `metric` over length
     "settings":  {...}}                             # the arguments, for provenance

with integer lengths and hop counts as keys (JSON writes them as strings). Metrics are the trace
costs (`COST_NAMES`) plus `document_tokens`, the measured document length. The exponent is the
least-squares slope of log(mean metric) against log(length): about 1 when the metric grows
linearly with the document, about 0 when it stays flat. It is None for a single length or a
metric with a zero mean (CoT messages). `plot_qa_stats` draws the means of one metric against
length on log-log axes; `qa_stats(..., plot=PATH)` calls it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from mplm_data.generators.qa import MIN_CHUNK_TOKENS, QAConfig, QAKind, generate_qa
from .qa import render_qa_trace
from .schedule import COST_NAMES
from .stats import check_sweep_arguments, growth_exponent, save_figure
from .sudoku import FORMATS
from .tokenizer import TraceTokenizer, project_tokenizer

METRICS = (*COST_NAMES, "document_tokens")


def _positive_ints(name: str, values: Sequence[int]) -> list[int]:
    values = list(values)
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise ValueError(f"{name} must be a non-empty list of positive integers, got {values!r}")
    return sorted(set(values))


def qa_stats(lengths: Sequence[int], hops: int | Sequence[int], count: int, seed: int, *,
             kind: QAKind | str = QAKind.TRACK, chunk_tokens: int = 256, distractors: int = 4,
             formats: Sequence[str] = FORMATS, tokenizer: TraceTokenizer | None = None,
             metric: str = "max_context_tokens", plot: str | Path | None = None) -> dict[str, Any]:
    """Sweep document length and hops; return mean costs per format (see the module docstring).

    Item i of the p-th (length, hops) pair, in sorted order, is generated with index
    p * count + i of `seed`. `plot` saves the log-log plot of `metric` there. Raises ValueError
    for invalid arguments.
    """
    lengths = _positive_ints("lengths", lengths)
    hop_values = _positive_ints("hops", [hops] if isinstance(hops, int) else hops)
    check_sweep_arguments(count, formats, metric, METRICS)
    if isinstance(chunk_tokens, bool) or not isinstance(chunk_tokens, int) \
            or chunk_tokens < MIN_CHUNK_TOKENS:
        raise ValueError(f"chunk_tokens must be an integer >= {MIN_CHUNK_TOKENS}, got {chunk_tokens!r}")
    tokenizer = tokenizer or project_tokenizer()
    kind = QAKind(kind)

    sums = {fmt: {(length, hop): dict.fromkeys(METRICS, 0.0) for length in lengths for hop in hop_values}
            for fmt in formats}
    for pair, (length, hop) in enumerate((length, hop) for length in lengths for hop in hop_values):
        config = QAConfig(kind=kind, length=length, chunks=max(1, length // chunk_tokens), hops=hop,
                          distractors=distractors)
        for offset in range(count):
            item = generate_qa(config, seed, pair * count + offset, count_tokens=tokenizer.count)
            document = sum(tokenizer.count_words(chunk) for chunk in item.chunks)
            for fmt in formats:
                costs = render_qa_trace(item, fmt, tokenizer).costs.as_dict()
                totals = sums[fmt][length, hop]
                for name in COST_NAMES:
                    totals[name] += costs[name]
                totals["document_tokens"] += document

    by_length: dict[str, dict[int, dict[str, float]]] = {}
    by_hops: dict[str, dict[int, dict[str, float]]] = {}
    for fmt in formats:
        by_length[fmt] = {length: {name: sum(sums[fmt][length, hop][name] for hop in hop_values)
                                   / (count * len(hop_values)) for name in METRICS}
                          for length in lengths}
        by_hops[fmt] = {hop: {name: sum(sums[fmt][length, hop][name] for length in lengths)
                              / (count * len(lengths)) for name in METRICS}
                        for hop in hop_values}

    exponents = {fmt: growth_exponent(lengths, [by_length[fmt][length][metric] for length in lengths])
                 for fmt in formats}
    settings = {"lengths": lengths, "hops": hop_values, "count": count, "seed": seed,
                "kind": kind.value, "chunk_tokens": chunk_tokens, "distractors": distractors,
                "formats": list(formats), "tokenizer": tokenizer.ident, "metric": metric}
    stats = {"formats": by_length, "hops": by_hops, "exponents": exponents, "settings": settings}
    if plot is not None:
        plot_qa_stats(stats, plot)
    return stats


def plot_qa_stats(stats: dict[str, Any], path: str | Path, *, metric: str | None = None) -> Path:
    """Draw mean `metric` (default: the one the exponents use) against length, log-log, per format.

    Writes a PNG (or any format matplotlib infers from the suffix) with `save_figure`, and imports
    matplotlib with the Agg backend.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = metric or stats["settings"]["metric"]
    path = Path(path)
    figure, axes = plt.subplots(figsize=(6, 4))
    for fmt, by_length in stats["formats"].items():
        lengths = sorted(by_length, key=int)
        values = [by_length[length][metric] for length in lengths]
        exponent = stats["exponents"].get(fmt)
        label = fmt if exponent is None or metric != stats["settings"]["metric"] \
            else f"{fmt} (slope {exponent:.2f})"
        axes.plot([int(length) for length in lengths], values, marker="o", label=label)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("document length (tokens)")
    axes.set_ylabel(metric)
    settings = stats["settings"]
    axes.set_title(f"QA {settings['kind']}: {settings['chunk_tokens']} tokens per chunk")
    axes.legend()
    figure.tight_layout()
    return save_figure(figure, path)

