"""Sudoku instances for fine-tune checks, and the summary of a runtime evaluation.

`sudoku_instances` draws puzzles from the project generator and keeps those whose derivation
uses naked singles only, the technique that the per-cell MPLM decomposition expresses, so every
format (MPLM, fork-join, chain of thought) is rendered from the same derivations. Training and
held-out sets come from different seed streams and held-out puzzles that also occur in
training are skipped.

`summarize` turns the runs of one format and their verdicts into the reported numbers. These are
the shares of protocol-valid threads and runs, the share of solved puzzles, the context per
thread (mean and max), generated tokens and decoding steps, each beside the generated traces'.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from mplm_data.generators.seeding import item_seed
from mplm_data.generators.sudoku import PuzzleConfig, generate_puzzles
from mplm_data.solvers.sudoku_derivation import Derivation, Technique
from mplm_data.solvers.sudoku_logic import derive
from mplm_data.traces.schedule import Costs

from .results import RunResult, Verdict

# Puzzles drawn per generator call while collecting instances.
_DRAW_BATCH = 64
# Draws allowed per requested instance before giving up (the clue count is then too low).
_MAX_DRAWS_PER_INSTANCE = 50


def sudoku_instances(n: int, count: int, seed: int, *, stream: int, clues: int | None = None,
                     exclude: frozenset[bytes] = frozenset()) -> list[Derivation]:
    """`count` naked-single derivations of n x n puzzles from stream `stream` of `seed`.

    Puzzles whose bytes are in `exclude` are skipped. Raises ValueError when too few puzzles
    qualify, which happens when `clues` is too low for naked singles to finish them.
    """
    config = PuzzleConfig(n=n, clues=clues)
    geometry = config.geometry
    base = item_seed(seed, 0, stream)
    found: list[Derivation] = []
    seen = set(exclude)
    start = 0
    while len(found) < count:
        if start >= count * _MAX_DRAWS_PER_INSTANCE:
            raise ValueError(f"only {len(found)} of {start} drawn {n}x{n} puzzles with clues={clues} "
                             f"are solved by naked singles; raise clues")
        puzzles, _ = generate_puzzles(config, base, _DRAW_BATCH, start)
        start += _DRAW_BATCH
        for puzzle in puzzles:
            key = puzzle.tobytes()
            if key in seen:
                continue
            seen.add(key)
            derivation = derive(puzzle, geometry, max_technique=Technique.NAKED_SINGLE)
            if derivation is not None:
                found.append(derivation)
                if len(found) == count:
                    break
    return found


def puzzle_keys(derivations: list[Derivation]) -> frozenset[bytes]:
    """Byte keys of the derivations' puzzles, for `sudoku_instances(exclude=...)`."""
    return frozenset(np.asarray(derivation.puzzle, dtype=np.int8).tobytes() for derivation in derivations)


@dataclass(frozen=True)
class Summary:
    """Evaluation numbers of one format (see the module docstring)."""

    format: str
    runs: int
    valid_runs: int
    solved: int
    threads: int
    valid_threads: int
    mean_context_tokens: float
    max_context_tokens: int
    total_tokens: int
    decode_steps: int
    mean_decode_steps: float
    reference_mean_context_tokens: float
    reference_max_context_tokens: int
    reference_total_tokens: int
    reference_critical_path_steps: float
    statuses: dict[str, int]
    fault_kinds: dict[str, int]
    first_errors: tuple[str, ...]

    @property
    def valid_run_share(self) -> float:
        """Share of protocol-valid runs."""
        return self.valid_runs / self.runs if self.runs else 0.0

    @property
    def valid_thread_share(self) -> float:
        """Share of protocol-valid threads."""
        return self.valid_threads / self.threads if self.threads else 0.0

    @property
    def solved_share(self) -> float:
        """Share of solved puzzles."""
        return self.solved / self.runs if self.runs else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Return all fields and the three shares as a dict for JSON."""
        record = dict(self.__dict__)
        record["first_errors"] = list(self.first_errors)
        record.update(valid_run_share=self.valid_run_share, valid_thread_share=self.valid_thread_share,
                      solved_share=self.solved_share)
        return record


def summarize(fmt: str, results: list[RunResult], verdicts: list[Verdict], references: list[Costs],
              *, errors_kept: int = 5) -> Summary:
    """Summarize the runs of one format; `references` are the generated traces' costs."""
    contexts = [context for result in results for context, _ in result.thread_tokens]
    statuses = Counter(result.status.value for result in results)
    faults = Counter(fault.kind.value for result in results for fault in result.faults)
    errors = tuple(f"problem {result.index}: {verdict.error}" for result, verdict in zip(results, verdicts)
                   if verdict.error is not None)[:errors_kept]
    reference_contexts = [costs.mean_context_tokens * costs.threads for costs in references]
    reference_threads = sum(costs.threads for costs in references)
    return Summary(
        format=fmt, runs=len(results), valid_runs=sum(verdict.valid for verdict in verdicts),
        solved=sum(verdict.solved for verdict in verdicts),
        threads=sum(verdict.threads for verdict in verdicts),
        valid_threads=sum(verdict.valid_threads for verdict in verdicts),
        mean_context_tokens=sum(contexts) / len(contexts) if contexts else 0.0,
        max_context_tokens=max(contexts, default=0),
        total_tokens=sum(result.costs.total_tokens for result in results),
        decode_steps=sum(result.decode_steps for result in results),
        mean_decode_steps=sum(result.decode_steps for result in results) / len(results) if results else 0.0,
        reference_mean_context_tokens=sum(reference_contexts) / reference_threads if reference_threads else 0.0,
        reference_max_context_tokens=max((costs.max_context_tokens for costs in references), default=0),
        reference_total_tokens=sum(costs.total_tokens for costs in references),
        reference_critical_path_steps=(sum(costs.critical_path_steps for costs in references) / len(references)
                                       if references else 0.0),
        statuses=dict(statuses), fault_kinds=dict(faults), first_errors=errors)
