"""Prompting mode: run a pretrained instruction model as MPLM or fork-join threads, without fine-tuning.

`system_prompt(fmt)` explains the protocol in plain words and shows one worked example, a small
QA item rendered by `render_qa_trace`, so the example always uses the real markup of that format.
`prompt_problems(items, fmt, tokenizer)` turns QA items into runtime problems whose root prompts
are the system prompt followed by the rendered trace's own prompt. `run_prompting(model_path,
items)` loads a local causal LM, decodes every item per format with `Runtime`, judges each run
with `judge` and the QA answer check, and returns a report (see `evaluate.Summary` for the
numbers). `main(argv)` is the command-line entry (`--model PATH`).

Markup tokens. A thread prompt may not contain protocol tokens (the parser rejects them there),
so the system prompt writes each one with square brackets, `[send]` for `<send>`, and tells the
model to write angle brackets in its own output. In the model's context, the runtime still
inserts `<prompt>`, `<msg>` and the other markup as single token ids: `load_tokenizer` adds the
protocol tokens to the model's tokenizer as special tokens, and `add_protocol_embeddings` resizes
the embeddings and sets the row of each new token to the mean of the rows of the tokens that the
original tokenizer splits its spelling into (`<send>` reads like `<`, `send`, `>`). The model's
output needs neither form as one token: the thread parser joins the decoded text, so `<`,
`send`, `>` written as three ordinary tokens also open a send.

End tokens. A pretrained model ends its turn with its own token (`</s>`, `<|im_end|>`,
`<|eot_id|>` ...), not with the project's `<eos>`. `run_prompting` adds the ids of those tokens
(see `mplm_data.runtime.end_tokens`) to `RuntimeConfig.end_token_ids`, so a thread that emits one
stops there with a `no_end` fault instead of decoding on to `max_new_tokens`.

Fork children get no system prompt of their own, because a child's context already starts with
its parent's context, system prompt included. torch and transformers are imported here, so the
CLI must import this module only when the mode runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any, Sequence

import torch
from tokenizers import Tokenizer

from mplm_data.generators.errors import InputError
from mplm_data.generators.qa import QAConfig, QAItem, QAKind, generate_qa
from mplm_data.traces import protocol as p
from mplm_data.traces.qa import qa_answer_check, render_qa_trace
from mplm_data.traces.sudoku import RenderedTrace
from mplm_data.traces.text import thread_text
from mplm_data.traces.tokenizer import TraceTokenizer, load_tokenizer

from .end_tokens import end_token_ids, model_end_tokens
from .engine import Runtime, RuntimeConfig
from .evaluate import summarize
from .problems import Problem, problem_from_trace
from .results import RunResult, Verdict, judge

logger = logging.getLogger(__name__)

FORMATS = ("mplm", "fj")

# The worked example: a two-chunk, two-hop variable-tracking item, small enough for any context.
EXAMPLE_CONFIG = QAConfig(kind=QAKind.TRACK, length=32, chunks=2, hops=2, distractors=0)
EXAMPLE_SEED = 7

# Faults listed one by one in a format's report; the counts by kind cover all of them.
FAULTS_KEPT = 20

_INTRODUCTION = (
    "You are one thread of a team of threads of the same model that answer a question about a "
    "document cut into chunks. A thread sees only its own prompt and the messages it receives. "
    "In this explanation and the example, markup is written with square brackets, like [send]. "
    "In your own output write the same markup with angle brackets instead of square brackets, "
    "and write nothing after your thread ends."
)
_RULES = {
    "mplm": (
        "Threads: main has the question and the number of chunks, and thread cK has chunk K. "
        "Write [send] DEST WORDS [/send] to send WORDS to the thread DEST, or to all other "
        "threads with DEST all. Write [recv] to wait for the next message, which arrives as "
        "[msg] SENDER WORDS [/msg]. Chunk threads first receive the question, then send only "
        "the facts of their chunk that answer it, and end with [halt]. main receives the facts "
        "and ends with [answer] WORDS [/answer]."
    ),
    "fj": (
        "Threads: main has the question and the number of chunks. main writes a query, then "
        "[fork] c1 ... cK [/fork] to start one child per chunk. Each child sees main's text and "
        "its own chunk, sends what its chunk adds with [send] parent WORDS [/send], or "
        "[send] parent none [/send], and ends with [halt]. main waits for each reply with [recv] "
        "(it arrives as [msg] SENDER WORDS [/msg]), forks another round while the answer is "
        "incomplete, and ends with [answer] WORDS [/answer]."
    ),
}


def escape_markup(word: str) -> str:
    """Write a protocol token with square brackets (`<send>` gives `[send]`); other words unchanged."""
    if word in p.PROTOCOL_SET:
        return "[" + word[1:-1] + "]"
    return word


def example_trace(fmt: str, tokenizer: TraceTokenizer | None = None) -> RenderedTrace:
    """Render the worked example of `fmt` (raises ValueError for an unknown format)."""
    item = generate_qa(EXAMPLE_CONFIG, EXAMPLE_SEED, 0)
    return render_qa_trace(item, fmt, tokenizer)


def system_prompt(fmt: str, tokenizer: TraceTokenizer | None = None) -> str:
    """Build the system prompt of `fmt`: the protocol in plain words and one worked example.

    Raises ValueError when `fmt` is not `mplm` or `fj`. The text contains no protocol token.
    """
    if fmt not in _RULES:
        raise ValueError(f"prompting format {fmt!r} is unknown; use one of {', '.join(FORMATS)}")

    trace = example_trace(fmt, tokenizer).trace
    lines = [_INTRODUCTION, _RULES[fmt], "Worked example, one line per thread:"]
    for thread in trace.threads:
        origin = f" (forked by {thread.parent})" if thread.parent else ""
        words = [escape_markup(word) for word in thread_text(thread).split(" ")]
        lines.append(f"Thread {thread.name}{origin}: {' '.join(words)}")
    lines.append("Now act as the thread whose prompt follows.")
    return "\n".join(lines)


def _wrap(system: str, prompt: tuple[str, ...], chat_tokenizer: Any | None) -> tuple[str, ...]:
    """Prefix a thread prompt with the system prompt, inside the chat template when there is one."""
    user = p.join_words(prompt)
    if chat_tokenizer is None or not getattr(chat_tokenizer, "chat_template", None):
        return tuple(p.split_words(system)) + prompt

    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    text = chat_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return tuple(p.split_words(text))


def prompted_problem(item: QAItem, index: int, fmt: str, tokenizer: TraceTokenizer,
                     chat_tokenizer: Any | None = None) -> tuple[Problem, RenderedTrace]:
    """Build the prompted problem of one item and return it with the item's rendered trace.

    The trace gives the reference costs. Its root prompts, wrapped by `_wrap`, become the
    problem's root prompts. Its fork child prompts are kept as they are.
    """
    rendered = render_qa_trace(item, fmt, tokenizer)
    problem = problem_from_trace(rendered.trace, key=index)
    system = system_prompt(fmt, tokenizer)
    roots = tuple((name, _wrap(system, prompt, chat_tokenizer)) for name, prompt in problem.roots)
    return dataclasses.replace(problem, roots=roots), rendered


def prompt_problems(items: Sequence[QAItem], fmt: str, tokenizer: TraceTokenizer,
                    chat_tokenizer: Any | None = None) -> list[Problem]:
    """Turn QA items into runtime problems whose root prompts start with the system prompt.

    `chat_tokenizer` is the model's transformers tokenizer. When it has a chat template, each
    root prompt is the template applied to the system prompt and the thread prompt (as the user
    turn) with the generation prompt added. Otherwise the prompt is plain text: the system
    prompt's words, then the thread prompt. Words are joined by single spaces when encoded, so
    the line breaks of the template and of the system prompt do not reach the model.
    """
    return [prompted_problem(item, index, fmt, tokenizer, chat_tokenizer)[0]
            for index, item in enumerate(items)]


def add_protocol_embeddings(model: torch.nn.Module, tokenizer: TraceTokenizer,
                            base: Tokenizer) -> list[str]:
    """Give the protocol tokens that `base` lacks embedding rows; return their names.

    `tokenizer` is `base` with the protocol tokens added. The embeddings grow to the tokenizer's
    size when they are smaller. Each new token's input row is the mean of the rows of the
    tokens that `base` splits its spelling into, or of all old rows when `base` has none of
    them. An untied output row is set the same way.
    """
    raw = tokenizer.tokenizer
    new = [token for token in p.PROTOCOL_TOKENS if base.token_to_id(token) is None]
    if not new:
        return []

    old_rows = model.get_input_embeddings().weight.shape[0]
    size = raw.get_vocab_size(with_added_tokens=True)
    if size > old_rows:
        model.resize_token_embeddings(size, mean_resizing=False)

    tables = [model.get_input_embeddings().weight]
    output = model.get_output_embeddings()
    if output is not None and output.weight.data_ptr() != tables[0].data_ptr():
        tables.append(output.weight)

    with torch.no_grad():
        for token in new:
            pieces = [piece for piece in base.encode(token, add_special_tokens=False).ids
                      if piece < old_rows]
            for table in tables:
                source = table[pieces] if pieces else table[:old_rows]
                table[raw.token_to_id(token)] = source.float().mean(dim=0).to(table.dtype)
    logger.info("added embedding rows for %d protocol tokens", len(new))
    return new


def load_prompting_model(model_path: str | Path, *, device: str = "cpu",
                         dtype: torch.dtype | None = None) -> tuple[torch.nn.Module, TraceTokenizer, Any, list[str]]:
    """Load a local causal LM and its tokenizers; return (model, trace tokenizer, transformers
    tokenizer, names of the protocol tokens added). Raises InputError when the folder is missing.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(model_path)
    if not (path / "config.json").is_file():
        raise InputError(f"no config.json found in {path}; pass a local folder saved by "
                         f"transformers save_pretrained")

    tokenizer = load_tokenizer(path)
    base = Tokenizer.from_file(str(path / "tokenizer.json"))
    chat_tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype,
                                                 attn_implementation="sdpa")
    added = add_protocol_embeddings(model, tokenizer, base)
    return model.to(device).eval(), tokenizer, chat_tokenizer, added


