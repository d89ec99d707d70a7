"""Check a trace: markup, names, message matching, schedule, deadlock and the final answer.

`validate` first checks what needs no schedule (every name resolves, nothing follows an end),
then replays every thread's recorded text through the lockstep scheduler and compares each
recorded delivery and preemption with the one the schedule produces. The first problem raises a
`TraceError` that names the thread, the token position and the reason (`ErrorKind`):

- MALFORMED: bad markup, duplicate names, threads listed out of creation order;
- UNKNOWN_THREAD: a destination, group member, sender or fork child that does not exist;
- UNMATCHED_RECV: a delivered message that no thread ever sends to the receiver;
- ORDER: the schedule delivers a different message (or a preemption) at that `<recv>`;
- DEADLOCK: a thread blocked in `<recv>` forever;
- AFTER_END: tokens after `<halt>`, `</answer>` or a preemption;
- UNMATCHED_STOP: a recorded preemption that the schedule does not produce at that point;
- NO_END: a thread whose text stops without an end;
- WRONG_ANSWER: raised by the task's answer check.

The same checks judge a model's output once the runtime has recorded it as a trace.
"""

from __future__ import annotations

from typing import Callable

from . import protocol as p
from .model import END_KINDS, ErrorKind, ItemKind, Thread, Trace, TraceError
from .schedule import (Action, Answer, AwaitStop, Child, Delivery, Emit, Fork, Halt, Idle,
                       Preempt, Recv, Schedule, Scheduler, Send, ThreadRun, costs_of)
from .tokenizer import TraceTokenizer, project_tokenizer

AnswerCheck = Callable[[Trace], None]


def item_positions(thread: Thread, tokenizer: TraceTokenizer) -> list[int]:
    """Token position of the first token of each item, then the end position."""
    position = tokenizer.count_words([p.PROMPT, *thread.prompt, p.PROMPT_END])
    positions = []
    for item in thread.items:
        positions.append(position)
        position += tokenizer.count_words(item.to_words())
    positions.append(position)
    return positions


def _static_checks(trace: Trace, tokenizer: TraceTokenizer) -> set[tuple[str, str, tuple[str, ...]]]:
    """Check names and ends; return every (sender, receiver, body) that some send can deliver."""
    names = [thread.name for thread in trace.threads]
    known = set(names)
    seen: set[str] = set()
    forked = False
    sent: set[tuple[str, str, tuple[str, ...]]] = set()

    for thread in trace.threads:
        if thread.name in seen:
            raise TraceError(ErrorKind.MALFORMED, thread.name, -1, "two threads have this name")
        if not p.is_name(thread.name):
            raise TraceError(ErrorKind.MALFORMED, thread.name, -1, "a thread name must be one word "
                             "without protocol tokens")
        if thread.parent is not None and thread.parent not in seen:
            raise TraceError(ErrorKind.UNKNOWN_THREAD, thread.name, -1,
                             f"parent {thread.parent!r} is not a thread listed before it")
        if thread.parent is None and forked:
            raise TraceError(ErrorKind.MALFORMED, thread.name, -1, "root threads must be listed "
                             "before every forked thread")
        forked = forked or thread.parent is not None
        seen.add(thread.name)

        positions = item_positions(thread, tokenizer)
        groups = thread.groups
        for group, members in groups.items():
            missing = [member for member in members if member not in known]
            if missing:
                raise TraceError(ErrorKind.UNKNOWN_THREAD, thread.name, 0,
                                 f"group {group!r} lists {missing[0]!r}, which is not a thread")

        for index, item in enumerate(thread.items):
            if index and thread.items[index - 1].kind in END_KINDS:
                raise TraceError(ErrorKind.AFTER_END, thread.name, positions[index],
                                 f"<{item.kind.value}> comes after the thread ended")
            if item.kind in (ItemKind.SEND, ItemKind.PREEMPT):
                targets = _static_targets(thread, item.peer, groups, names)
                if targets is None:
                    raise TraceError(ErrorKind.UNKNOWN_THREAD, thread.name, positions[index],
                                     f"<{item.kind.value}> names {item.peer!r}, which is neither a "
                                     f"thread nor a group of this thread")
                if item.kind is ItemKind.SEND:
                    sent.update((thread.name, target, item.words) for target in targets)
            elif item.kind in (ItemKind.MSG, ItemKind.STOP) and item.peer not in known:
                raise TraceError(ErrorKind.UNKNOWN_THREAD, thread.name, positions[index],
                                 f"<{item.kind.value}> comes from {item.peer!r}, which is not a thread")
    return sent


