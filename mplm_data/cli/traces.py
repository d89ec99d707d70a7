"""Commands `mplm-data show`, `mplm-data validate` and `mplm-data stats` for trace files.

`show` prints one trace for a person: each thread in its own colour, every message at both ends
(the send lists where and when it was delivered, the delivery gives the step it was sent in). `validate`
checks every trace of a file and stops at the first invalid one. `stats` measures the costs of
every trace format over grid sizes and fits their growth exponents.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mplm_data.arrow_io import read_table
from mplm_data.cli.app import app, fail
from mplm_data.generators.errors import InputError, MplmDataError
from mplm_data.generators.sudoku_geometry import Geometry, text_to_grid
from mplm_data.traces.model import ItemKind, Trace, TraceError
from mplm_data.traces.schedule import COST_NAMES, Schedule
from mplm_data.traces.storage import row_trace, traces_schema
from mplm_data.traces.sudoku import answer_check
from mplm_data.traces.tokenizer import TraceTokenizer, load_tokenizer
from mplm_data.traces.validate import schedule_trace, validate

stdout = Console()
stderr = Console(stderr=True)

COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta",
           "bright_green", "bright_yellow", "bright_blue", "bright_red")
# Deliveries listed after a send; the rest are counted.
_DELIVERIES_SHOWN = 6

TOKENIZER_HELP = ("Tokenizer the costs are counted in: 'mplm-v1' (the project tokenizer) or a "
                  "local Hugging Face tokenizer folder.")


def _load_rows(path: Path) -> list[dict]:
    table = read_table(path)
    missing = [name for name in traces_schema().names if name not in table.schema.names]
    if missing:
        raise InputError(f"{path} is not a trace file: it lacks the columns {', '.join(missing)}")
    return table.to_pylist()


def _tokenizer_for(row: dict, spec: Optional[str]) -> TraceTokenizer:
    tokenizer = load_tokenizer(spec)
    if row["tokenizer"] != tokenizer.ident:
        raise InputError(f"the traces were counted with tokenizer {row['tokenizer']}, but "
                         f"{tokenizer.ident} is loaded; pass that tokenizer with --tokenizer")
    return tokenizer


def _message_links(trace: Trace, schedule: Schedule) -> tuple[dict, dict]:
    """Link both ends of every delivered message.

    Returns `copies`, mapping a send (sender, item index) to the (receiver, delivery step) of each
    copy delivered, and `sent_in`, mapping a delivery (receiver, item index) to the step its send
    ended in. Messages from one sender to one receiver arrive in the order they were sent, so the
    k-th delivery from S at R belongs to the k-th send of S that reached R.
    """
    sends: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for run in schedule.runs:
        thread = trace.thread(run.name)
        for index, (item, step) in enumerate(zip(run.items, run.item_steps)):
            if item.kind is ItemKind.SEND:
                for receiver in _receivers(trace, thread, item.peer):
                    sends[(run.name, receiver)].append((index, step))

    copies: dict[tuple[str, int], list[tuple[str, int]]] = defaultdict(list)
    sent_in: dict[tuple[str, int], int] = {}
    seen: dict[tuple[str, str], int] = defaultdict(int)
    for run in schedule.runs:
        for index, (item, step) in enumerate(zip(run.items, run.item_steps)):
            if item.kind is not ItemKind.MSG:
                continue
            key = (item.peer, run.name)
            if seen[key] < len(sends[key]):
                send_index, send_step = sends[key][seen[key]]
                copies[(item.peer, send_index)].append((run.name, step))
                sent_in[(run.name, index)] = send_step
            seen[key] += 1
    return copies, sent_in


def _receivers(trace: Trace, thread, dest: str) -> list[str]:
    if dest == "all":
        return [other.name for other in trace.threads if other.name != thread.name]
    if dest == "parent":
        return [thread.parent] if thread.parent else []
    return [name for name in thread.groups.get(dest, (dest,)) if name != thread.name]


def _print_trace(row_number: int, row: dict, trace: Trace, schedule: Schedule,
                 only: Optional[str]) -> None:
    costs = ", ".join(f"{name} {getattr(schedule.costs, name):g}" for name in COST_NAMES)
    stdout.print(f"[bold]row {row_number}[/]: {row['task']} {row['format']}/{row['decomposition']}, "
                 f"{row['n']}x{row['n']}, grade {row['grade']}, tokenizer {row['tokenizer']}",
                 highlight=False)
    stdout.print(f"  {costs}", highlight=False)
    colour = {thread.name: COLOURS[index % len(COLOURS)] for index, thread in enumerate(trace.threads)}
    copies, sent_in = _message_links(trace, schedule)

    for run in schedule.runs:
        if only is not None and run.name != only:
            continue
        thread = trace.thread(run.name)
        header = Text(f"── {run.name}", style=f"bold {colour[run.name]}")
        if thread.parent:
            header.append(f" (forked by {thread.parent}, starts in step {run.start_step})")
        header.append(f"  context {run.context_tokens}, generated {run.generated_tokens} tokens")
        stdout.print(header)
        stdout.print(Text("   prompt  " + " ".join(thread.prompt), style="dim"))
        for index, (item, step) in enumerate(zip(run.items, run.item_steps)):
            stdout.print(_item_line(run.name, index, item, step, colour, copies, sent_in),
                         highlight=False)


def _item_line(name: str, index: int, item, step: int, colour: dict[str, str], copies: dict,
               sent_in: dict) -> Text:
    own = colour[name]
    line = Text(f"   {step:>6}  ")
    body = " ".join(item.words)
    if item.kind is ItemKind.SEND:
        line.append(f"-> {item.peer}: {body}", style=own)
        delivered = copies.get((name, index), [])
        shown = ", ".join(f"{receiver} in step {at}" for receiver, at in delivered[:_DELIVERIES_SHOWN])
        more = len(delivered) - _DELIVERIES_SHOWN
        line.append(f"   delivered to {shown or 'nobody'}" + (f" and {more} more" if more > 0 else ""),
                    style="dim")
    elif item.kind is ItemKind.MSG:
        sender = colour.get(item.peer, own)
        line.append("<- ", style=own)
        line.append(item.peer, style=f"bold {sender}")
        line.append(f": {body}", style=sender)
        if (name, index) in sent_in:
            line.append(f"   sent in step {sent_in[(name, index)]}", style="dim")
    elif item.kind is ItemKind.STOP:
        line.append(f"<- stopped by {item.peer}: {body}", style=f"bold {colour.get(item.peer, own)}")
    else:
        line.append(" ".join(item.to_words()), style=own)
    return line


@app.command("show")
def show(
    file: Path = typer.Argument(..., help="Trace file (.arrow or .parquet) written by gen --format."),
    index: int = typer.Option(0, "--index", help="Row to show, from 0."),
    thread: Optional[str] = typer.Option(None, "--thread", help="Show only this thread, by name."),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help=TOKENIZER_HELP),
) -> None:
    """Print one trace: threads in colour, messages at both ends, steps on the left."""
    rows = _load_rows(file)
    if not 0 <= index < len(rows):
        fail(f"--index {index} is out of range; {file} has {len(rows)} rows (0..{len(rows) - 1})")
    row = rows[index]
    counter = _tokenizer_for(row, tokenizer)
    trace = row_trace(row, counter)
    if thread is not None and thread not in {t.name for t in trace.threads}:
        fail(f"--thread {thread} is not a thread of row {index}; threads are named like "
             f"{trace.threads[0].name}")
    _print_trace(index, row, trace, schedule_trace(trace, counter), thread)


@app.command("validate")
def validate_file(
    file: Path = typer.Argument(..., help="Trace file (.arrow or .parquet) written by gen --format."),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help=TOKENIZER_HELP),
) -> None:
    """Check every trace (markup, messages, schedule, answer, stored costs); stop at the first error."""
    rows = _load_rows(file)
    for number, row in enumerate(rows):
        try:
            counter = _tokenizer_for(row, tokenizer)
            trace = row_trace(row, counter)
            geometry = Geometry(row["n"], row["box_rows"], row["box_cols"])
            check = answer_check(text_to_grid(row["puzzle"], geometry),
                                 text_to_grid(row["solution"], geometry), geometry, counter)
            costs = validate(trace, tokenizer=counter, answer_check=check).costs
        except TraceError as err:
            fail(f"row {number}: {err}")
        except MplmDataError as err:
            fail(f"row {number}: {err}")

        stored = {name: row[name] for name in COST_NAMES}
        if stored != costs.as_dict():
            wrong = next(name for name in COST_NAMES if stored[name] != getattr(costs, name))
            fail(f"row {number}: stored {wrong} is {stored[wrong]}, but the schedule gives "
                 f"{getattr(costs, wrong)}; regenerate the file")
    stdout.print(f"{len(rows)} traces valid in {file}")


@app.command("stats")
def stats(
    task: str = typer.Option("sudoku", "--task", help="Task to measure; only sudoku so far."),
    sizes: str = typer.Option("4,9,16,25,36", "--sizes", help="Comma-separated grid sizes n."),
    count: int = typer.Option(4, "--count", help="Puzzles per size."),
    seed: int = typer.Option(0, "--seed", help="Base seed of the puzzle sample."),
    variants: str = typer.Option(
        "mplm,mplm-box,mplm-unit,fj,cot", "--formats",
        help="Comma-separated trace variants: mplm (cell threads), mplm-box, mplm-unit, fj, cot."),
    solvable_by: str = typer.Option(
        "cell", "--solvable-by",
        help="Keep puzzles this MPLM decomposition expresses (cell or box: naked singles; unit: "
             "hidden singles), so that every variant renders the same puzzles."),
    max_attempts: int = typer.Option(200, "--max-attempts",
                                     help="Puzzles drawn per item before giving up."),
    clue_fraction: float = typer.Option(
        0.65, "--clue-fraction",
        help="Clues per puzzle as a share of the cells, the same at every size; 0 keeps the "
             "generator's default target."),
    as_json: bool = typer.Option(False, "--json", help="Print the means and exponents as JSON."),
    plot: Optional[Path] = typer.Option(None, "--plot",
                                        help="Save a log-log plot of max context against n (PNG)."),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help=TOKENIZER_HELP),
) -> None:
    """Measure trace costs over grid sizes and fit the growth of max per-thread context."""
    from mplm_data.traces.stats import SweepConfig, cost_sweep, format_table, plot_growth

    if task != "sudoku":
        fail(f"--task {task} is not supported; use sudoku")
    try:
        parsed = tuple(int(size) for size in sizes.split(","))
    except ValueError:
        fail(f"--sizes {sizes!r} is not a comma-separated list of integers such as 4,9,16")
    try:
        config = SweepConfig(sizes=parsed, count=count, seed=seed,
                             variants=tuple(name.strip() for name in variants.split(",")),
                             solvable_by=solvable_by, max_attempts=max_attempts,
                             clue_fraction=clue_fraction or None)
    except ValueError as err:
        fail(str(err))

    result = cost_sweep(config, load_tokenizer(tokenizer),
                        progress=None if as_json else lambda message: stderr.print(message, style="dim"))
    if plot is not None:
        plot_growth(result, plot)
    if as_json:
        print(json.dumps(result.as_json(), indent=2))
        return

    wide = Console(width=max(stdout.width, 150))
    table = Table(title=f"mean trace costs, {count} puzzles per size ({result.tokenizer})")
    for column in ("variant", "n", *COST_NAMES):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for row in format_table(result):
        table.add_row(*row)
    wide.print(table)
    for name, exponent in result.exponents.items():
        stdout.print(f"max_context_tokens ~ n^{exponent:.2f} for {name}")
    if plot is not None:
        stdout.print(f"plot saved to {plot}")
