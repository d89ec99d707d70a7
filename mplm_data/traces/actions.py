"""What a thread program does: the actions it yields and the deliveries it receives.

A renderer writes each thread as a program, usually a generator wrapped in `GeneratorProgram`:

    delivery = yield Recv()          # block; resume with the delivered message
    yield Emit(("drop", "3", "left", "2"))
    yield Send("peers", ("7",))
    yield Answer(("7",))

The scheduler (`schedule.Scheduler`) turns each action into the item it adds to the thread's
text (`action_item`) and times it under the lockstep rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generator, Protocol

from .model import Item, ItemKind


@dataclass(frozen=True)
class Emit:
    """Free generated words, such as a state update or a reasoning step.

    `partial` marks the replay of a PARTIAL item (words of an item a preemption cut short).
    """

    words: tuple[str, ...]
    partial: bool = False


@dataclass(frozen=True)
class Send:
    """Send `words` to the thread or group `dest`."""

    dest: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class Recv:
    """Block until a message is delivered; the program receives it as a `Delivery`."""


@dataclass(frozen=True)
class Preempt:
    """Stop the thread or group `dest`, telling each target `words`."""

    dest: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class Child:
    """A thread that a fork starts: its label, prompt words and program."""

    label: str
    prompt: tuple[str, ...]
    program: "Program | None" = None


@dataclass(frozen=True)
class Fork:
    """Start one child per entry; each child's context begins with the parent's context."""

    children: tuple[Child, ...]


@dataclass(frozen=True)
class Halt:
    """End the thread without an answer."""


@dataclass(frozen=True)
class Answer:
    """End the thread with an answer."""

    words: tuple[str, ...]


@dataclass(frozen=True)
class AwaitStop:
    """Generate nothing more and wait for a preemption (used when replaying a recorded stop)."""


@dataclass(frozen=True)
class Idle:
    """Generate nothing more without ending (a replayed text that stops without an end)."""


Action = Emit | Send | Recv | Preempt | Fork | Halt | Answer | AwaitStop | Idle


@dataclass(frozen=True)
class Delivery:
    """A message or preemption as the receiver sees it."""

    sender: str
    words: tuple[str, ...]


class Program(Protocol):
    """Decision maker of a thread: `resume` returns its next action, given the delivery that
    ended a Recv."""

    def resume(self, delivery: Delivery | None) -> Action: ...

    def stopped(self, stop: Delivery) -> None: ...


class GeneratorProgram:
    """A program written as a generator: `delivery = yield Recv()`, `yield Send(...)`, ..."""

    def __init__(self, generator: Generator[Action, Delivery | None, None]):
        self._generator = generator
        self._started = False

    def resume(self, delivery: Delivery | None) -> Action:
        try:
            if not self._started:
                self._started = True
                return next(self._generator)
            return self._generator.send(delivery)
        except StopIteration:
            raise RuntimeError(f"program {self._generator.__name__} returned without yielding "
                               f"Halt or Answer; end every program with one") from None

    def stopped(self, stop: Delivery) -> None:
        self._generator.close()


def action_item(action: Action) -> Item | None:
    """Return the item an action adds to the thread's text (None for AwaitStop and Idle)."""
    if isinstance(action, Emit):
        return Item(ItemKind.PARTIAL if action.partial else ItemKind.TEXT, words=action.words)
    if isinstance(action, Send):
        return Item(ItemKind.SEND, action.dest, action.words)
    if isinstance(action, Recv):
        return Item(ItemKind.RECV)
    if isinstance(action, Preempt):
        return Item(ItemKind.PREEMPT, action.dest, action.words)
    if isinstance(action, Fork):
        return Item(ItemKind.FORK, words=tuple(child.label for child in action.children))
    if isinstance(action, Halt):
        return Item(ItemKind.HALT)
    if isinstance(action, Answer):
        return Item(ItemKind.ANSWER, words=action.words)
    return None
