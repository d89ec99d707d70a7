"""The protocol side of one problem's run: threads, routing, deliveries, forks, ends and faults.

`ProblemRun` follows the lockstep timing model of `mplm_data.traces.schedule` exactly, so a model
that writes the generated trace reproduces its text and costs. Each step `t` (counted per
problem from 0) has three phases:

1. `start_step`, before the forward pass. Preemptions emitted in step t-1 stop their targets, and
   blocked threads receive their next available message. Every running thread emits the token
   that the previous forward pass chose, and the markup it completes takes effect: a `</send>`
   queues the message for step t+1, `<recv>` blocks, `</fork>` creates the children, `<halt>`
   and `</answer>` end the thread. It returns the *feeds*, the token ids each thread appends to
   its context in this step's forward pass (its emitted token, a delivered message, or a prompt).
2. The engine runs the forward pass and calls `take(thread, token)` for each fed thread.
3. `finish_step` detects the end of the run, a deadlock or the step limit.

Context that a thread did not generate enters in one step in which it emits nothing: root
prompts in step 0, a delivered `<msg>` in its delivery step, a fork child's `</fork>` token and
prompt in the step after the fork. A fork child's sequence starts as a copy of its parent's
sequence up to the token before `</fork>`, so the child's context is the parent's context
through `</fork>` followed by its own prompt.

A thread whose output cannot be parsed (`ThreadParser` raises), which names an unknown thread or
group, emits `<eos>`, `<pad>` or `<unk>`, or exceeds a token limit is stopped with a
`ThreadFault`; the other threads go on.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from mplm_data.traces import protocol as p
from mplm_data.traces.model import Item, ItemKind, Thread, Trace, TraceError
from mplm_data.traces.schedule import costs_of
from mplm_data.traces.text import ThreadParser
from mplm_data.traces.tokenizer import TraceTokenizer

from .problems import Problem
from .results import FaultKind, RunResult, RunStatus, ThreadFault

logger = logging.getLogger(__name__)


class SequenceHost(Protocol):
    """Owner of the model-side sequences (KV cache slots, token histories)."""

    def open(self, parent: int | None = None) -> int:
        """Start a sequence, empty or a copy of `parent`'s current context; return its id."""

    def close(self, sequence: int) -> None:
        """Free a sequence."""


class TokenText:
    """The text each token id adds to a decoded thread, with the ids of the non-markup specials.

    The piece of id `t` is `decode(anchor + [t])` minus `decode(anchor)`, so it carries the
    leading space of a word-initial token and none for a continuation piece (`##c7`), for the
    project tokenizer and for byte-level or metaspace tokenizers alike. `end_token_ids` are
    further ids treated like `<eos>`, such as a pretrained model's own end-of-turn token.
    """

    def __init__(self, tokenizer: TraceTokenizer, end_token_ids: tuple[int, ...] = ()):
        self.tokenizer = tokenizer
        raw = tokenizer.tokenizer
        self.vocab_size = raw.get_vocab_size(with_added_tokens=True)
        self._anchor = tokenizer.word_ids("x")
        self._anchor_text = raw.decode(self._anchor, skip_special_tokens=False)
        self._pieces: dict[int, str] = {}
        self.eos_id = raw.token_to_id(p.EOS)
        self.specials = {token_id: token for token in (p.PAD, p.EOS, p.UNK)
                         if (token_id := raw.token_to_id(token)) is not None}
        for token_id in end_token_ids:
            self.specials[token_id] = p.EOS

    def piece(self, token_id: int) -> str:
        """Text that token `token_id` appends."""
        cached = self._pieces.get(token_id)
        if cached is None:
            text = self.tokenizer.tokenizer.decode(self._anchor + [token_id], skip_special_tokens=False)
            cached = text[len(self._anchor_text):]
            self._pieces[token_id] = cached
        return cached


class State(str, Enum):
    """Runtime state of a thread."""

    OPENING = "opening"    # created; its prompt enters in `start_step`
    RUNNING = "running"    # emits one token per step
    BLOCKED = "blocked"    # emitted <recv>, waits for a delivery
    ENDED = "ended"        # halted, answered, preempted or stopped by a fault