def _static_targets(thread: Thread, dest: str, groups: dict[str, tuple[str, ...]],
                    names: list[str]) -> tuple[str, ...] | None:
    if dest == p.GROUP_ALL:
        return tuple(name for name in names if name != thread.name)
    if dest == p.GROUP_PARENT:
        return (thread.parent,) if thread.parent is not None else None
    if dest in groups:
        return groups[dest]
    return (dest,) if dest in names else None


class ReplayProgram:
    """Replay a recorded thread and check each delivery and preemption the scheduler produces."""

    replay = True

    def __init__(self, thread: Thread, tokenizer: TraceTokenizer,
                 sent: set[tuple[str, str, tuple[str, ...]]]):
        self.thread = thread
        self.items = thread.items
        self.cursor = 0
        self.positions = item_positions(thread, tokenizer)
        self.sent = sent
        self.waiting_error = ErrorKind.NO_END

    def _error(self, kind: ErrorKind, item_index: int, reason: str) -> TraceError:
        return TraceError(kind, self.thread.name, self.positions[item_index], reason)

    def resume(self, delivery: Delivery | None) -> Action:
        if delivery is not None:
            self._check_delivery(delivery)
        if self.cursor >= len(self.items):
            return Idle()

        item = self.items[self.cursor]
        self.cursor += 1
        kind = item.kind
        if kind is ItemKind.TEXT or kind is ItemKind.PARTIAL:
            return Emit(item.words, partial=kind is ItemKind.PARTIAL)
        if kind is ItemKind.SEND:
            return Send(item.peer, item.words)
        if kind is ItemKind.RECV:
            return Recv()
        if kind is ItemKind.PREEMPT:
            return Preempt(item.peer, item.words)
        if kind is ItemKind.FORK:
            return Fork(tuple(Child(label, ()) for label in item.words))
        if kind is ItemKind.HALT:
            return Halt()
        if kind is ItemKind.ANSWER:
            return Answer(item.words)
        if kind is ItemKind.STOP:
            self.cursor -= 1
            self.waiting_error = ErrorKind.UNMATCHED_STOP
            return AwaitStop()
        raise self._error(ErrorKind.MALFORMED, self.cursor - 1, f"<{kind.value}> must follow <recv>")

    def _check_delivery(self, delivery: Delivery) -> None:
        recv = self.cursor - 1
        item = self.items[self.cursor] if self.cursor < len(self.items) else None
        if item is not None and item.kind is ItemKind.MSG \
                and (item.peer, item.words) == (delivery.sender, delivery.words):
            self.cursor += 1
            return

        scheduled = f"{delivery.sender}: {' '.join(delivery.words)}"
        if item is None or item.kind is not ItemKind.MSG:
            raise self._error(ErrorKind.ORDER, recv, f"the schedule delivers the message from "
                              f"{scheduled} here, but the text records no delivery")
        recorded = f"{item.peer}: {' '.join(item.words)}"
        if (item.peer, self.thread.name, item.words) not in self.sent:
            raise self._error(ErrorKind.UNMATCHED_RECV, recv, f"the recorded message from {recorded} "
                              f"is never sent to this thread")
        raise self._error(ErrorKind.ORDER, recv, f"the text records the message from {recorded}, but "
                          f"the schedule delivers {scheduled} first")

    def unmatched_wait(self) -> TraceError | None:
        """Return the UNMATCHED_RECV error of a thread left blocked, if no thread sends what it
        recorded; else None."""
        item = self.items[self.cursor] if self.cursor < len(self.items) else None
        if item is not None and item.kind is ItemKind.MSG \
                and (item.peer, self.thread.name, item.words) not in self.sent:
            return self._error(ErrorKind.UNMATCHED_RECV, self.cursor - 1,
                               f"the recorded message from {item.peer} is never sent to this thread")
        return None

    def check_stop(self, run: ThreadRun, step: int, sender: str, words: tuple[str, ...]) -> None:
        item = self.items[self.cursor] if self.cursor < len(self.items) else None
        if item is None or item.kind is not ItemKind.STOP:
            raise self._error(ErrorKind.AFTER_END, min(self.cursor, len(self.items)),
                              f"{sender} preempts the thread in step {step}, but its text continues")
        if (item.peer, item.words) != (sender, words):
            raise self._error(ErrorKind.UNMATCHED_STOP, self.cursor, f"the text records a preemption "
                              f"from {item.peer}, but the schedule's comes from {sender}")
        if run.status == "waiting" and step != run.clock + 1:
            raise self._error(ErrorKind.UNMATCHED_STOP, self.cursor, f"the text records a preemption "
                              f"in step {run.clock + 1}, but {sender}'s arrives in step {step}")
        self.cursor += 1

    def stopped(self, stop: Delivery) -> None:
        return None


