"""The transformers adapter: KV slots against full forward passes, forcing, memory and sampling."""

from __future__ import annotations

import random

import pytest
import torch

from mplm_data.generators.sudoku import PuzzleConfig, generate_puzzles
from mplm_data.solvers.sudoku_derivation import Technique
from mplm_data.solvers.sudoku_logic import derive
from mplm_data.traces.sudoku import render_trace
from mplm_data.traces.text import render_document
from mplm_data.traces.tokenizer import project_tokenizer
from mplm_data.runtime.engine import Runtime, RuntimeConfig
from mplm_data.runtime.hf_model import HFSequenceModel
from mplm_data.runtime.models import ReplayModel, ScriptedModel, TeacherForcedModel
from mplm_data.runtime.problems import problem_from_trace
from mplm_data.runtime.train import ModelSpec, build_llama

TOKENIZER = project_tokenizer()
VOCAB = TOKENIZER.tokenizer.get_vocab_size()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_model(kv_heads: int = 2, attention: str = "sdpa", seed: int = 1) -> torch.nn.Module:
    model = build_llama(TOKENIZER, ModelSpec(hidden_size=32, layers=2, heads=4, kv_heads=kv_heads,
                                             intermediate_size=64, max_positions=1024), seed=seed)
    model.config._attn_implementation = attention
    return model.eval()


def traces_4x4(fmt: str, count: int, seed: int) -> list:
    config = PuzzleConfig(n=4)
    puzzles, _ = generate_puzzles(config, seed, count)
    return [render_trace(derive(puzzle, config.geometry, max_technique=Technique.NAKED_SINGLE), fmt).trace
            for puzzle in puzzles]


@pytest.mark.parametrize("kv_heads, attention", [(4, "sdpa"), (2, "sdpa"), (2, "eager")])
def test_hf_sequence_model_matches_full_forward(kv_heads, attention):
    model = tiny_model(kv_heads, attention)
    adapter = HFSequenceModel(model, max_batch_tokens=24, slots=2, length=8)
    rng = random.Random(kv_heads)
    contexts: dict[int, list[int]] = {}
    for _ in range(4):
        contexts[adapter.open()] = []

    worst = 0.0
    for step in range(30):
        if step % 7 == 3:
            parent = rng.choice(list(contexts))
            contexts[adapter.open(parent)] = list(contexts[parent])
        if step % 9 == 5:
            closed = rng.choice(list(contexts))
            adapter.close(closed)
            del contexts[closed]
        batch = rng.sample(list(contexts), k=rng.randint(1, len(contexts)))
        chunks = [[rng.randrange(3, VOCAB) for _ in range(rng.choice([1, 1, 2, 5]))] for _ in batch]
        logits = adapter.feed(batch, chunks)
        with torch.no_grad():
            for row, (sequence, chunk) in enumerate(zip(batch, chunks)):
                contexts[sequence] += chunk
                expected = model(input_ids=torch.tensor([contexts[sequence]])).logits[0, -1]
                worst = max(worst, float((expected - logits[row]).abs().max()))
    assert worst < 1e-4
    assert adapter.cache.capacity[0] > 2


def test_hf_runtime_matches_naive_greedy_decoding():
    model = tiny_model()
    traces = traces_4x4("mplm", 2, 3)
    problems = [problem_from_trace(trace) for trace in traces]

    def naive(context: list[int]) -> int:
        with torch.no_grad():
            return int(model(input_ids=torch.tensor([context])).logits[0, -1].argmax())

    fast = Runtime(model, TOKENIZER).run(problems)
    slow = Runtime(ScriptedModel(naive, VOCAB), TOKENIZER).run(problems)
    for got, expected in zip(fast, slow):
        assert render_document(got.trace) == render_document(expected.trace)
        assert got.faults == expected.faults
        assert got.costs == expected.costs


@pytest.mark.parametrize("budget", [16, 48])
def test_forced_runtime_kv_slots_follow_live_budget(budget):
    traces = traces_4x4("mplm", 6, 4)
    adapter = HFSequenceModel(tiny_model(), slots=4)
    model = TeacherForcedModel(adapter, ReplayModel(traces, TOKENIZER))
    runtime = Runtime(model, TOKENIZER, RuntimeConfig(max_live_threads=budget))
    results = runtime.run([problem_from_trace(trace) for trace in traces])

    assert [render_document(result.trace) for result in results] == [render_document(trace) for trace in traces]
    assert runtime.stats.peak_live_threads <= budget
    assert adapter.cache.peak_slots <= budget
    assert adapter.cache.peak_slots > budget // 2


def test_sampling_does_not_depend_on_batching():
    model = tiny_model(seed=2)
    traces = traces_4x4("mplm", 3, 5)
    problems = [problem_from_trace(trace) for trace in traces]
    config = RuntimeConfig(temperature=1.0, seed=7)

    together = Runtime(model, TOKENIZER, config).run(problems)
    one_by_one = Runtime(model, TOKENIZER, RuntimeConfig(temperature=1.0, seed=7, max_live_threads=1)).run(problems)
    assert [render_document(result.trace) for result in together] == \
        [render_document(result.trace) for result in one_by_one]
    greedy = Runtime(model, TOKENIZER).run(problems)
    assert [render_document(result.trace) for result in together] != \
        [render_document(result.trace) for result in greedy]
