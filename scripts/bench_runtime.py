"""Thread tokens per second of the batched runtime beside `model.generate` per thread, and KV memory.

Both sides run the same randomly initialised model (the `cpu` preset's Llama of
scripts/finetune_check.py) on the same 9x9 MPLM traces, with every generated token forced to the
trace's token, so both do exactly the work of decoding those traces:

- runtime: `Runtime` with `TeacherForcedModel(HFSequenceModel(model), ReplayModel(traces))` runs
  all puzzles at once. Every step is one batched forward pass over the fed threads, and each
  thread has its own slot in the KV cache. The output traces are checked against the generated ones.
- baseline: for each thread, in turn, `model.generate` on the thread's context so far for each
  maximal run of generated tokens (forced with `prefix_allowed_tokens_fn`), with the delivered
  messages appended between calls, as a per-thread decoding loop would do.

Thread tokens per second = generated tokens / wall seconds. The memory part runs the runtime on
growing numbers of puzzles under one `max_live_threads` budget and reports the KV cache's peak
slots and allocated bytes, which follow the budget, not the number of puzzles.

    .venv/bin/python scripts/bench_runtime.py --puzzles 16 --baseline-puzzles 1
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

import torch

from mplm_data.runtime.engine import Runtime, RuntimeConfig
from mplm_data.runtime.evaluate import sudoku_instances
from mplm_data.runtime.hf_model import HFSequenceModel
from mplm_data.runtime.models import ReplayModel, TeacherForcedModel
from mplm_data.runtime.problems import problem_from_trace
from mplm_data.runtime.sft import thread_sequences
from mplm_data.runtime.train import build_llama
from mplm_data.traces import protocol as p
from mplm_data.traces.model import Trace
from mplm_data.traces.sudoku import render_trace
from mplm_data.traces.text import render_document
from mplm_data.traces.tokenizer import TraceTokenizer, project_tokenizer


def cpu_preset_spec():
    """Load the model shape of the `cpu` preset from scripts/finetune_check.py."""
    path = Path(__file__).with_name("finetune_check.py")
    spec = importlib.util.spec_from_file_location("finetune_check", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.PRESETS["cpu"].model


def run_runtime(model: torch.nn.Module, traces: list[Trace], tokenizer: TraceTokenizer,
                max_live_threads: int) -> tuple[float, int, HFSequenceModel, Runtime]:
    """Decode the traces with the batched runtime; return seconds, generated tokens, model, runtime."""
    hf = HFSequenceModel(model)
    runtime = Runtime(TeacherForcedModel(hf, ReplayModel(traces, tokenizer)), tokenizer,
                      RuntimeConfig(max_live_threads=max_live_threads))
    started = time.perf_counter()
    results = runtime.run([problem_from_trace(trace) for trace in traces])
    seconds = time.perf_counter() - started
    for result, trace in zip(results, traces):
        if render_document(result.trace) != render_document(trace):
            raise SystemExit(f"the runtime's trace of puzzle {result.index} differs from the generated one")
    return seconds, sum(result.costs.total_tokens for result in results), hf, runtime


def run_baseline(model: torch.nn.Module, traces: list[Trace], tokenizer: TraceTokenizer) -> tuple[float, int, int]:
    """Decode every thread alone with `model.generate`; return seconds, generated tokens, calls."""
    pad = tokenizer.tokenizer.token_to_id(p.PAD)
    generated_tokens = calls = 0
    started = time.perf_counter()
    for trace in traces:
        for ids, generated in thread_sequences(trace, tokenizer).values():
            position = 0
            while position < len(ids):
                end = position
                while end < len(ids) and generated[end] == generated[position]:
                    end += 1
                if generated[position]:
                    _generate_forced(model, ids[:position], ids[position:end], pad)
                    generated_tokens += end - position
                    calls += 1
                position = end
    return time.perf_counter() - started, generated_tokens, calls


def _generate_forced(model: torch.nn.Module, context: list[int], forced: list[int], pad: int) -> None:
    start = len(context)

    def allowed(batch_id: int, input_ids: torch.Tensor) -> list[int]:
        return [forced[min(len(input_ids) - start, len(forced) - 1)]]

    with torch.no_grad():
        output = model.generate(input_ids=torch.tensor([context]), attention_mask=torch.ones(1, start, dtype=torch.long),
                                max_new_tokens=len(forced), min_new_tokens=len(forced), do_sample=False,
                                prefix_allowed_tokens_fn=allowed, pad_token_id=pad, eos_token_id=None)
    if output[0, start:].tolist() != forced:
        raise SystemExit("model.generate did not follow the forced tokens")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--puzzles", type=int, default=16, help="9x9 puzzles decoded by the runtime.")
    parser.add_argument("--baseline-puzzles", type=int, default=1, help="Puzzles decoded by the baseline.")
    parser.add_argument("--memory-sizes", default="4,16", help="Puzzle counts of the memory runs.")
    parser.add_argument("--memory-budget", type=int, default=2 * 81, help="max_live_threads of the memory runs.")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    tokenizer = project_tokenizer()
    sizes = [int(size) for size in args.memory_sizes.split(",")]
    count = max([args.puzzles, args.baseline_puzzles, *sizes])
    traces = [render_trace(derivation, "mplm", tokenizer).trace
              for derivation in sudoku_instances(9, count, args.seed, stream=7, clues=34)]
    model = build_llama(tokenizer, cpu_preset_spec(), seed=args.seed).eval()
    parameters = sum(parameter.numel() for parameter in model.parameters())
    print(f"model: {parameters:,} parameters; torch threads {torch.get_num_threads()}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    seconds, tokens, _, runtime = run_runtime(model, traces[:args.puzzles], tokenizer, 1 << 20)
    batched = tokens / seconds
    base_seconds, base_tokens, calls = run_baseline(model, traces[:args.baseline_puzzles], tokenizer)
    baseline = base_tokens / base_seconds
    print("| decoder | puzzles | generated tokens | seconds | thread tokens/s |")
    print("|---|---|---|---|---|")
    print(f"| runtime (batched, KV slots) | {args.puzzles} | {tokens:,} | {seconds:.1f} | {batched:,.0f} |")
    print(f"| model.generate per thread ({calls} calls) | {args.baseline_puzzles} | {base_tokens:,} | "
          f"{base_seconds:.1f} | {baseline:,.0f} |")
    print(f"runtime / baseline: {batched / baseline:.1f}x ({runtime.stats.steps} steps, "
          f"{runtime.stats.rows:,} rows)")

    print(f"\n| puzzles | max_live_threads | peak live threads | peak KV slots | KV MiB allocated |")
    print("|---|---|---|---|---|")
    for size in sizes:
        _, _, hf, runtime = run_runtime(model, traces[:size], tokenizer, args.memory_budget)
        print(f"| {size} | {args.memory_budget} | {runtime.stats.peak_live_threads} | {hf.cache.peak_slots} | "
              f"{hf.cache.allocated_bytes / 2**20:.1f} |")


if __name__ == "__main__":
    main()
