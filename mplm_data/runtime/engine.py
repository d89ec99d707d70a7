"""The batched multi-thread decoder: every live thread of many problems advances one step at a time.

`Runtime(model, tokenizer, config).run(problems)` decodes all problems and returns one
`RunResult` per problem, in input order. Each global step, every admitted problem runs its local
step (`ProblemRun.start_step`), all feeds of all problems go through the model together
(`feed`: one batched pass for single tokens, one for longer chunks such as delivered messages
and prompts), the next token of every fed thread is chosen, and each problem closes its step.
Each problem keeps its own step clock from 0, so its trace and costs do not depend on which
other problems share the batch.

Problems wait in a queue and are admitted while the live threads of admitted problems plus the
new problem's root threads stay within `max_live_threads` (one problem is always admitted when
none is running). Threads that forks create later count against nothing, so the budget bounds
the roots. The KV cache holds live threads only, so peak memory follows this budget, not the
number of problems.

`model` is a transformers causal LM (wrapped in `HFSequenceModel`) or any object with the same
`open`, `feed` and `close` methods (see `mplm_data.runtime.models`); an optional `reserve(n)`
is called after each admission with the number of sequences about to be open. Decoding is greedy unless
`temperature > 0`; then each problem draws from its own generator, seeded from
`SeedSequence(seed, spawn_key=(problem index,))`, so results do not depend on batching.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from mplm_data.traces.tokenizer import TraceTokenizer

from .hf_model import HFSequenceModel
from .problem_run import Feed, Limits, ProblemRun, TokenText, take
from .problems import Problem
from .results import RunResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuntimeConfig:
    """Limits, batching and sampling of a runtime.

    `max_new_tokens` and `max_context_tokens` apply per thread, `max_steps` per problem.
    `max_live_threads` bounds the live threads of admitted problems (see the module docstring)
    and `max_batch_tokens` the rows x padded width of one forward pass. `temperature` 0 means
    greedy decoding; `seed` seeds sampling. `end_token_ids` are token ids that end a thread like
    `<eos>` does (with a fault, since a thread must end with `<halt>`, an answer or a preemption),
    for pretrained models whose end-of-turn token is another one.
    """

    max_new_tokens: int = 4096
    max_context_tokens: int = 32768
    max_steps: int = 100_000
    max_live_threads: int = 4096
    max_batch_tokens: int = 16384
    temperature: float = 0.0
    seed: int = 0
    end_token_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for name in ("max_new_tokens", "max_context_tokens", "max_steps", "max_live_threads",
                     "max_batch_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"RuntimeConfig.{name} must be an integer >= 1, got {value!r}")
        if not 0.0 <= self.temperature <= 100.0:
            raise ValueError(f"RuntimeConfig.temperature must be in [0, 100], got {self.temperature!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"RuntimeConfig.seed must be a non-negative integer, got {self.seed!r}")


@dataclass
class RuntimeStats:
    """Counters of one `Runtime.run` call."""

    steps: int = 0
    rows: int = 0
    fed_tokens: int = 0
    generated_tokens: int = 0
    peak_live_threads: int = 0
    seconds: float = 0.0


class _Host:
    """The `SequenceHost` a problem run sees: the model's open and close."""

    def __init__(self, model: Any):
        self.model = model
        self.open_sequences = 0

    def open(self, parent: int | None = None) -> int:
        self.open_sequences += 1
        return self.model.open(parent)

    def close(self, sequence: int) -> None:
        self.open_sequences -= 1
        self.model.close(sequence)


def as_sequence_model(model: Any, config: RuntimeConfig) -> Any:
    """Return `model` if it has the sequence interface, else wrap a transformers model."""
    if all(hasattr(model, name) for name in ("open", "feed", "close")):
        return model
    if hasattr(model, "config") and isinstance(model, torch.nn.Module):
        return HFSequenceModel(model, max_batch_tokens=config.max_batch_tokens)
    raise TypeError(f"{type(model).__name__} is neither a transformers causal LM nor an object "
                    f"with open, feed and close methods")


