"""A KV cache with one slot per live sequence, which transformers attention layers write through.

Keys and values of layer `l` live in tensors of shape (slots, kv_heads, length, head_dim). A
sequence owns one slot and a length (tokens stored). A forward pass covers any subset of slots,
each feeding a chunk of new tokens *right-aligned* in a (rows, width) batch, with left padding:

- `prepare(slots, counts, width)` plans the writes and returns the `position_ids` (rows, width)
  and a boolean attention mask (rows, 1, width, keys) that lets query i of a row see its own
  stored tokens and its chunk up to i. Padding queries see position 0 only, so no softmax row
  is empty; their outputs are discarded.
- Each attention layer calls `update(keys, values, layer)`, which writes the real chunk tokens at
  their positions in the rows' slots. It returns the rows' keys and values up to the longest
  row: a view when the rows are consecutive slots in order, a gathered copy otherwise. The copy
  goes into one reused buffer pair, which is valid until the next `update`: the attention layer
  uses it before the next layer runs. Copying into fresh memory was 4-5x slower on the CPU
  (page faults on first touch of each new allocation).
- `commit()` adds the chunk lengths once the forward pass is done.

The object follows the duck-typed part of the transformers cache interface that Llama-style
attention uses (`update(key_states, value_states, layer_idx, ...)`); it is not a
`transformers.Cache`, so the model receives a ready 4D mask and explicit positions. Memory grows
with the number of slots in use at once and the longest sequence, never with the number of
sequences opened over time.
"""

from __future__ import annotations

import heapq
from typing import Any

import torch


