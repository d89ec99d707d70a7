"""Cost sweeps over grid sizes, growth-exponent fits and the log-log plot of context growth.

`cost_sweep` draws `count` puzzles per size with the project generator, with
`round(clue_fraction * n * n)` clues. It keeps those that every trace variant can express (their
derivation needs techniques up to `max_technique(solvable_by)`), renders each puzzle in every
variant and averages the costs. The default fraction, 0.65, keeps the density of clues equal at
every size, which the growth fit needs. It is about the sparsest density at which most generated
36x36 puzzles still fall to naked singles (measured with the project generator: 3 of 3 at 0.65,
0 of 2 at 0.6). Variants are the trace formats with
the MPLM decompositions spelled out: `mplm` (cell threads), `mplm-box`, `mplm-unit`, `fj`, `cot`.

`fit_exponent` is the least-squares slope of log(value) against log(n): a cost that grows like
n^k has exponent k. The SAT and QA sweeps (`sat_stats`, `qa_stats`) also use
`check_sweep_arguments`, `growth_exponent` and `save_figure` from here.

Item i of size n is drawn from `item_seed(seed, i, n, attempt)` for attempt = 0, 1, ... until its
derivation passes the filter, so a sweep is reproducible from its seed.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from mplm_data.generators.errors import MplmDataError
from mplm_data.generators.seeding import item_seed
from mplm_data.solvers.sudoku_derivation import Derivation
from .schedule import COST_NAMES, Costs
from .sudoku import FORMATS, render_trace
from .sudoku_words import DECOMPOSITIONS, max_technique
from .tokenizer import TraceTokenizer, project_tokenizer

logger = logging.getLogger(__name__)

VARIANTS: dict[str, tuple[str, str]] = {
    "mplm": ("mplm", "cell"),
    "mplm-box": ("mplm", "box"),
    "mplm-unit": ("mplm", "unit"),
    "fj": ("fj", "box"),
    "cot": ("cot", "single"),
}
DEFAULT_SIZES = (4, 9, 16, 25, 36)
MAX_ATTEMPTS = 1000


@dataclass(frozen=True)
class SweepConfig:
    """Settings of a cost sweep: sizes, sample, variants and the puzzle filter."""

    sizes: tuple[int, ...] = DEFAULT_SIZES
    count: int = 4
    seed: int = 0
    variants: tuple[str, ...] = tuple(VARIANTS)
    solvable_by: str = "cell"
    max_attempts: int = 200
    clue_fraction: float | None = 0.65

    def __post_init__(self) -> None:
        if not self.sizes or any(not 4 <= size <= 36 for size in self.sizes):
            raise ValueError(f"sizes must be grid sizes between 4 and 36, got {self.sizes}")
        if len(set(self.sizes)) != len(self.sizes):
            raise ValueError(f"sizes must not repeat, got {self.sizes}")
        if not 1 <= self.count <= 10_000:
            raise ValueError(f"count must be between 1 and 10000, got {self.count}")
        if self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed}")
        unknown = [name for name in self.variants if name not in VARIANTS]
        if unknown or not self.variants:
            raise ValueError(f"variants must be a non-empty subset of {', '.join(VARIANTS)}, got "
                             f"{', '.join(self.variants) or 'none'}")
        if self.solvable_by not in DECOMPOSITIONS:
            raise ValueError(f"solvable_by must be one of {', '.join(DECOMPOSITIONS)}, got "
                             f"{self.solvable_by!r}")
        if self.clue_fraction is not None and not 0.0 < self.clue_fraction <= 1.0:
            raise ValueError(f"clue_fraction must be in (0, 1] or None for the generator's "
                             f"default, got {self.clue_fraction}")
        if not 1 <= self.max_attempts <= MAX_ATTEMPTS:
            raise ValueError(f"max_attempts must be between 1 and {MAX_ATTEMPTS}, got "
                             f"{self.max_attempts}")


@dataclass
class SweepResult:
    """Mean costs per variant and size, the fitted exponents, and what the sample took."""

    means: dict[str, dict[int, dict[str, float]]]
    exponents: dict[str, float]
    seconds: dict[int, float] = field(default_factory=dict)
    attempts: dict[int, int] = field(default_factory=dict)
    clues: dict[int, float] = field(default_factory=dict)
    tokenizer: str = ""
    generator: str = ""

    def as_json(self) -> dict:
        """`{"formats": {variant: {n: {metric: mean}}}, "exponents": {variant: value}}` plus the
        sample's details under `sample`."""
        return {"formats": {name: {str(n): metrics for n, metrics in sizes.items()}
                            for name, sizes in self.means.items()},
                "exponents": self.exponents,
                "sample": {"seconds": {str(n): value for n, value in self.seconds.items()},
                           "attempts": {str(n): value for n, value in self.attempts.items()},
                           "clues": {str(n): value for n, value in self.clues.items()},
                           "tokenizer": self.tokenizer, "generator": self.generator}}


