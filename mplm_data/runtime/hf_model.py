"""Run a transformers causal LM as a set of sequences that the runtime feeds chunk by chunk.

`HFSequenceModel` is the model interface the engine uses (`open`, `feed`, `close`) on top of a
Llama-style transformers model (Llama, Mistral, Qwen2 and others whose attention layers call
`cache.update` and accept a 4D mask and per-row `position_ids`). Every sequence owns a slot of a
`SlotKVCache`, so each step only the new tokens pass through the model. A call to `feed` splits
its rows into single-token rows and longer chunks, and each group into forward passes of at most
`max_batch_tokens` padded tokens. It returns the logits of the token after each chunk.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch

from .kv_cache import SlotKVCache

SUPPORTED_ATTENTION = ("sdpa", "eager")


class HFSequenceModel:
    """A transformers causal LM behind the runtime's sequence interface (see the module docstring).

    The model is put in eval mode. `max_batch_tokens` bounds rows x padded width per forward
    pass; `slots` and `length` size the first KV allocation, which grows on demand.
    """

    def __init__(self, model: Any, *, max_batch_tokens: int = 16384, slots: int = 64,
                 length: int = 256):
        if max_batch_tokens < 1:
            raise ValueError(f"max_batch_tokens must be at least 1, got {max_batch_tokens}")
        config = model.config
        attention = getattr(config, "_attn_implementation", None) or "eager"
        if attention not in SUPPORTED_ATTENTION:
            raise ValueError(f"attention implementation {attention!r} is not supported by the "
                             f"runtime; load the model with attn_implementation='sdpa'")

        self.model = model.eval()
        self.vocab_size = int(config.vocab_size)
        self.max_batch_tokens = max_batch_tokens
        self._float_mask = attention == "eager"
        self._cache_argument = ("cache" if "cache" in inspect.signature(model.forward).parameters
                                else "past_key_values")

        parameter = next(model.parameters())
        heads = config.num_attention_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
        kv_heads = getattr(config, "num_key_value_heads", None) or heads
        self.cache = SlotKVCache(config.num_hidden_layers, kv_heads, head_dim, dtype=parameter.dtype,
                                 device=parameter.device, slots=slots, length=length)
        self.device = parameter.device
        self.forward_passes = 0

    def open(self, parent: int | None = None) -> int:
        """Start a sequence, empty or holding a copy of `parent`'s context; return its slot."""
        slot = self.cache.allocate()
        if parent is not None:
            self.cache.copy(parent, slot)
        return slot

    def reserve(self, sequences: int) -> None:
        """Make room for `sequences` open sequences at once (the engine calls it on admission)."""
        self.cache.reserve(sequences)

    def close(self, sequence: int) -> None:
        """Free a sequence's slot."""
        self.cache.release(sequence)

    @torch.no_grad()
    def feed(self, sequences: list[int], chunks: list[list[int]]) -> torch.Tensor:
        """Append each chunk to its sequence; return float32 logits (rows, vocab) of the next token."""
        logits = torch.empty(len(sequences), self.vocab_size, dtype=torch.float32, device=self.device)
        singles = [row for row, chunk in enumerate(chunks) if len(chunk) == 1]
        longer = sorted((row for row, chunk in enumerate(chunks) if len(chunk) > 1),
                        key=lambda row: (len(chunks[row]), sequences[row]))
        singles.sort(key=lambda row: sequences[row])

        for group in (singles, longer):
            start = 0
            while start < len(group):
                width = len(chunks[group[start]])
                end = start + 1
                while end < len(group) and (end - start + 1) * max(width, len(chunks[group[end]])) \
                        <= self.max_batch_tokens:
                    width = max(width, len(chunks[group[end]]))
                    end += 1
                rows = group[start:end]
                logits[rows] = self._forward([sequences[row] for row in rows],
                                             [chunks[row] for row in rows], width)
                start = end
        return logits

    def _forward(self, slots: list[int], chunks: list[list[int]], width: int) -> torch.Tensor:
        ids = np.zeros((len(chunks), width), dtype=np.int64)
        for row, chunk in enumerate(chunks):
            ids[row, width - len(chunk):] = chunk
        position_ids, mask = self.cache.prepare(slots, [len(chunk) for chunk in chunks], width)
        if self._float_mask:
            blocked = torch.finfo(self.cache.dtype).min
            mask = torch.zeros(mask.shape, dtype=self.cache.dtype, device=self.device).masked_fill(~mask, blocked)

        arguments = {"input_ids": torch.from_numpy(ids).to(self.device), "attention_mask": mask,
                     "position_ids": position_ids, self._cache_argument: self.cache,
                     "use_cache": True, "logits_to_keep": 1}
        output = self.model(**arguments)
        self.cache.commit()
        self.forward_passes += 1
        return output.logits[:, -1, :].float()
