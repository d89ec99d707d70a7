"""Per-item seeds derived from a base seed, so that any item can be regenerated alone.

Seeds come from `numpy.random.SeedSequence(seed, spawn_key=(index, *stream))`, not from
`seed + index`, so items of nearby base seeds get unrelated streams (seed + index would reuse them). The output depends only on
(seed, index, stream), never on how items are split among workers.
"""

from __future__ import annotations

import numpy as np

# Numba kernels take signed 64-bit seeds; keep derived seeds below 2**63.
_SEED_MASK = (1 << 63) - 1


def _check_seed(name: str, value: int) -> None:
    if not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def item_seed(seed: int, index: int, *stream: int) -> int:
    """Derive the seed of item `index` (and optional sub-stream) from the base `seed`."""
    _check_seed("seed", seed)
    _check_seed("index", index)
    sequence = np.random.SeedSequence(int(seed), spawn_key=(int(index), *map(int, stream)))
    return int(sequence.generate_state(1, np.uint64)[0]) & _SEED_MASK


def item_rng(seed: int, index: int, *stream: int) -> np.random.Generator:
    """Build an independent numpy Generator for item `index` of the base `seed`."""
    _check_seed("seed", seed)
    _check_seed("index", index)
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(index), *map(int, stream))))