@dataclass
class ThreadState:
    """One thread of a run: identity, parser, model sequence, counters and inbox."""

    name: str
    index: int
    prompt: tuple[str, ...]
    parent: str | None
    parser: ThreadParser
    groups: dict[str, tuple[str, ...]]
    start_step: int
    sequence: int | None = None
    state: State = State.OPENING
    next_token: int | None = None
    opening_ids: list[int] = field(default_factory=list)
    prefix_tokens: int = 0
    prompt_tokens: int = 0
    generated_tokens: int = 0
    delivered_tokens: int = 0
    recv_step: int = -1
    end_step: int = -1
    answer_step: int = -1
    forks: int = 0
    sent: int = 0
    inbox: list[tuple[int, int, int, str, tuple[str, ...]]] = field(default_factory=list)

    @property
    def context_tokens(self) -> int:
        """Tokens in the thread's context: forked prefix, prompt, generated and delivered."""
        return self.prefix_tokens + self.prompt_tokens + self.generated_tokens + self.delivered_tokens


Feed = tuple[ThreadState, list[int]]


def take(thread: ThreadState, token: int) -> None:
    """Record the next token the model chose for a fed thread (ignored unless it is running)."""
    if thread.state is State.RUNNING:
        thread.next_token = token


@dataclass(frozen=True)
class Limits:
    """Per-thread and per-run limits (see `RuntimeConfig`)."""

    max_new_tokens: int
    max_context_tokens: int
    max_steps: int


