"""Supervised fine-tuning of a causal LM on SFT rows, under a token budget and a time limit.

`build_llama(tokenizer, ModelSpec)` makes a small Llama-style model from a config with the
project tokenizer's vocabulary (nothing is downloaded). `train_sft(model, rows, TrainConfig)`
trains it on `mplm_data.runtime.sft` rows. The loss is the mean cross-entropy over labelled
positions (each thread's own tokens), weighted per position when the rows carry weights; the
logged curve is always the plain mean. Batches hold rows of similar length, up to `batch_tokens`
padded tokens. Training stops when `max_tokens` input tokens (padding not counted) have been
processed or `max_seconds` have passed, whichever comes first. The learning
rate warms up linearly, then decays by a cosine over the progress toward whichever limit is
nearer, so a time-limited run anneals too (and its schedule depends on the machine's speed). On
CUDA the forward pass runs under bf16 autocast. The batch order comes from `SeedSequence(seed)`.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from mplm_data.traces import protocol as p
from mplm_data.traces.tokenizer import TraceTokenizer

from .sft import IGNORE_INDEX, SftRow, pad_rows

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """Shape of a Llama-style model built from a config."""

    hidden_size: int = 128
    layers: int = 4
    heads: int = 4
    kv_heads: int = 4
    intermediate_size: int = 512
    max_positions: int = 4096

    def __post_init__(self) -> None:
        for name in ("hidden_size", "layers", "heads", "kv_heads", "intermediate_size", "max_positions"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ModelSpec.{name} must be an integer >= 1, got {value!r}")
        if self.hidden_size % self.heads or self.heads % self.kv_heads:
            raise ValueError(f"ModelSpec needs hidden_size divisible by heads and heads by kv_heads, "
                             f"got hidden_size={self.hidden_size}, heads={self.heads}, "
                             f"kv_heads={self.kv_heads}")


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser, batching and stopping settings of `train_sft`."""

    max_tokens: int = 1_000_000
    max_seconds: float = 600.0
    batch_tokens: int = 8192
    learning_rate: float = 3e-3
    warmup_steps: int = 20
    weight_decay: float = 0.01
    seed: int = 0
    log_every: int = 10

    def __post_init__(self) -> None:
        for name in ("max_tokens", "batch_tokens", "log_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be an integer >= 1, got {value!r}")
        if not self.max_seconds > 0:
            raise ValueError(f"TrainConfig.max_seconds must be > 0, got {self.max_seconds!r}")
        if not 0 < self.learning_rate < 1:
            raise ValueError(f"TrainConfig.learning_rate must be in (0, 1), got {self.learning_rate!r}")
        if not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(f"TrainConfig.warmup_steps must be an integer >= 0, got {self.warmup_steps!r}")


@dataclass
class TrainResult:
    """Record of a training run: steps, tokens, time and the loss curve (tokens seen, mean loss)."""

    steps: int = 0
    tokens: int = 0
    trained_tokens: int = 0
    seconds: float = 0.0
    stopped_by: str = ""
    curve: list[tuple[int, float]] = field(default_factory=list)

    @property
    def first_loss(self) -> float:
        """Mean loss of the first logged interval."""
        return self.curve[0][1] if self.curve else math.nan

    @property
    def last_loss(self) -> float:
        """Mean loss of the last logged interval."""
        return self.curve[-1][1] if self.curve else math.nan


