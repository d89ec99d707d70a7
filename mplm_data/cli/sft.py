"""Command `mplm-data sft`: turn trace files into supervised fine-tuning rows, one per thread.

The rows (`mplm_data.runtime.sft.SFT_SCHEMA`) hold `input_ids`, `attention_mask` and `labels`
with -100 on prompts, forked prefixes and delivered messages. torch is not imported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from mplm_data.arrow_io import SUFFIXES
from mplm_data.cli.app import app, fail
from mplm_data.generators.errors import InputError, MplmDataError
from mplm_data.traces import protocol as p
from mplm_data.traces.tokenizer import PROJECT_TOKENIZER, TraceTokenizer, load_tokenizer

stdout = Console()


def _eos_id(tokenizer: TraceTokenizer, spec: str, eos_token: str | None) -> int:
    """Id of the end-of-sequence token: `eos_token`, else `<eos>`, else the folder's config."""
    raw = tokenizer.tokenizer
    if eos_token is None and raw.token_to_id(p.EOS) is not None:
        eos_token = p.EOS
    if eos_token is None:
        config = Path(spec) / "tokenizer_config.json"
        if config.is_file():
            value = json.loads(config.read_text()).get("eos_token")
            eos_token = value.get("content") if isinstance(value, dict) else value
    if eos_token is None:
        raise InputError(f"tokenizer {spec} has no {p.EOS} token and no eos_token in "
                         f"tokenizer_config.json; pass --eos-token")
    eos = raw.token_to_id(eos_token)
    if eos is None:
        raise InputError(f"end-of-sequence token {eos_token!r} is not in tokenizer {spec}; pass "
                         f"one of its tokens with --eos-token")
    return eos


@app.command("sft")
def sft(
    source: Path = typer.Argument(..., metavar="IN", help="Trace file (.arrow or .parquet) or a "
                                                          "folder of trace files."),
    tokenizer: str = typer.Option(PROJECT_TOKENIZER, "--tokenizer",
                                  help="Tokenizer of the rows: 'mplm-v1' (the project tokenizer) "
                                       "or a local Hugging Face tokenizer folder."),
    max_length: int = typer.Option(..., "--max-length", min=2,
                                   help="Maximum tokens per row; longer threads are dropped and "
                                        "counted, never truncated."),
    out: Path = typer.Option(..., "--out", help="Output file, .arrow (Arrow IPC stream) or .parquet."),
    eos_token: Optional[str] = typer.Option(
        None, help="End-of-sequence token appended to every row; default <eos>, or the "
                   "eos_token of the tokenizer folder."),
) -> None:
    """Write one training row per thread of every trace in IN, with loss on the thread's own tokens."""
    from mplm_data.runtime.sft import trace_files, write_sft

    if out.suffix not in SUFFIXES:
        fail(f"output file {out} has suffix {out.suffix!r}; use one of {', '.join(SUFFIXES)}")
    try:
        trace_tokenizer = load_tokenizer(tokenizer)
        eos = _eos_id(trace_tokenizer, tokenizer, eos_token)
        counts = write_sft(trace_files(source), out, trace_tokenizer, max_length=max_length, eos_id=eos)
    except MplmDataError as err:
        fail(str(err))

    stdout.print(f"{counts.threads} threads: wrote {counts.rows} rows ({counts.tokens} tokens, "
                 f"{counts.trained_tokens} trained) to {out}; dropped {counts.dropped_too_long} "
                 f"longer than {max_length} tokens and {counts.dropped_no_labels} with no "
                 f"generated token", highlight=False)