class ProblemRun:
    """Run the protocol of one problem step by step (see the module docstring)."""

    def __init__(self, problem: Problem, index: int, tokenizer: TraceTokenizer, text: TokenText,
                 limits: Limits, host: SequenceHost):
        self.problem = problem
        self.index = index
        self.tokenizer = tokenizer
        self.text = text
        self.limits = limits
        self.host = host
        self.step = 0
        self.decode_steps = 0
        self.messages = 0
        self.status: RunStatus | None = None
        self.threads: list[ThreadState] = []
        self.by_name: dict[str, ThreadState] = {}
        self.faults: list[ThreadFault] = []
        self.waiting: tuple[str, ...] = ()
        self._preempts: list[tuple[int, ThreadState, str, tuple[str, ...]]] = []
        for name, prompt in problem.roots:
            self._new_thread(name, prompt, None, 0)

    # -- threads ----------------------------------------------------------------------------------

    def _new_thread(self, name: str, prompt: tuple[str, ...], parent: ThreadState | None,
                    start_step: int) -> ThreadState:
        parser = ThreadParser(name, parent=parent.name if parent else None, tokenizer=self.tokenizer,
                              generated_only=True, prompt=prompt)
        thread = ThreadState(name, len(self.threads), prompt, parent.name if parent else None, parser,
                             Thread(name, prompt, ()).groups, start_step)
        prompt_words = [p.PROMPT, *prompt, p.PROMPT_END]
        thread.prompt_tokens = self.tokenizer.count_words(prompt_words)
        thread.opening_ids = self.tokenizer.encode_words(prompt_words)
        self.threads.append(thread)
        self.by_name[name] = thread
        return thread

    @property
    def live_threads(self) -> int:
        """Count the threads that have not ended; each has a model sequence, or will have one."""
        return sum(1 for thread in self.threads if thread.state is not State.ENDED)

    def _end(self, thread: ThreadState, step: int) -> None:
        thread.state, thread.end_step, thread.next_token = State.ENDED, step, None
        thread.inbox.clear()
        if thread.sequence is not None:
            self.host.close(thread.sequence)
            thread.sequence = None

    def _fault(self, thread: ThreadState, kind: FaultKind, position: int, reason: str) -> None:
        fault = ThreadFault(thread.name, position, kind, reason)
        self.faults.append(fault)
        logger.debug("problem %d: %s", self.index, fault)
        self._end(thread, self.step)

    # -- phase 1 ----------------------------------------------------------------------------------

    def start_step(self) -> list[Feed]:
        """Apply this step's preemptions, openings, deliveries and emissions; return the feeds."""
        step = self.step
        feeds: list[Feed] = []

        due = [entry for entry in self._preempts if entry[0] == step]
        self._preempts = [entry for entry in self._preempts if entry[0] > step]
        for _, target, sender, words in due:
            self._stop(target, sender, words)

        for thread in self.threads:
            if thread.state is State.OPENING and thread.start_step == step:
                if thread.sequence is None:
                    thread.sequence = self.host.open(None)
                thread.state = State.RUNNING
                feeds.append((thread, thread.opening_ids))
            elif thread.state is State.BLOCKED and thread.recv_step < step and thread.inbox \
                    and thread.inbox[0][0] <= step:
                feeds.append((thread, self._deliver(thread)))

        for thread in self.threads:
            if thread.state is State.RUNNING and thread.next_token is not None:
                token = thread.next_token
                thread.next_token = None
                if self._emit(thread, token):
                    feeds.append((thread, [token]))

        if feeds:
            self.decode_steps += 1
        return feeds

    def _stop(self, target: ThreadState, sender: str, words: tuple[str, ...]) -> None:
        """Preempt `target`: record `<stop> SENDER BODY </stop>` and end it."""
        if target.state is State.ENDED:
            return
        item = Item(ItemKind.STOP, sender, words)
        try:
            target.parser.deliver(item)
        except TraceError as err:
            self._fault(target, FaultKind.MALFORMED, err.position, err.reason)
            return
        target.delivered_tokens += self.tokenizer.count_words(item.to_words())
        self.messages += 1
        self._end(target, self.step)

    def _deliver(self, thread: ThreadState) -> list[int]:
        """Hand the first available message to a blocked thread; return the message's token ids."""
        _, _, _, sender, words = heapq.heappop(thread.inbox)
        item = Item(ItemKind.MSG, sender, words)
        thread.parser.deliver(item)
        message = item.to_words()
        thread.delivered_tokens += self.tokenizer.count_words(message)
        self.messages += 1
        thread.state = State.RUNNING
        return self.tokenizer.encode_words(message)

    def _emit(self, thread: ThreadState, token: int) -> bool:
        """Emit one token: parse it and act on the markup it completes; return whether to feed it."""
        special = self.text.specials.get(token)
        if special is not None:
            kind = FaultKind.NO_END if special == p.EOS else FaultKind.MALFORMED
            self._fault(thread, kind, thread.parser.position,
                        f"the thread emitted {special} before <halt>, <answer> or a preemption")
            return False

        thread.generated_tokens += 1
        try:
            items = thread.parser.feed(self.text.piece(token))
        except TraceError as err:
            self._fault(thread, FaultKind.MALFORMED, err.position, err.reason)
            return False

        for item in items:
            self._act(thread, item)
            if thread.state is State.ENDED:
                return False

        if thread.generated_tokens >= self.limits.max_new_tokens:
            self._fault(thread, FaultKind.TOKEN_LIMIT, thread.parser.position,
                        f"the thread generated {thread.generated_tokens} tokens without ending; "
                        f"raise max_new_tokens if that is expected")
            return False
        if thread.context_tokens >= self.limits.max_context_tokens:
            self._fault(thread, FaultKind.TOKEN_LIMIT, thread.parser.position,
                        f"the thread's context reached {thread.context_tokens} tokens; raise "
                        f"max_context_tokens if that is expected")
            return False
        return True

    def _act(self, thread: ThreadState, item: Item) -> None:
        """Carry out a completed item emitted in this step."""
        step, kind = self.step, item.kind
        if kind is ItemKind.SEND:
            targets = self._recipients(thread, item.peer)
            if targets is None:
                return
            for target in targets:
                if target.state is not State.ENDED:
                    thread.sent += 1
                    heapq.heappush(target.inbox, (step + 1, thread.index, thread.sent, thread.name,
                                                  item.words))
        elif kind is ItemKind.RECV:
            thread.state, thread.recv_step = State.BLOCKED, step
        elif kind is ItemKind.PREEMPT:
            targets = self._recipients(thread, item.peer)
            for target in targets or ():
                self._preempts.append((step + 1, target, thread.name, item.words))
        elif kind is ItemKind.FORK:
            self._fork(thread, item.words)
        elif kind is ItemKind.HALT:
            self._end(thread, step)
        elif kind is ItemKind.ANSWER:
            thread.answer_step = step
            self._end(thread, step)

    def _recipients(self, thread: ThreadState, dest: str) -> list[ThreadState] | None:
        """Threads that `dest` names for `thread` in this step; faults the thread and returns None
        when one is unknown. A child forked in this step starts next step and is not reachable yet."""
        step = self.step
        if dest == p.GROUP_ALL:
            return [other for other in self.threads if other is not thread and other.start_step <= step]
        if dest == p.GROUP_PARENT:
            names: tuple[str, ...] = (thread.parent,) if thread.parent else ()
        else:
            names = thread.groups.get(dest, (dest,))
        targets = [self.by_name.get(name) for name in names]
        if not names or any(target is None or target.start_step > step for target in targets):
            self._fault(thread, FaultKind.UNKNOWN_THREAD, thread.parser.position - 1,
                        f"{dest!r} names no started thread and no group declared in the prompt")
            return None
        return [target for target in targets if target is not thread]

    def _fork(self, parent: ThreadState, labels: tuple[str, ...]) -> None:
        """Create one child per label; each starts next step from a copy of the parent's sequence."""
        prompts = [self.problem.child_prompt(label) for label in labels]
        if None in prompts:
            missing = labels[prompts.index(None)]
            self._fault(parent, FaultKind.UNKNOWN_THREAD, parent.parser.position - 1,
                        f"the fork starts {missing!r}, a label with no child prompt in this problem")
            return

        parent.forks += 1
        fork_end = self.tokenizer.word_ids(p.FORK_END)
        for label, prompt in zip(labels, prompts):
            name = p.fork_child_name(label, parent.forks)
            if name in self.by_name:
                self._fault(parent, FaultKind.MALFORMED, parent.parser.position - 1,
                            f"the fork starts {name!r} twice; fork labels must differ")
                return
            child = self._new_thread(name, prompt, parent, self.step + 1)
            child.prefix_tokens = parent.context_tokens
            child.sequence = self.host.open(parent.sequence)
            child.opening_ids = fork_end + child.opening_ids

    # -- phase 3 (phase 2 is the engine's forward pass) ---------------------------------------------

    def finish_step(self) -> bool:
        """Close the step; return True when the run is over (complete, deadlocked or at the limit)."""
        busy = bool(self._preempts) or any(
            thread.state is State.RUNNING or thread.state is State.OPENING
            or (thread.state is State.BLOCKED and thread.inbox) for thread in self.threads)
        live = [thread for thread in self.threads if thread.state is not State.ENDED]

        if busy and self.step >= self.limits.max_steps:
            for thread in live:
                self._fault(thread, FaultKind.STEP_LIMIT, thread.parser.position,
                            f"the run reached max_steps={self.limits.max_steps}")
            self.status = RunStatus.STEP_LIMIT
        elif not busy and not live:
            self.status = RunStatus.COMPLETE
        elif not busy:
            self.waiting = tuple(thread.name for thread in live)
            for thread in live:
                self._fault(thread, FaultKind.DEADLOCK, thread.parser.position - 1,
                            f"blocked in <recv> since step {thread.recv_step}, and every live "
                            f"thread waits with no message in flight")
            logger.info("problem %d deadlocked in step %d; waiting: %s", self.index, self.step,
                        ", ".join(self.waiting))
            self.status = RunStatus.DEADLOCK

        self.step += 1
        return self.status is not None

    # -- output -----------------------------------------------------------------------------------

    def result(self) -> RunResult:
        """Build the run's trace, costs and faults; call it after `finish_step` returned True."""
        threads = tuple(_recorded_thread(thread) for thread in self.threads)
        trace = Trace(self.problem.task, self.problem.format, self.problem.decomposition, threads)
        costs = costs_of(self.threads, self.messages)  # type: ignore[arg-type]
        tokens = tuple((thread.context_tokens, thread.generated_tokens) for thread in self.threads)
        return RunResult(self.index, self.problem, trace, costs, self.step - 1, self.decode_steps,
                         self.status or RunStatus.COMPLETE, tuple(self.faults), self.waiting, tokens)


def _recorded_thread(thread: ThreadState) -> Thread:
    """Return the thread's parsed text; a thread stopped inside markup keeps its complete items."""
    try:
        return thread.parser.thread()
    except TraceError:
        return Thread(thread.name, thread.prompt, tuple(thread.parser.items), thread.parent)
