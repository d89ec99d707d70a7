"""Fine-tune a model on generated Sudoku traces, then check that it follows the protocol.

For each format (MPLM with one thread per cell, and chain of thought), the script renders
traces of training puzzles and turns them into SFT rows, with the loss only on each thread's own
tokens. It trains a fresh model on them and runs the MPLM runtime on held-out puzzles. The CoT model gets the
same token budget as the MPLM model: it trains until it has processed as many input tokens as
the MPLM run did, or until the same time limit. Reported per format: shares of protocol-valid
threads and runs, share of solved puzzles, context per thread (mean and max), generated tokens
and decoding steps, beside the costs of the generated traces of the same puzzles.

Presets:

- `smoke`: 4x4 puzzles and a tiny model; seconds on a CPU (run by tests/test_finetune_smoke.py).
- `cpu`: 9x9 puzzles (34 clues, naked-single derivations) and a small Llama built from a config
  with the project tokenizer; at most 10 minutes of training per format.
- `gpu`: 16x16 and 25x25 puzzles, evaluated on 25x25; a larger Llama from a config, or a local
  pretrained model with `--model PATH`; bf16 on CUDA. Only MPLM by default, because 25x25 CoT
  traces are over 26,000 tokens long.

- `prompt`: no fine-tuning; a local pretrained instruction model (`--model PATH`) follows the
  protocol from a system prompt on long-context QA items, beside fork-join prompting. The
  arguments after `--preset prompt` go to `mplm_data.runtime.prompting.main`, which writes
  `prompting.json`.

Writes `finetune_<preset>.json`, `loss_<preset>.png` and prints a Markdown table. Example:

    .venv/bin/python scripts/finetune_check.py --preset cpu --out runs/cpu
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import logging
import multiprocessing
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mplm_data.runtime.engine import Runtime, RuntimeConfig
from mplm_data.runtime.evaluate import Summary, puzzle_keys, sudoku_instances, summarize
from mplm_data.runtime.problems import problem_from_trace
from mplm_data.runtime.results import judge
from mplm_data.runtime.sft import SftCounts, SftRow, trace_rows
from mplm_data.runtime.train import ModelSpec, TrainConfig, TrainResult, build_llama, train_sft
from mplm_data.solvers.sudoku_derivation import Derivation
from mplm_data.traces import protocol as p
from mplm_data.traces.model import ItemKind, Trace
from mplm_data.traces.schedule import Costs
from mplm_data.traces.sudoku import answer_check, render_trace
from mplm_data.traces.tokenizer import TraceTokenizer, load_tokenizer, project_tokenizer

logger = logging.getLogger("finetune_check")


@dataclass(frozen=True)
class Preset:
    """Data, model, training and evaluation settings of one check."""

    name: str
    train_sets: tuple[tuple[int, int | None, int], ...]  # (n, clues, puzzles) per grid size
    eval_n: int
    eval_clues: int | None
    eval_puzzles: int
    formats: tuple[str, ...]
    model: ModelSpec
    train: TrainConfig
    max_length: int
    max_live_threads: int
    max_batch_tokens: int = 16384
    cot_eval_puzzles: int | None = None  # fewer CoT runs when its sequential decoding is slow
    # Share of MPLM given-cell threads kept for training. They are about 40% of the threads but
    # only write `<send> peers D </send> <halt>`, so most of their tokens are prompt.
    given_keep: float = 1.0
    # Loss weight of MPLM commitments (`<send>` and `<answer>` items). A cell thread commits once,
    # after about 20 state updates, and its digit is the one decision that needs all the digits
    # dropped so far, so it is a small share of the plain loss.
    commit_weight: float = 1.0


PRESETS = {
    "smoke": Preset(
        "smoke", ((4, None, 64),), 4, None, 8, ("mplm", "cot"),
        ModelSpec(hidden_size=64, layers=2, heads=4, kv_heads=4, intermediate_size=192, max_positions=512),
        TrainConfig(max_tokens=900_000, max_seconds=120.0, batch_tokens=2048, learning_rate=3e-3,
                    warmup_steps=10, log_every=5),
        max_length=512, max_live_threads=512),
    "cpu": Preset(
        "cpu", ((9, 34, 600),), 9, 34, 200, ("mplm", "cot"),
        ModelSpec(hidden_size=96, layers=3, heads=4, kv_heads=4, intermediate_size=384, max_positions=2560),
        TrainConfig(max_tokens=20_000_000, max_seconds=600.0, batch_tokens=4096, learning_rate=4e-3,
                    warmup_steps=30, log_every=20),
        max_length=2560, max_live_threads=4096, cot_eval_puzzles=50, given_keep=0.25, commit_weight=5.0),
    # NOTE: the gpu preset has only been dry-run on a CPU. Its model size, time split and
    # live-thread budget are estimates for one H200 and are not yet measured.
    "gpu": Preset(
        "gpu", ((16, 140, 200), (25, 380, 100)), 25, 380, 64, ("mplm",),
        ModelSpec(hidden_size=384, layers=6, heads=6, kv_heads=2, intermediate_size=1536, max_positions=2048),
        TrainConfig(max_tokens=400_000_000, max_seconds=300.0, batch_tokens=131072, learning_rate=2e-3,
                    warmup_steps=50, log_every=20),
        max_length=2048, max_live_threads=16384, max_batch_tokens=262144, given_keep=0.25,
        commit_weight=5.0),
}


# The dry run shrinks the preset to check its plumbing on a CPU in seconds: a one-layer model, a
# few puzzles, one training batch and threads cut after this many tokens.
DRY_RUN_SPEC = ModelSpec(hidden_size=32, layers=1, heads=2, kv_heads=1, intermediate_size=64, max_positions=2048)
DRY_RUN_TOKENS = 4


@dataclass
class FormatReport:
    """Everything measured for one format."""

    format: str
    sft: SftCounts
    training: TrainResult
    summary: Summary
    eval_seconds: float
    runtime_steps: int
    extra: dict[str, Any] = field(default_factory=dict)


def pick_device(name: str) -> torch.device:
    """`auto` picks CUDA when available, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def load_model(path: str | None, tokenizer: TraceTokenizer, spec: ModelSpec, seed: int) -> torch.nn.Module:
    """Build a fresh Llama from `spec`, or load a local pretrained model and resize its embeddings."""
    if path is None:
        return build_llama(tokenizer, spec, seed=seed)
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="sdpa", dtype=torch.float32)
    model.resize_token_embeddings(tokenizer.tokenizer.get_vocab_size(with_added_tokens=True))
    return model