def build_llama(tokenizer: TraceTokenizer, spec: ModelSpec, *, seed: int = 0) -> torch.nn.Module:
    """Build a randomly initialised LlamaForCausalLM over the tokenizer's vocabulary (sdpa attention)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    raw = tokenizer.tokenizer
    config = LlamaConfig(
        vocab_size=raw.get_vocab_size(with_added_tokens=True), hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size, num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads, num_key_value_heads=spec.kv_heads,
        max_position_embeddings=spec.max_positions, pad_token_id=raw.token_to_id(p.PAD),
        eos_token_id=raw.token_to_id(p.EOS), bos_token_id=None, tie_word_embeddings=True,
        attn_implementation="sdpa")
    torch.manual_seed(int(np.random.SeedSequence(seed).generate_state(1)[0]))
    return LlamaForCausalLM(config)


def length_batches(rows: list[SftRow], batch_tokens: int, rng: np.random.Generator) -> list[list[int]]:
    """Group row indices into batches of similar length, each at most `batch_tokens` padded tokens.

    Rows are shuffled, sorted by length (stable), cut greedily, and the batches shuffled again.
    A row longer than `batch_tokens` forms a batch of its own.
    """
    order = rng.permutation(len(rows))
    order = sorted(order.tolist(), key=lambda index: len(rows[index].input_ids))
    batches: list[list[int]] = []
    current: list[int] = []
    width = 0
    for index in order:
        length = len(rows[index].input_ids)
        if current and (len(current) + 1) * max(width, length) > batch_tokens:
            batches.append(current)
            current, width = [], 0
        current.append(index)
        width = max(width, length)
    if current:
        batches.append(current)
    return [batches[index] for index in rng.permutation(len(batches)).tolist()]


def train_sft(model: torch.nn.Module, rows: list[SftRow], pad_id: int, config: TrainConfig, *,
              device: torch.device | str = "cpu") -> TrainResult:
    """Train `model` on `rows` until the token budget or the time limit (see the module docstring)."""
    if not rows:
        raise ValueError("train_sft got no rows; check that the traces fit max_length")
    device = torch.device(device)
    model.to(device).train()
    rng = np.random.default_rng(np.random.SeedSequence(config.seed))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay, betas=(0.9, 0.98))

    result = TrainResult()
    started = time.perf_counter()
    interval_loss, interval_steps = 0.0, 0
    while not result.stopped_by:
        for batch_rows in length_batches(rows, config.batch_tokens, rng):
            batch = {name: torch.from_numpy(values).to(device)
                     for name, values in pad_rows([rows[index] for index in batch_rows], pad_id).items()}
            weights = batch.pop("weights", None)
            progress = max(result.tokens / config.max_tokens,
                           (time.perf_counter() - started) / config.max_seconds)
            for group in optimizer.param_groups:
                group["lr"] = config.learning_rate * _learning_rate_factor(result.steps, config.warmup_steps,
                                                                           progress)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            loss, mean_loss = _token_losses(logits, batch["labels"], weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()

            result.steps += 1
            result.tokens += int(batch["attention_mask"].sum())
            result.trained_tokens += int((batch["labels"] != -100).sum())
            interval_loss += float(mean_loss)
            interval_steps += 1
            if result.steps % config.log_every == 0:
                result.curve.append((result.tokens, interval_loss / interval_steps))
                interval_loss, interval_steps = 0.0, 0
            if result.tokens >= config.max_tokens:
                result.stopped_by = "tokens"
            elif time.perf_counter() - started >= config.max_seconds:
                result.stopped_by = "time"
            if result.stopped_by:
                break

    if interval_steps:
        result.curve.append((result.tokens, interval_loss / interval_steps))
    result.seconds = time.perf_counter() - started
    model.eval()
    logger.info("trained %d steps, %d tokens in %.1f s (stopped by %s), loss %.4f -> %.4f",
                result.steps, result.tokens, result.seconds, result.stopped_by,
                result.first_loss, result.last_loss)
    return result


def _token_losses(logits: torch.Tensor, labels: torch.Tensor,
                  weights: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the loss to optimise (weighted mean when `weights` is given) and the plain mean.

    Position t predicts label t+1; positions labelled -100 count for neither.
    """
    targets = labels[:, 1:]
    entropy = torch.nn.functional.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
        ignore_index=IGNORE_INDEX, reduction="none").view_as(targets)
    labelled = (targets != IGNORE_INDEX).float()
    mean = (entropy * labelled).sum() / labelled.sum().clamp(min=1.0)
    if weights is None:
        return mean, mean.detach()
    weight = weights[:, 1:] * labelled
    return (entropy * weight).sum() / weight.sum().clamp(min=1e-6), mean.detach()


def _learning_rate_factor(step: int, warmup: int, progress: float) -> float:
    """Linear warmup over `warmup` steps, then cosine decay to 10% as `progress` goes 0 -> 1."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