class Runtime:
    """Decode problems with one model, many threads per forward pass (see the module docstring)."""

    def __init__(self, model: Any, tokenizer: TraceTokenizer, config: RuntimeConfig | None = None):
        self.config = config or RuntimeConfig()
        self.tokenizer = tokenizer
        self.model = as_sequence_model(model, self.config)
        self.text = TokenText(tokenizer, tuple(self.config.end_token_ids))
        self.limits = Limits(self.config.max_new_tokens, self.config.max_context_tokens,
                             self.config.max_steps)
        self.stats = RuntimeStats()

    def run(self, problems: Sequence[Problem]) -> list[RunResult]:
        """Decode every problem; return their results in input order."""
        config = self.config
        stats = self.stats = RuntimeStats()
        started = time.perf_counter()
        host = _Host(self.model)
        queue = deque(enumerate(problems))
        active: list[ProblemRun] = []
        rngs: dict[int, np.random.Generator] = {}
        results: list[RunResult | None] = [None] * len(problems)

        while queue or active:
            live = sum(run.live_threads for run in active)
            admitted = 0
            while queue and (not active or live + len(queue[0][1].roots) <= config.max_live_threads):
                index, problem = queue.popleft()
                run = ProblemRun(problem, index, self.tokenizer, self.text, self.limits, host)
                active.append(run)
                live += len(problem.roots)
                admitted += len(problem.roots)
                if config.temperature > 0:
                    rngs[index] = np.random.default_rng(np.random.SeedSequence(config.seed,
                                                                               spawn_key=(index,)))
            stats.peak_live_threads = max(stats.peak_live_threads, live)
            if admitted and hasattr(self.model, "reserve"):
                self.model.reserve(host.open_sequences + admitted)

            feeds: list[Feed] = []
            owners: list[int] = []
            for run in active:
                run_feeds = run.start_step()
                feeds.extend(run_feeds)
                owners.extend([run.index] * len(run_feeds))
            if feeds:
                self._decode(feeds, owners, rngs)

            still: list[ProblemRun] = []
            for run in active:
                if run.finish_step():
                    results[run.index] = run.result()
                else:
                    still.append(run)
            active = still
            stats.steps += 1

        stats.seconds = time.perf_counter() - started
        stats.generated_tokens = sum(result.costs.total_tokens for result in results if result)
        logger.info("runtime: %d problems, %d steps, %d rows, %.1f s", len(problems), stats.steps,
                    stats.rows, stats.seconds)
        return [result for result in results if result is not None]

    def _decode(self, feeds: list[Feed], owners: list[int], rngs: dict[int, np.random.Generator]) -> None:
        """Run the model on all feeds and hand each fed thread its next token."""
        sequences = [thread.sequence for thread, _ in feeds]
        chunks = [chunk for _, chunk in feeds]
        self.stats.rows += len(feeds)
        self.stats.fed_tokens += sum(len(chunk) for chunk in chunks)

        logits = self.model.feed(sequences, chunks)
        if self.config.temperature > 0:
            draws = [rngs[owner].random() for owner in owners]
            chosen = self._sample(logits, draws)
        else:
            chosen = logits.argmax(dim=-1).tolist()
        for (thread, _), token in zip(feeds, chosen):
            take(thread, token)

    def _sample(self, logits: torch.Tensor, draws: list[float]) -> list[int]:
        """Sample by inverse CDF with one uniform draw per row from the row's problem generator."""
        probabilities = torch.softmax(logits.float() / self.config.temperature, dim=-1)
        cumulative = probabilities.cumsum(dim=-1)
        uniform = torch.tensor(draws, dtype=cumulative.dtype, device=cumulative.device)[:, None]
        chosen = torch.searchsorted(cumulative, uniform * cumulative[:, -1:]).squeeze(-1)
        return chosen.clamp(max=logits.shape[-1] - 1).tolist()