def _fault_records(results: list[RunResult]) -> list[dict[str, Any]]:
    records = [{"problem": result.index, "thread": fault.thread, "position": fault.position,
                "kind": fault.kind.value, "reason": fault.reason}
               for result in results for fault in result.faults]
    return records[:FAULTS_KEPT]


def run_prompting(model_path: str | Path, items: Sequence[QAItem], formats: Sequence[str] = FORMATS, *,
                  config: RuntimeConfig | None = None, device: str = "cpu",
                  dtype: torch.dtype | None = None) -> dict[str, Any]:
    """Decode QA items with a prompted pretrained model in each format; return the report.

    The report has the model path, tokenizer ident, whether a chat template was used, the added
    protocol tokens, the model's end tokens (`model_end_tokens`) and the runtime config. Its
    `end_token_ids` are the caller's, then the ids of the end tokens. Per format the report has
    the `Summary` fields: the protocol-valid shares of threads and runs, `solved_share` (the
    answer accuracy), context per thread, total tokens, decoding steps and the generated traces'
    costs as `reference_*`. It adds the system prompt's length in tokens (the reference traces
    have none), the runtime's seconds and the first `FAULTS_KEPT` faults as (problem, thread,
    position, kind, reason).
    """
    model, tokenizer, chat_tokenizer, added = load_prompting_model(model_path, device=device, dtype=dtype)
    end_tokens = model_end_tokens(model, chat_tokenizer)
    config = config or RuntimeConfig()
    merged = dict.fromkeys((*config.end_token_ids, *end_token_ids(end_tokens, tokenizer)))
    config = dataclasses.replace(config, end_token_ids=tuple(merged))
    report: dict[str, Any] = {
        "model": str(model_path), "tokenizer": tokenizer.ident,
        "chat_template": bool(getattr(chat_tokenizer, "chat_template", None)),
        "added_tokens": added, "end_tokens": end_tokens, "items": len(items),
        "config": dataclasses.asdict(config), "formats": {},
    }

    for fmt in formats:
        pairs = [prompted_problem(item, index, fmt, tokenizer, chat_tokenizer)
                 for index, item in enumerate(items)]
        runtime = Runtime(model, tokenizer, config)
        results = runtime.run([problem for problem, _ in pairs])

        verdicts = [judge_item(result, items[result.index], tokenizer) for result in results]
        summary = summarize(fmt, results, verdicts, [rendered.costs for _, rendered in pairs])
        record = summary.as_dict()
        record["system_prompt_tokens"] = tokenizer.count_words(p.split_words(system_prompt(fmt, tokenizer)))
        record["seconds"] = runtime.stats.seconds
        record["faults"] = _fault_records(results)
        report["formats"][fmt] = record
        logger.info("prompting %s: %d/%d valid runs, %d solved", fmt, summary.valid_runs,
                    summary.runs, summary.solved)
    return report


