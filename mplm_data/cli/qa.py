"""Command `mplm-data gen qa`, and the QA part of `mplm-data stats --task qa`.

`gen qa` writes QA traces (one row per item and format, see `mplm_data.qa_rows`) through
`mplm_data.shards.generate`: synthetic items from the generator options, or the records of a
HotpotQA-style file with `--from FILE`. `run_qa_stats` parses the sweep options of
`stats --task qa`, runs `mplm_data.traces.qa_stats.qa_stats` and prints a table or JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mplm_data.cli.app import fail, gen_app
from mplm_data.cli.sweep_output import print_sweep
from mplm_data.generators.errors import MplmDataError
from mplm_data.generators.qa import GENERATED_KINDS
from mplm_data.shards import ENGINES, Manifest, ShardTask, generate
from mplm_data.traces.qa_stats import METRICS, qa_stats
from mplm_data.traces.sudoku import FORMATS

stdout = Console()
stderr = Console(stderr=True)

_KINDS = ", ".join(kind.value for kind in GENERATED_KINDS)
# Defaults of the generator options; with --from they must stay unset.
_GENERATOR_DEFAULTS = {"kind": "track", "length": 4096, "chunks": 8, "hops": 2, "distractors": 4}

__all__ = ["gen_qa", "qa_stats", "run_qa_stats"]


def _formats(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _int_list(option: str, text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{option} {text!r} is not a comma-separated list of integers such as "
                         f"1024,4096") from None


def _run_generation(task: ShardTask, out: Path, *, count: int, rows_per_item: int,
                    **options: Any) -> Manifest:
    """Write `count` items of `task` into `out` with a progress bar counted in rows."""
    columns = (TextColumn(task.name), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr, transient=True) as progress:
        bar = progress.add_task(task.name, total=count * rows_per_item)
        return generate(task, out, count=count, progress=lambda rows: progress.advance(bar, rows),
                        **options)


@gen_app.command("qa")
def gen_qa(
    kind: Optional[str] = typer.Option(
        None, help=f"Question kind: {_KINDS}. Default: {_GENERATOR_DEFAULTS['kind']}."),
    length: Optional[int] = typer.Option(
        None, help=f"Document length in tokens of --tokenizer. Default: "
                   f"{_GENERATOR_DEFAULTS['length']}."),
    chunks: Optional[int] = typer.Option(
        None, help=f"Chunks per document, one chunk thread each. Default: "
                   f"{_GENERATOR_DEFAULTS['chunks']}."),
    hops: Optional[int] = typer.Option(
        None, help=f"Chain length: facts a track or lookup answer follows, or facts count and sum "
                   f"aggregate. Default: {_GENERATOR_DEFAULTS['hops']}."),
    distractors: Optional[int] = typer.Option(
        None, help=f"Planted facts that are not on the chain. Default: "
                   f"{_GENERATOR_DEFAULTS['distractors']}."),
    filler: Optional[list[Path]] = typer.Option(
        None, "--filler", help="UTF-8 text file whose words fill the documents (repeat for "
                               "several); default: the built-in grammar."),
    source: Optional[Path] = typer.Option(
        None, "--from", help="HotpotQA-style JSON (array) or JSONL file: one item per record, one "
                             "chunk thread per paragraph; replaces the generator options."),
    formats: str = typer.Option(",".join(FORMATS), "--formats",
                                help="Comma-separated trace formats: mplm, fj, cot."),
    tokenizer: str = typer.Option(
        "mplm-v1", help="Tokenizer that lengths and costs are counted in: mplm-v1, or a local "
                        "Hugging Face tokenizer folder."),
    count: Optional[int] = typer.Option(
        None, help="Items to write (each gives one row per format). Default: 100, or every "
                   "record of --from."),
    seed: int = typer.Option(0, help="Base seed; the same seed and options give byte-identical files."),
    out: Optional[Path] = typer.Option(
        None, help="Output folder for shards and manifest.json; default: ./data/qa-KIND or "
                   "./data/qa-FILESTEM."),
    workers: int = typer.Option(1, help="Local worker processes that write shards in parallel."),
    shard_size: int = typer.Option(1000, help="Items per shard file."),
    engine: str = typer.Option("local", help=f"Where shards run: {' or '.join(ENGINES)}."),
    ray_address: Optional[str] = typer.Option(None, help="Address of a running Ray cluster "
                                                         "(engine ray); default: start a local one."),
    resume: bool = typer.Option(
        False, "--resume", help="Keep the complete shards of an interrupted run in OUT and write "
                                "the missing ones."),
) -> None:
    """Generate long-context QA traces: synthetic documents with planted facts, or HotpotQA records."""
    from mplm_data.qa_rows import QAFileTask, QATraceTask

    generator_options: dict[str, Any] = dict(kind=kind, length=length, chunks=chunks, hops=hops,
                                             distractors=distractors)
    try:
        if source is not None:
            conflicting = [f"--{name}" for name, value in generator_options.items()
                           if value is not None]
            if filler:
                conflicting.append("--filler")
            if conflicting:
                fail(f"--from reads items from {source}, so {', '.join(conflicting)} cannot be "
                     f"used with it; drop {'it' if len(conflicting) == 1 else 'them'}")
            task: Any = QAFileTask(str(source), formats=_formats(formats), tokenizer=tokenizer)
            available = task.check_records()
            if count is not None and not 1 <= count <= available:
                fail(f"--count {count} is out of range; {source} holds {available} records")
            count = available if count is None else count
        else:
            options = {name: _GENERATOR_DEFAULTS[name] if value is None else value
                       for name, value in generator_options.items()}
            task = QATraceTask(**options, filler=tuple(str(path) for path in filler or ()),
                               formats=_formats(formats), tokenizer=tokenizer)
            count = 100 if count is None else count
    except MplmDataError as err:
        fail(str(err))
    except ValueError as err:
        fail(f"invalid option: {err}")

    out = out if out is not None else Path("data") / task.name
    try:
        manifest = _run_generation(task, out, count=count, rows_per_item=len(task.formats),
                                   seed=seed, shard_size=shard_size, workers=workers,
                                   engine=engine, ray_address=ray_address, resume=resume)
    except MplmDataError as err:
        fail(str(err))
    stdout.print(f"wrote {manifest.rows} {task.name} traces ({count} items x "
                 f"{len(task.formats)} formats) in {len(manifest.shards)} shard{'s' if len(manifest.shards) != 1 else ''} to {out}",
                 highlight=False)


def run_qa_stats(*, lengths: str, hops: str, count: int, seed: int, kind: str = "track",
                 chunk_tokens: int = 256, distractors: int = 4, formats: str = ",".join(FORMATS),
                 tokenizer: Any = None, metric: str = "max_context_tokens",
                 plot: Path | None = None, as_json: bool = False) -> dict[str, Any]:
    """Run the QA cost sweep for `stats --task qa` and print it; return the `qa_stats` result.

    `lengths` and `hops` are comma-separated integers, `formats` comma-separated names and
    `tokenizer` a loaded `TraceTokenizer` (None: the project tokenizer). Exits with code 2 and a
    one-line error on invalid options.
    """
    try:
        result = qa_stats(_int_list("--lengths", lengths), _int_list("--hops", hops), count, seed,
                          kind=kind, chunk_tokens=chunk_tokens, distractors=distractors,
                          formats=_formats(formats), tokenizer=tokenizer, metric=metric, plot=plot)
    except ValueError as err:
        fail(f"invalid option: {err}")
        return {}

    settings = result["settings"]
    title = (f"mean QA trace costs: {settings['kind']}, hops {settings['hops']}, {count} items per "
             f"pair, {settings['chunk_tokens']} tokens per chunk ({settings['tokenizer']})")
    print_sweep(result, as_json=as_json, title=title, size_column="length", metrics=METRICS,
                plot=plot)
    return result