def fit_exponent(sizes: list[int] | tuple[int, ...], values: list[float]) -> float:
    """Least-squares slope of log(value) against log(size); needs two sizes and positive values."""
    if len(sizes) < 2 or len(sizes) != len(values) or min(values) <= 0:
        raise ValueError(f"fitting an exponent needs two or more sizes with positive values, got "
                         f"sizes {list(sizes)} and values {list(values)}")
    slope, _ = np.polyfit(np.log(np.asarray(sizes, dtype=float)),
                          np.log(np.asarray(values, dtype=float)), 1)
    return float(slope)


def check_sweep_arguments(count: int, formats: Sequence[str], metric: str,
                          metrics: Sequence[str]) -> None:
    """Check the count, formats and metric of a SAT or QA sweep.

    `formats` must be a non-empty selection of the trace formats and `metric` one of `metrics`.
    Raises ValueError for an invalid argument.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if not formats or unknown:
        raise ValueError(f"formats must be a non-empty selection of {', '.join(FORMATS)}, got "
                         f"{list(formats)!r}")
    if metric not in metrics:
        raise ValueError(f"metric must be one of {', '.join(metrics)}, got {metric!r}")


def growth_exponent(sizes: list[int], means: list[float]) -> float | None:
    """Return `fit_exponent(sizes, means)`, or None for one size or a mean that is not positive."""
    if len(sizes) < 2 or min(means) <= 0:
        return None
    return fit_exponent(sizes, means)


def save_figure(figure: Any, path: Path, **options: Any) -> Path:
    """Save a matplotlib figure to `path` through a temporary file and a rename, then close it.

    It creates the parent folder. `options` go to `figure.savefig`, which infers the image format
    from the suffix.
    """
    from matplotlib import pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}{path.suffix}")
    try:
        figure.savefig(temporary, **options)
        os.replace(temporary, path)
    finally:
        plt.close(figure)
        temporary.unlink(missing_ok=True)
    return path


def sample_derivations(n: int, count: int, seed: int, solvable_by: str, max_attempts: int,
                       clue_fraction: float | None = None) -> tuple[list[Derivation], int]:
    """Draw `count` puzzles of size n that `solvable_by` expresses; return them and the draws made.

    `clue_fraction` sets the generator's clue target to that share of the cells (None keeps the
    generator's default). Raises MplmDataError when an item needs more than `max_attempts` draws.
    """
    from mplm_data.generators.sudoku import PuzzleConfig, generate_puzzle
    from mplm_data.solvers.sudoku_logic import derive

    clues = None if clue_fraction is None else max(1, round(clue_fraction * n * n))
    config = PuzzleConfig(n=n, clues=clues)
    limit = max_technique(solvable_by)
    derivations, draws = [], 0
    for index in range(count):
        for attempt in range(max_attempts):
            draws += 1
            puzzle, _ = generate_puzzle(config, item_seed(seed, index, n, attempt))
            derivation = derive(puzzle, config.geometry, max_technique=limit)
            if derivation is not None:
                derivations.append(derivation)
                break
        else:
            raise MplmDataError(f"no {n}x{n} puzzle solvable by {limit.label} in {max_attempts} "
                                f"draws for item {index}; raise --max-attempts or --clue-fraction, "
                                f"or choose a stronger --solvable-by")
    return derivations, draws


Sampler = Callable[[int, SweepConfig], tuple[list[Derivation], int]]


def _generated_sample(n: int, config: SweepConfig) -> tuple[list[Derivation], int]:
    """Draw the sample with the project generator (see `sample_derivations`)."""
    return sample_derivations(n, config.count, config.seed, config.solvable_by, config.max_attempts,
                              config.clue_fraction)


def cost_sweep(config: SweepConfig, tokenizer: TraceTokenizer | None = None, *,
               sampler: Sampler | None = None,
               progress: Callable[[str], None] | None = None) -> SweepResult:
    """Measure the mean costs of every variant at every size (see the module docstring).

    `sampler(n, config)` returns the derivations to render at size n and the draws it made; the
    default draws them with `sample_derivations`.
    """
    tokenizer = tokenizer or project_tokenizer()
    result = SweepResult({name: {} for name in config.variants}, {}, tokenizer=tokenizer.ident)
    if sampler is None:
        from mplm_data import __version__
        from mplm_data.generators import sudoku

        version = getattr(sudoku, "GENERATOR_VERSION", f"package {__version__}")
        sampler, result.generator = _generated_sample, f"mplm_data.generators.sudoku {version}"
    for n in config.sizes:
        started = time.perf_counter()
        derivations, draws = sampler(n, config)
        result.attempts[n] = draws
        result.clues[n] = float(np.mean([np.count_nonzero(d.puzzle) for d in derivations]))

        for name in config.variants:
            fmt, decomposition = VARIANTS[name]
            costs: list[Costs] = [render_trace(derivation, fmt, tokenizer,
                                               decomposition=decomposition).costs
                                  for derivation in derivations]
            result.means[name][n] = {metric: float(np.mean([getattr(c, metric) for c in costs]))
                                     for metric in COST_NAMES}
            if progress is not None:
                progress(f"{n}x{n} {name}: done")
        result.seconds[n] = time.perf_counter() - started
        logger.info("size %d: %d puzzles from %d draws in %.1f s", n, config.count, draws,
                    result.seconds[n])

    if len(config.sizes) >= 2:
        for name in config.variants:
            values = [result.means[name][n]["max_context_tokens"] for n in config.sizes]
            result.exponents[name] = fit_exponent(config.sizes, values)
    return result


def plot_growth(result: SweepResult, path: str | Path, metric: str = "max_context_tokens") -> Path:
    """Draw `metric` against n on log-log axes, one line per variant, and save it atomically."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    path = Path(path)
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    for name, sizes in result.means.items():
        ns = sorted(sizes)
        label = name
        if name in result.exponents:
            label += f" (n^{result.exponents[name]:.2f})"
        axes.plot(ns, [sizes[n][metric] for n in ns], marker="o", label=label)
    axes.set_xscale("log")
    axes.set_yscale("log")
    ns = sorted({n for sizes in result.means.values() for n in sizes})
    axes.set_xticks(ns, [str(n) for n in ns])
    axes.set_xticks([], minor=True)
    axes.set_xlabel("grid size n (n x n Sudoku)")
    axes.set_ylabel(f"mean {metric.replace('_', ' ')}")
    axes.set_title(f"Per-thread context growth ({result.tokenizer.split('@')[0]} tokens)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return save_figure(figure, path, dpi=120)


def format_table(result: SweepResult) -> list[list[str]]:
    """Rows of the cost table: variant, n, then the mean of each cost."""
    rows = []
    for name, sizes in result.means.items():
        for n in sorted(sizes):
            metrics = sizes[n]
            rows.append([name, str(n)] + [_number(metrics[metric]) for metric in COST_NAMES])
    return rows


def _number(value: float) -> str:
    return f"{value:.1f}" if not math.isclose(value, round(value)) else str(int(round(value)))