def special_ids(tokenizer: TraceTokenizer, model_path: str | None) -> tuple[int, int]:
    """(pad id, eos id) of the tokenizer: the project's `<pad>`/`<eos>`, or the model folder's."""
    raw = tokenizer.tokenizer
    eos = raw.token_to_id(p.EOS)
    if eos is None and model_path is not None:
        config = json.loads((Path(model_path) / "tokenizer_config.json").read_text())
        value = config.get("eos_token")
        eos = raw.token_to_id(value.get("content") if isinstance(value, dict) else value)
    if eos is None:
        raise SystemExit(f"tokenizer {tokenizer.ident} has no end-of-sequence token")
    pad = raw.token_to_id(p.PAD)
    return (eos if pad is None else pad), eos


def make_data(preset: Preset, seed: int, train_scale: float, eval_puzzles: int) -> tuple[list[Derivation], list[Derivation]]:
    """Training derivations of every size, then held-out derivations of the eval size."""
    train: list[Derivation] = []
    for stream, (n, clues, count) in enumerate(preset.train_sets, start=1):
        train += draw_instances(n, max(1, round(count * train_scale)), seed, stream, clues, frozenset())
    held_out = draw_instances(preset.eval_n, eval_puzzles, seed, 100, preset.eval_clues, puzzle_keys(train))
    return train, held_out


def draw_instances(n: int, count: int, seed: int, stream: int, clues: int | None,
                   exclude: frozenset[bytes]) -> list[Derivation]:
    started = time.perf_counter()
    found = sudoku_instances(n, count, seed, stream=stream, clues=clues, exclude=exclude)
    logger.info("%d %dx%d puzzles (stream %d) in %.1f s", len(found), n, n, stream,
                time.perf_counter() - started)
    return found