class SlotKVCache:
    """Per-layer key and value tensors with one slot per sequence (see the module docstring)."""

    def __init__(self, layers: int, kv_heads: int, head_dim: int, *, dtype: torch.dtype,
                 device: torch.device | str, slots: int = 16, length: int = 128):
        self.layers, self.kv_heads, self.head_dim = layers, kv_heads, head_dim
        self.dtype, self.device = dtype, torch.device(device)
        self.keys = [self._zeros(slots, length) for _ in range(layers)]
        self.values = [self._zeros(slots, length) for _ in range(layers)]
        self.lengths = [0] * slots
        self._free = list(range(slots))
        self._used: set[int] = set()
        self.peak_slots = 0
        self._plan: dict[str, Any] | None = None
        self._gather_keys = torch.empty(0, dtype=dtype, device=self.device)
        self._gather_values = torch.empty(0, dtype=dtype, device=self.device)

    def _zeros(self, slots: int, length: int) -> torch.Tensor:
        return torch.zeros(slots, self.kv_heads, length, self.head_dim, dtype=self.dtype,
                           device=self.device)

    @property
    def capacity(self) -> tuple[int, int]:
        """(slots, length) currently allocated."""
        return self.keys[0].shape[0], self.keys[0].shape[2]

    @property
    def allocated_bytes(self) -> int:
        """Bytes held by the key and value tensors."""
        return 2 * sum(tensor.numel() * tensor.element_size() for tensor in self.keys)

    # -- slots ------------------------------------------------------------------------------------

    def allocate(self) -> int:
        """Take a free slot (the lowest one), growing the slot count when none is free."""
        if not self._free:
            slots, length = self.capacity
            self._grow(2 * slots, length)
        slot = heapq.heappop(self._free)
        self.lengths[slot] = 0
        self._used.add(slot)
        self.peak_slots = max(self.peak_slots, len(self._used))
        return slot

    def release(self, slot: int) -> None:
        """Return a slot to the free list."""
        if slot not in self._used:
            raise ValueError(f"slot {slot} is not in use; release each allocated slot once")
        self._used.discard(slot)
        self.lengths[slot] = 0
        heapq.heappush(self._free, slot)

    def reserve(self, slots: int) -> None:
        """Grow to at least `slots` slots in one step, so that later allocations need no copy."""
        current, length = self.capacity
        if slots > current:
            self._grow(slots, length)

    @torch.no_grad()
    def copy(self, source: int, target: int) -> None:
        """Make `target` hold a copy of `source`'s stored tokens."""
        length = self.lengths[source]
        for layer in range(self.layers):
            self.keys[layer][target, :, :length] = self.keys[layer][source, :, :length]
            self.values[layer][target, :, :length] = self.values[layer][source, :, :length]
        self.lengths[target] = length

    def _grow(self, slots: int, length: int) -> None:
        old_slots, old_length = self.capacity
        slots, length = max(slots, old_slots), max(length, old_length)
        for tensors in (self.keys, self.values):
            for layer, old in enumerate(tensors):
                new = self._zeros(slots, length)
                new[:old_slots, :, :old_length] = old
                tensors[layer] = new
        self.lengths += [0] * (slots - old_slots)
        for slot in range(old_slots, slots):
            heapq.heappush(self._free, slot)

    # -- one forward pass -------------------------------------------------------------------------

    def prepare(self, slots: list[int], counts: list[int], width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Plan a forward pass; return `position_ids` (rows, width) and the boolean mask."""
        past = torch.tensor([self.lengths[slot] for slot in slots], dtype=torch.long)
        count = torch.tensor(counts, dtype=torch.long)
        keys = int((past + count).max())
        _, length = self.capacity
        if keys > length:
            self._grow(0, max(keys, 2 * length))

        columns = torch.arange(width, dtype=torch.long)
        positions = past[:, None] + columns[None, :] - (width - count)[:, None]
        real = columns[None, :] >= (width - count)[:, None]
        rows, cols = real.nonzero(as_tuple=True)
        slot_index = torch.tensor(slots, dtype=torch.long)

        first = slots[0]
        consecutive = slots == list(range(first, first + len(slots)))
        self._plan = {
            "rows": rows.to(self.device), "cols": cols.to(self.device),
            "slots": slot_index[rows].to(self.device), "positions": positions[rows, cols].to(self.device),
            "gather": None if consecutive else slot_index.to(self.device),
            "first": first, "count": len(slots), "keys": keys, "chunk": list(zip(slots, counts)),
        }
        position_ids = positions.clamp(min=0)
        mask = torch.arange(keys)[None, None, None, :] <= position_ids[:, None, :, None]
        return position_ids.to(self.device), mask.to(self.device)

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int,
               *args: Any, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Store the chunk's keys and values of one layer; return the rows' keys and values."""
        plan = self._plan
        if plan is None:
            raise RuntimeError("SlotKVCache.update called without prepare(); call prepare() "
                               "before each forward pass")
        rows, cols, slots, positions = plan["rows"], plan["cols"], plan["slots"], plan["positions"]
        keys, values = self.keys[layer_idx], self.values[layer_idx]
        keys[slots, :, positions] = key_states[rows, :, cols].to(self.dtype)
        values[slots, :, positions] = value_states[rows, :, cols].to(self.dtype)

        span = plan["keys"]
        if plan["gather"] is None:
            first, count = plan["first"], plan["count"]
            return keys[first:first + count, :, :span], values[first:first + count, :, :span]
        gather = plan["gather"]
        shape = (gather.shape[0], self.kv_heads, span, self.head_dim)
        size = shape[0] * shape[1] * shape[2] * shape[3]
        if self._gather_keys.numel() < size:
            self._gather_keys = torch.empty(size, dtype=self.dtype, device=self.device)
            self._gather_values = torch.empty(size, dtype=self.dtype, device=self.device)
        out_keys = self._gather_keys[:size].view(shape)
        out_values = self._gather_values[:size].view(shape)
        torch.index_select(keys[:, :, :span], 0, gather, out=out_keys)
        torch.index_select(values[:, :, :span], 0, gather, out=out_values)
        return out_keys, out_values

    def commit(self) -> None:
        """Add the planned chunk lengths to the slots' lengths."""
        if self._plan is None:
            raise RuntimeError("SlotKVCache.commit called without prepare()")
        for slot, count in self._plan["chunk"]:
            self.lengths[slot] += count
        self._plan = None
