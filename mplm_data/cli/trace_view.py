"""Terminal view of one trace for `mplm-data show`: threads in colour, messages at both ends.

Each thread gets a colour. A send lists the receivers and the steps in which its copies were
delivered, and a delivery gives the step its send ended in, so a reader can follow a message
from either end. Steps are those of the lockstep schedule (`mplm_data.traces.schedule`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Optional

from rich.console import Console
from rich.text import Text

from mplm_data.traces.model import ItemKind, Trace
from mplm_data.traces.schedule import COST_NAMES, Schedule

COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta",
           "bright_green", "bright_yellow", "bright_blue", "bright_red")
# Deliveries listed after a send; the rest are counted.
_DELIVERIES_SHOWN = 6


def message_links(trace: Trace, schedule: Schedule) -> tuple[dict, dict]:
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


def print_trace(console: Console, title: str, trace: Trace, schedule: Schedule,
                only: Optional[str]) -> None:
    """Print `title`, the costs, then every thread (only the thread named `only` when given)."""
    costs = ", ".join(f"{name} {getattr(schedule.costs, name):g}" for name in COST_NAMES)
    console.print(title, highlight=False)
    console.print(f"  {costs}", highlight=False)
    colour = {thread.name: COLOURS[index % len(COLOURS)] for index, thread in enumerate(trace.threads)}
    copies, sent_in = message_links(trace, schedule)

    for run in schedule.runs:
        if only is not None and run.name != only:
            continue
        thread = trace.thread(run.name)
        header = Text(f"── {run.name}", style=f"bold {colour[run.name]}")
        if thread.parent:
            header.append(f" (forked by {thread.parent}, starts in step {run.start_step})")
        header.append(f"  context {run.context_tokens}, generated {run.generated_tokens} tokens")
        console.print(header)
        console.print(Text("   prompt  " + " ".join(thread.prompt), style="dim"))
        for index, (item, step) in enumerate(zip(run.items, run.item_steps)):
            console.print(_item_line(run.name, index, item, step, colour, copies, sent_in),
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