def judge_item(result: RunResult, item: QAItem, tokenizer: TraceTokenizer) -> Verdict:
    """Judge one run with the validator and the item's answer check."""
    return judge(result, tokenizer, qa_answer_check(item.kind, item.answer, tokenizer))


def markdown_table(report: dict[str, Any]) -> str:
    """Render the per-format numbers of a report as a Markdown table."""
    lines = ["| format | runs | valid runs | valid threads | solved | mean context | max context "
             "| total tokens | decode steps | system prompt |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for fmt, record in report["formats"].items():
        lines.append(f"| {fmt} | {record['runs']} | {record['valid_run_share']:.2f} "
                     f"| {record['valid_thread_share']:.2f} | {record['solved_share']:.2f} "
                     f"| {record['mean_context_tokens']:.0f} | {record['max_context_tokens']} "
                     f"| {record['total_tokens']} | {record['decode_steps']} "
                     f"| {record['system_prompt_tokens']} |")
    return "\n".join(lines)


def write_json(path: Path, record: dict[str, Any]) -> None:
    """Write `record` as JSON through a temporary file renamed when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(temporary, path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line of `main`."""
    parser = argparse.ArgumentParser(description="Run a pretrained instruction model as MPLM and "
                                                 "fork-join threads on QA items, no fine-tuning.")
    parser.add_argument("--model", required=True, help="Local folder of a transformers causal LM "
                                                       "and its tokenizer.json.")
    parser.add_argument("--items", type=int, default=8, help="QA items per format.")
    parser.add_argument("--seed", type=int, default=0, help="Base seed of the QA items.")
    parser.add_argument("--out", type=Path, default=Path("runs/prompt"),
                        help="Folder for prompting.json.")
    parser.add_argument("--formats", default=",".join(FORMATS), help="Comma-separated formats.")
    parser.add_argument("--kind", default=QAKind.TRACK.value,
                        choices=[kind.value for kind in QAKind if kind is not QAKind.EVIDENCE])
    parser.add_argument("--length", type=int, default=512, help="Document length in words.")
    parser.add_argument("--chunks", type=int, default=4, help="Chunks per document.")
    parser.add_argument("--hops", type=int, default=2, help="Chain length.")
    parser.add_argument("--max-new-tokens", type=int, default=256, help="Generated tokens per thread.")
    parser.add_argument("--max-context-tokens", type=int, default=8192, help="Context tokens per thread.")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Generate QA items, run `run_prompting`, print a Markdown table and write prompting.json."""
    args = parse_args(argv)
    formats = tuple(fmt.strip() for fmt in args.formats.split(",") if fmt.strip())
    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if unknown:
        raise SystemExit(f"--formats has the unknown format {unknown[0]!r}; use one or more of "
                         f"{', '.join(FORMATS)}")

    qa_config = QAConfig(kind=QAKind(args.kind), length=args.length, chunks=args.chunks, hops=args.hops)
    items = [generate_qa(qa_config, args.seed, index) for index in range(args.items)]
    config = RuntimeConfig(max_new_tokens=args.max_new_tokens, max_context_tokens=args.max_context_tokens,
                           seed=args.seed)
    dtype = torch.bfloat16 if args.device.startswith("cuda") else None
    report = run_prompting(args.model, items, formats, config=config, device=args.device, dtype=dtype)
    report["qa_config"] = dataclasses.asdict(qa_config)
    report["seed"] = args.seed

    print(markdown_table(report))
    write_json(args.out / "prompting.json", report)
    return report