def schedule_trace(trace: Trace, tokenizer: TraceTokenizer | None = None) -> Schedule:
    """Validate a trace's structure and schedule, and return the schedule with its costs."""
    tokenizer = tokenizer or project_tokenizer()
    sent = _static_checks(trace, tokenizer)
    order = {thread.name: index for index, thread in enumerate(trace.threads)}
    programs: dict[str, ReplayProgram] = {}

    def lookup(parent: ThreadRun, child: Child, name: str) -> tuple[tuple[str, ...], ReplayProgram]:
        index = order.get(name)
        if index is None or trace.threads[index].parent != parent.name:
            raise TraceError(ErrorKind.UNKNOWN_THREAD, parent.name, parent.position(tokenizer) - 1,
                             f"the fork starts {name!r}, which is not a thread forked by "
                             f"{parent.name}")
        if index != len(scheduler.runs):
            raise TraceError(ErrorKind.MALFORMED, name, -1, f"the thread is listed at position "
                             f"{index}, but forks create it as thread {len(scheduler.runs)}; list "
                             f"threads in creation order")
        thread = trace.threads[index]
        programs[name] = ReplayProgram(thread, tokenizer, sent)
        return thread.prompt, programs[name]

    scheduler = Scheduler(tokenizer, child_lookup=lookup)
    for thread in trace.threads:
        if thread.parent is None:
            programs[thread.name] = ReplayProgram(thread, tokenizer, sent)
            scheduler.add_root(thread.name, thread.prompt, programs[thread.name])

    try:
        scheduler.run()
    except TraceError as err:
        if err.kind is ErrorKind.DEADLOCK:
            better = programs[err.thread].unmatched_wait()
            if better is not None:
                raise better from err
        raise

    missing = [thread.name for thread in trace.threads if thread.name not in scheduler.by_name]
    if missing:
        raise TraceError(ErrorKind.UNKNOWN_THREAD, missing[0], -1, "no fork of its parent starts "
                         "this thread")
    by_name = scheduler.by_name
    ordered = tuple(by_name[thread.name] for thread in trace.threads)
    return Schedule(ordered, costs_of(list(ordered), scheduler.messages))


def validate(trace: Trace, *, tokenizer: TraceTokenizer | None = None,
             answer_check: AnswerCheck | None = None) -> Schedule:
    """Check everything `schedule_trace` checks, then the answer; return the schedule."""
    schedule = schedule_trace(trace, tokenizer)
    if answer_check is not None:
        answer_check(trace)
    return schedule