def derivation_rows(item: tuple[int, Derivation], fmt: str, tokenizer: TraceTokenizer, max_length: int,
                    eos: int, given_keep: float, seed: int,
                    weights: dict[ItemKind, float] | None) -> tuple[list[SftRow], SftCounts]:
    """Render derivation number `index` in `fmt` and turn its threads into SFT rows.

    Given-cell threads are kept with probability `given_keep`, drawn from
    `SeedSequence(seed, spawn_key=(index,))`; the counts cover every thread.
    """
    index, derivation = item
    trace = render_trace(derivation, fmt, tokenizer).trace
    rows, counts = trace_rows(trace, tokenizer, max_length=max_length, eos_id=eos, item_weights=weights)
    if given_keep < 1.0:
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
        given = {thread.name for thread in trace.threads if thread.prompt[2:3] == ("given",)}
        rows = [row for row in rows if row.thread not in given or rng.random() < given_keep]
    return rows, counts


def sft_rows(train: list[Derivation], fmt: str, tokenizer: TraceTokenizer, max_length: int, eos: int,
             workers: int, given_keep: float, seed: int,
             weights: dict[ItemKind, float] | None) -> tuple[list[SftRow], SftCounts]:
    """SFT rows of every training derivation, rendered by `workers` processes."""
    rows: list[SftRow] = []
    counts = SftCounts()
    task = functools.partial(derivation_rows, fmt=fmt, tokenizer=tokenizer, max_length=max_length, eos=eos,
                             given_keep=given_keep, seed=seed, weights=weights)
    items = list(enumerate(train))
    if workers > 1:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            done = list(pool.map(task, items, chunksize=max(1, len(items) // (4 * workers))))
    else:
        done = [task(item) for item in items]
    for thread_rows, trace_counts in done:
        rows += thread_rows
        counts.add(trace_counts)
    return rows, counts


def render_for_eval(derivation: Derivation, fmt: str, tokenizer: TraceTokenizer) -> tuple[Trace, Costs, int]:
    """Render a held-out derivation; return its trace, costs and longest generated thread."""
    rendered = render_trace(derivation, fmt, tokenizer)
    longest = max(run.generated_tokens for run in rendered.schedule.runs)
    return rendered.trace, rendered.costs, longest


def render_all(derivations: list[Derivation], fmt: str, tokenizer: TraceTokenizer,
               workers: int) -> list[tuple[Trace, Costs, int]]:
    """`render_for_eval` of every derivation, in `workers` processes when more than one."""
    task = functools.partial(render_for_eval, fmt=fmt, tokenizer=tokenizer)
    if workers <= 1:
        return [task(derivation) for derivation in derivations]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(task, derivations, chunksize=max(1, len(derivations) // (4 * workers))))


def evaluate(model: torch.nn.Module, held_out: list[Derivation], fmt: str, tokenizer: TraceTokenizer,
             preset: Preset, max_new_tokens: int | None = None, workers: int = 1) -> tuple[Summary, float, int]:
    """Run the runtime on the held-out puzzles and judge every run.

    Limits come from the generated traces of the same puzzles: twice their longest thread, context
    and critical path. `max_new_tokens` overrides the thread limit (the dry run uses a few tokens).
    """
    rendered = render_all(held_out, fmt, tokenizer, workers)
    problems = [problem_from_trace(trace, key=index) for index, (trace, _, _) in enumerate(rendered)]
    references = [costs for _, costs, _ in rendered]
    longest = max(generated for _, _, generated in rendered)
    config = RuntimeConfig(
        max_new_tokens=max_new_tokens or 2 * longest + 32,
        max_context_tokens=2 * max(costs.max_context_tokens for costs in references) + 64,
        max_steps=2 * max(costs.critical_path_steps for costs in references) + 64,
        max_live_threads=preset.max_live_threads, max_batch_tokens=preset.max_batch_tokens)
    runtime = Runtime(model, tokenizer, config)
    started = time.perf_counter()
    results = runtime.run(problems)
    seconds = time.perf_counter() - started
    verdicts = [judge(result, tokenizer, answer_check(derivation.puzzle, derivation.solution,
                                                      derivation.geometry, tokenizer))
                for result, derivation in zip(results, held_out)]
    summary = summarize(fmt, results, verdicts, references)
    logger.info("%s: %d/%d runs valid, %d solved, %.1f s, %d runtime steps", fmt, summary.valid_runs,
                summary.runs, summary.solved, seconds, runtime.stats.steps)
    return summary, seconds, runtime.stats.steps


def run_format(fmt: str, preset: Preset, args: argparse.Namespace, tokenizer: TraceTokenizer,
               train: list[Derivation], held_out: list[Derivation], budget: TrainConfig,
               device: torch.device) -> tuple[FormatReport, torch.nn.Module]:
    """Build rows, train a fresh model and evaluate it for one format."""
    pad, eos = special_ids(tokenizer, args.model)
    mplm = fmt == "mplm"
    weights = ({ItemKind.SEND: preset.commit_weight, ItemKind.ANSWER: preset.commit_weight}
               if mplm and preset.commit_weight != 1.0 else None)
    rows, counts = sft_rows(train, fmt, tokenizer, preset.max_length, eos, args.workers,
                            preset.given_keep if mplm else 1.0, args.seed, weights)
    logger.info("%s: %d rows, %d tokens (%d trained); dropped %d too long; training on %d rows", fmt,
                counts.rows, counts.tokens, counts.trained_tokens, counts.dropped_too_long, len(rows))

    model = load_model(args.model, tokenizer, preset.model, args.seed)
    training = train_sft(model, rows, pad, budget, device=device)
    if device.type == "cuda":
        model = model.to(torch.bfloat16)
    puzzles = held_out
    if fmt == "cot" and preset.cot_eval_puzzles is not None:
        puzzles = held_out[:preset.cot_eval_puzzles]
    summary, seconds, steps = evaluate(model, puzzles, fmt, tokenizer, preset,
                                       max_new_tokens=DRY_RUN_TOKENS if args.dry_run else None,
                                       workers=args.workers)
    return FormatReport(fmt, counts, training, summary, seconds, steps), model


def markdown_table(reports: list[FormatReport]) -> str:
    """Format the reports as a Markdown table, one row per format."""
    lines = ["| format | train tokens | train s | loss first -> last | valid threads | valid runs | "
             "solved | mean / max context | generated tokens | mean decode steps (reference) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for report in reports:
        s, t = report.summary, report.training
        lines.append(
            f"| {report.format} | {t.tokens:,} | {t.seconds:.0f} | {t.first_loss:.3f} -> {t.last_loss:.3f} | "
            f"{s.valid_threads}/{s.threads} ({s.valid_thread_share:.1%}) | {s.valid_runs}/{s.runs} "
            f"({s.valid_run_share:.1%}) | {s.solved}/{s.runs} ({s.solved_share:.1%}) | "
            f"{s.mean_context_tokens:.0f} / {s.max_context_tokens} (ref {s.reference_mean_context_tokens:.0f}"
            f" / {s.reference_max_context_tokens}) | {s.total_tokens:,} (ref {s.reference_total_tokens:,}) | "
            f"{s.mean_decode_steps:.0f} ({s.reference_critical_path_steps:.0f}) |")
    return "\n".join(lines)


def save_plot(reports: list[FormatReport], path: Path) -> None:
    """Training loss against tokens processed, one line per format."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for report in reports:
        tokens, losses = zip(*report.training.curve)
        axis.plot(tokens, losses, label=report.format)
    axis.set_xlabel("input tokens processed")
    axis.set_ylabel("training loss (mean over labelled tokens)")
    axis.set_yscale("log")
    axis.legend()
    figure.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    figure.savefig(tmp, dpi=120)
    plt.close(figure)
    os.replace(tmp, path)


def write_json(path: Path, record: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def _prompt_preset(argv: list[str]) -> bool:
    """Whether the arguments select `--preset prompt` (as `--preset prompt` or `--preset=prompt`)."""
    pairs = zip(argv, argv[1:] + [""])
    return any(word == "--preset=prompt" or (word == "--preset" and value == "prompt")
               for word, value in pairs)


def _without_preset(argv: list[str]) -> list[str]:
    """Drop `--preset prompt` from the arguments; the prompting parser does not take it."""
    kept: list[str] = []
    skip = False
    for word, value in zip(argv, argv[1:] + [""]):
        if skip:
            skip = False
        elif word == "--preset=prompt":
            continue
        elif word == "--preset" and value == "prompt":
            skip = True
        else:
            kept.append(word)
    return kept


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted([*PRESETS, "prompt"]), required=True)
    parser.add_argument("--out", type=Path, default=Path("runs"), help="Folder for the JSON and the plot.")
    parser.add_argument("--model", default=None, help="Local pretrained model folder (gpu preset); "
                                                      "default: a Llama built from the preset's config.")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda.")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads. 1 is the default because on a loaded 2-core machine "
                             "two threads ran about 10x slower than one.")
    parser.add_argument("--workers", type=int, default=None,
                        help="Processes that render training traces; default: 1, or every CPU for gpu.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--learning-rate", type=float, default=None, help="Peak learning rate; default: the preset's.")
    parser.add_argument("--formats", default=None, help="Comma-separated formats; default: the preset's.")
    parser.add_argument("--train-seconds", type=float, default=None, help="Training time limit per format.")
    parser.add_argument("--train-tokens", type=int, default=None, help="Token budget of the first format.")
    parser.add_argument("--train-scale", type=float, default=1.0, help="Multiply the training puzzle counts.")
    parser.add_argument("--eval-puzzles", type=int, default=None, help="Held-out puzzles; default: the preset's.")
    parser.add_argument("--save-models", action="store_true", help="Save each trained model under OUT.")
    parser.add_argument("--dry-run", action="store_true",
                        help="Check the preset's setup in seconds: a one-layer model, 1%% of the "
                             "training puzzles, one batch of training and 2 held-out puzzles.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    argv = sys.argv[1:] if argv is None else list(argv)
    if _prompt_preset(argv):
        from mplm_data.runtime.prompting import main as prompting_main

        return prompting_main(_without_preset(argv))

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    preset = PRESETS[args.preset]
    if args.dry_run:
        preset = dataclasses.replace(preset, model=DRY_RUN_SPEC, eval_puzzles=2,
                                     train=dataclasses.replace(preset.train, batch_tokens=4096))
        args.train_scale, args.train_tokens = 0.01, 1
    if args.workers is None:
        args.workers = (os.cpu_count() or 1) if preset.name == "gpu" else 1
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    tokenizer = load_tokenizer(args.model) if args.model else project_tokenizer()
    formats = tuple(args.formats.split(",")) if args.formats else preset.formats
    budget = dataclasses.replace(preset.train, seed=args.seed,
                                 max_seconds=args.train_seconds or preset.train.max_seconds,
                                 max_tokens=args.train_tokens or preset.train.max_tokens,
                                 learning_rate=args.learning_rate or preset.train.learning_rate)

    train, held_out = make_data(preset, args.seed, args.train_scale, args.eval_puzzles or preset.eval_puzzles)
    reports: list[FormatReport] = []
    for fmt in formats:
        report, model = run_format(fmt, preset, args, tokenizer, train, held_out, budget, device)
        reports.append(report)
        if len(reports) == 1:
            budget = dataclasses.replace(budget, max_tokens=report.training.tokens)
        if args.save_models:
            model.save_pretrained(args.out / f"model_{preset.name}_{fmt}")

    args.out.mkdir(parents=True, exist_ok=True)
    table = markdown_table(reports)
    print(table)
    record = {
        "preset": preset.name, "command": " ".join(sys.argv), "seed": args.seed,
        "device": str(device), "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(), "python": platform.python_version(), "torch": torch.__version__,
        "preset_settings": dataclasses.asdict(preset), "train_puzzles": len(train),
        "eval_puzzles": len(held_out), "tokenizer": tokenizer.ident, "table": table,
        "formats": {report.format: {
            "sft": report.sft.as_dict(), "training": dataclasses.asdict(report.training),
            "eval": report.summary.as_dict(), "eval_seconds": report.eval_seconds,
            "runtime_steps": report.runtime_steps} for report in reports},
    }
    write_json(args.out / f"finetune_{preset.name}.json", record)
    save_plot(reports, args.out / f"loss_{preset.name}.png")
    return record


if __name__ == "__main__":
    main()
