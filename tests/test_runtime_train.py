"""The fine-tune loop's pieces: token losses, length batches, configs and weighted rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mplm_data.generators.sudoku import PuzzleConfig, generate_puzzles
from mplm_data.solvers.sudoku_derivation import Technique
from mplm_data.solvers.sudoku_logic import derive
from mplm_data.traces import protocol as p
from mplm_data.traces.model import ItemKind
from mplm_data.traces.sudoku import render_trace
from mplm_data.traces.tokenizer import project_tokenizer
from mplm_data.runtime.sft import IGNORE_INDEX, pad_rows, trace_rows
from mplm_data.runtime.train import (ModelSpec, TrainConfig, _token_losses, build_llama,
                                     length_batches, train_sft)

TOKENIZER = project_tokenizer()
PAD = TOKENIZER.tokenizer.token_to_id(p.PAD)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def rows_4x4(seed: int, **options):
    config = PuzzleConfig(n=4)
    puzzles, _ = generate_puzzles(config, seed, 2)
    rows = []
    for puzzle in puzzles:
        trace = render_trace(derive(puzzle, config.geometry, max_technique=Technique.NAKED_SINGLE), "mplm").trace
        rows += trace_rows(trace, TOKENIZER, max_length=512, **options)[0]
    return rows


def test_train_token_loss_matches_transformers_loss():
    model = build_llama(TOKENIZER, ModelSpec(hidden_size=32, layers=1, heads=2, kv_heads=2,
                                             intermediate_size=64, max_positions=512))
    batch = {name: torch.from_numpy(values) for name, values in pad_rows(rows_4x4(1)[:6], PAD).items()}
    with torch.no_grad():
        output = model(**batch)
        loss, mean = _token_losses(output.logits, batch["labels"], None)
        ones, _ = _token_losses(output.logits, batch["labels"], torch.ones(batch["labels"].shape))
    assert float(loss) == pytest.approx(float(output.loss), rel=1e-5)
    assert float(mean) == pytest.approx(float(output.loss), rel=1e-5)
    assert float(ones) == pytest.approx(float(output.loss), rel=1e-5)


def test_train_weighted_rows_weight_commitments():
    weights = {ItemKind.SEND: 5.0, ItemKind.ANSWER: 5.0}
    plain = rows_4x4(2)
    weighted = rows_4x4(2, item_weights=weights)
    for row, heavy in zip(plain, weighted):
        assert heavy.labels == row.labels
        assert len(heavy.weights) == len(row.input_ids)
        words = p.split_words(TOKENIZER.tokenizer.decode(
            [token for token, weight in zip(row.input_ids, heavy.weights) if weight == 5.0],
            skip_special_tokens=False))
        assert words and words[0] == p.SEND
        assert words.count(p.SEND) == words.count(p.SEND_END)
        assert set(heavy.weights) == {1.0, 5.0}
    batch = pad_rows(weighted[:3], PAD)
    assert batch["weights"].dtype == np.float32
    assert (batch["weights"][batch["attention_mask"] == 0] == 0).all()


@pytest.mark.parametrize("batch_tokens", [64, 256, 1024])
def test_train_length_batches_cover_rows_once(batch_tokens):
    rows = rows_4x4(3)
    batches = length_batches(rows, batch_tokens, np.random.default_rng(0))
    assert sorted(index for batch in batches for index in batch) == list(range(len(rows)))
    for batch in batches:
        width = max(len(rows[index].input_ids) for index in batch)
        assert len(batch) == 1 or len(batch) * width <= batch_tokens


def test_train_sft_stops_at_token_budget_and_lowers_loss():
    rows = rows_4x4(4)
    model = build_llama(TOKENIZER, ModelSpec(hidden_size=32, layers=1, heads=2, kv_heads=2,
                                             intermediate_size=64, max_positions=512))
    result = train_sft(model, rows, PAD, TrainConfig(max_tokens=30_000, max_seconds=120, batch_tokens=1024,
                                                     learning_rate=1e-2, warmup_steps=2, log_every=2))
    assert result.stopped_by == "tokens"
    assert 30_000 <= result.tokens < 30_000 + 1024
    assert result.last_loss < 0.6 * result.first_loss
    assert not model.training
    assert all(label == IGNORE_INDEX or label >= 0 for row in rows for label in row.labels)


@pytest.mark.parametrize("field, value", [("hidden_size", 0), ("heads", 3), ("max_positions", -1)])
def test_train_model_spec_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        ModelSpec(**{field: value})


@pytest.mark.parametrize("field, value", [("max_tokens", 0), ("max_seconds", 0.0), ("learning_rate", 2.0),
                                          ("warmup_steps", -1)])
def test_train_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})
