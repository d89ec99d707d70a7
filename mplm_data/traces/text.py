"""Render threads to text and parse text back, in one pass or incrementally.

`ThreadParser` is a word-by-word state machine over the markup of `protocol`. The same machine
parses stored text (`parse_thread`) and, fed piece by piece with `feed`, the output of a model as
it is decoded: it returns each item as soon as its last token arrives, so a runtime sees a
`<recv>` (block), a `</send>` (deliver), `<halt>` or `</answer>` (end) at once, and reports
the runtime's own insertions with `deliver`.

A trace *document* is the whole trace as text, two lines per thread:

    === NAME            (or `=== NAME < PARENT` for a forked thread)
    <prompt> ... </prompt> ...

after a first line `#trace TASK FORMAT DECOMPOSITION`. Rendering a parsed document gives the same
text back.
"""

from __future__ import annotations

from enum import Enum

from . import protocol as p
from .model import ErrorKind, Item, ItemKind, Thread, Trace, TraceError
from .tokenizer import TraceTokenizer, project_tokenizer

DOCUMENT_HEADER = "#trace"
THREAD_HEADER = "==="

_OPENERS = {p.SEND: ItemKind.SEND, p.PREEMPT: ItemKind.PREEMPT, p.ANSWER: ItemKind.ANSWER,
            p.FORK: ItemKind.FORK, p.MSG: ItemKind.MSG, p.STOP: ItemKind.STOP}
_CLOSERS = {ItemKind.SEND: p.SEND_END, ItemKind.PREEMPT: p.PREEMPT_END,
            ItemKind.ANSWER: p.ANSWER_END, ItemKind.FORK: p.FORK_END,
            ItemKind.MSG: p.MSG_END, ItemKind.STOP: p.STOP_END}
_NEEDS_PEER = frozenset({ItemKind.SEND, ItemKind.PREEMPT, ItemKind.MSG, ItemKind.STOP})


class State(str, Enum):
    """Parser position in a thread's text."""

    START = "start"            # before `<prompt>`
    PROMPT = "prompt"          # inside the prompt
    GROUP = "group"            # inside a group declaration of the prompt
    BODY = "body"              # between items
    AFTER_RECV = "after_recv"  # after `<recv>`, waiting for the delivery
    OPEN = "open"              # inside a send, preempt, fork, answer, msg or stop
    ENDED = "ended"            # after halt, answer or stop


class ThreadParser:
    """Parse one thread's text word by word into a `Thread`.

    With `generated_only=True` the parser reads a model's output: the prompt is given to the
    constructor, the text fed in must contain only tokens the thread may generate, and the
    runtime reports deliveries and preemptions through `deliver`. Errors raise TraceError
    (MALFORMED or AFTER_END) at the token position of the offending word, counted with
    `tokenizer` (the project tokenizer by default).
    """

    def __init__(self, name: str, *, parent: str | None = None, tokenizer: TraceTokenizer | None = None,
                 generated_only: bool = False, prompt: tuple[str, ...] | None = None):
        self.name = name
        self.parent = parent
        self.tokenizer = tokenizer or project_tokenizer()
        self.generated_only = generated_only
        self.state = State.START
        self.position = 0
        self.prompt: list[str] = []
        self.items: list[Item] = []
        self._text: list[str] = []
        self._open: ItemKind | None = None
        self._open_words: list[str] = []
        self._buffer = ""
        if generated_only:
            if prompt is None:
                raise ValueError("prompt is required when generated_only=True")
            self.prompt = list(prompt)
            self.position = self.tokenizer.count_words([p.PROMPT, *prompt, p.PROMPT_END])
            self.state = State.BODY

    # -- errors -----------------------------------------------------------------------------------

    def _error(self, reason: str, kind: ErrorKind = ErrorKind.MALFORMED) -> TraceError:
        return TraceError(kind, self.name, self.position, reason)

    # -- feeding ----------------------------------------------------------------------------------

    def feed(self, text: str) -> list[Item]:
        """Feed a piece of generated text; return the items it completes.

        A word at the end of the piece stays buffered until a space or a protocol token shows
        that it is complete; `close` flushes it.
        """
        self._buffer += text
        words = p.split_words(self._buffer)
        if words and not self._buffer[-1].isspace() and words[-1] not in p.PROTOCOL_SET:
            self._buffer = words.pop()
        else:
            self._buffer = ""
        return self.feed_words(words)

    def feed_words(self, words: list[str] | tuple[str, ...]) -> list[Item]:
        """Feed complete words; return the items they complete."""
        done_before = len(self.items)
        for word in words:
            if self.generated_only and word in p.CONTEXT_TOKENS:
                raise self._error(f"{word} was generated, but only the runtime may insert it")
            self._word(word)
            self.position += self.tokenizer.count(word)
        return self.items[done_before:]

    def deliver(self, item: Item) -> None:
        """Record context the runtime inserted: a MSG after `<recv>`, or a STOP at any point."""
        if item.kind not in (ItemKind.MSG, ItemKind.STOP):
            raise ValueError(f"deliver takes a msg or stop item, got {item.kind.value}")
        if self._buffer:
            self.feed_words([self._buffer])
            self._buffer = ""
        self.generated_only, saved = False, self.generated_only
        try:
            self.feed_words(item.to_words())
        finally:
            self.generated_only = saved

    def close(self) -> list[Item]:
        """Flush a buffered last word; return the items that completes."""
        words = [self._buffer] if self._buffer else []
        self._buffer = ""
        return self.feed_words(words)

    def thread(self) -> Thread:
        """Build the thread parsed so far; raise TraceError when the text stops inside markup."""
        if self.state in (State.START, State.PROMPT, State.GROUP):
            raise self._error("the text ends inside the prompt; close it with </prompt>")
        if self.state is State.OPEN:
            raise self._error(f"the text ends inside <{self._open.value}>; close it with "
                              f"{_CLOSERS[self._open]}")
        self._flush_text()
        return Thread(self.name, tuple(self.prompt), tuple(self.items), self.parent)

    # -- the state machine ------------------------------------------------------------------------

    def _flush_text(self) -> None:
        if self._text:
            self.items.append(Item(ItemKind.TEXT, words=tuple(self._text)))
            self._text = []

    def _word(self, word: str) -> None:
        state = self.state
        if state is State.ENDED:
            raise self._error(f"{word!r} comes after the thread ended", ErrorKind.AFTER_END)
        if state is State.START:
            if word != p.PROMPT:
                raise self._error(f"a thread's text starts with {p.PROMPT}, not {word!r}")
            self.state = State.PROMPT
            return
        if state is State.PROMPT or state is State.GROUP:
            self._prompt_word(word)
            return
        if state is State.OPEN:
            self._open_word(word)
            return
        if state is State.AFTER_RECV and word not in (p.MSG, p.STOP):
            raise self._error(f"{p.RECV} must be followed by the delivered {p.MSG} or {p.STOP}, "
                              f"not {word!r}")
        self._body_word(word)

    def _prompt_word(self, word: str) -> None:
        if word == p.PROMPT_END and self.state is State.PROMPT:
            self.state = State.BODY
            return
        if word == p.GROUP and self.state is State.PROMPT:
            self.state = State.GROUP
        elif word == p.GROUP_END and self.state is State.GROUP:
            if self.prompt[-1] == p.GROUP:
                raise self._error(f"{p.GROUP} needs a group name before {p.GROUP_END}")
            self.state = State.PROMPT
        elif word in p.PROTOCOL_SET:
            raise self._error(f"{word} is not allowed inside the prompt")
        self.prompt.append(word)

    def _body_word(self, word: str) -> None:
        if word not in p.PROTOCOL_SET:
            self._text.append(word)
            return

        self._flush_text()
        if word == p.RECV:
            self.items.append(Item(ItemKind.RECV))
            self.state = State.AFTER_RECV
        elif word == p.HALT:
            self.items.append(Item(ItemKind.HALT))
            self.state = State.ENDED
        elif word in _OPENERS:
            kind = _OPENERS[word]
            if kind is ItemKind.MSG and self.state is not State.AFTER_RECV:
                raise self._error(f"a delivered {p.MSG} must follow {p.RECV}")
            self._open, self._open_words = kind, []
            self.state = State.OPEN
        else:
            raise self._error(f"{word} is out of place here")

    def _open_word(self, word: str) -> None:
        kind = self._open
        if word == _CLOSERS[kind]:
            self._close_open()
            return
        if word == p.STOP and kind not in (ItemKind.MSG, ItemKind.STOP):
            # A preemption cut this item short: keep what was generated as a partial item.
            opener = next(token for token, value in _OPENERS.items() if value is kind)
            self.items.append(Item(ItemKind.PARTIAL, words=(opener, *self._open_words)))
            self._open, self._open_words = ItemKind.STOP, []
            return
        if word in p.PROTOCOL_SET:
            raise self._error(f"{word} is not allowed inside <{kind.value}>; close it with "
                              f"{_CLOSERS[kind]} first")
        self._open_words.append(word)

    def _close_open(self) -> None:
        kind, words = self._open, self._open_words
        if kind in _NEEDS_PEER:
            if not words:
                raise self._error(f"<{kind.value}> needs a thread or group name first")
            item = Item(kind, words[0], tuple(words[1:]))
        else:
            if kind is ItemKind.FORK and not words:
                raise self._error(f"{p.FORK} needs at least one child label")
            item = Item(kind, words=tuple(words))
        self.items.append(item)
        self._open, self._open_words = None, []
        self.state = State.ENDED if kind in (ItemKind.ANSWER, ItemKind.STOP) else State.BODY


def parse_thread(name: str, text: str, *, parent: str | None = None,
                 tokenizer: TraceTokenizer | None = None) -> Thread:
    """Parse one thread's stored text (prompt, generated items and deliveries)."""
    parser = ThreadParser(name, parent=parent, tokenizer=tokenizer)
    parser.feed_words(p.split_words(text))
    return parser.thread()


def thread_text(thread: Thread) -> str:
    """Canonical text of a thread: its words joined by single spaces."""
    return p.join_words(thread.words())


def context_words(trace: Trace, name: str) -> tuple[list[str], list[bool]]:
    """Return a thread's whole context as words, with a flag per word: True when generated.

    For a forked thread the context starts with its parent's context up to and including the
    `</fork>` that started it; those words are all flagged False. Prompts, deliveries and
    preemption notices are False too, so the flags are the word-level loss mask of the thread.
    """
    thread = trace.thread(name)
    words: list[str] = []
    flags: list[bool] = []
    if thread.parent is not None:
        label, _, fork_text = name.rpartition(p.FORK_SEPARATOR)
        fork_number = int(fork_text) if fork_text.isdigit() else 0
        parent_words, _ = context_words(trace, thread.parent)
        prefix = _through_fork(trace.thread(thread.parent), parent_words, fork_number)
        if prefix is None:
            raise TraceError(ErrorKind.UNKNOWN_THREAD, name, -1, f"{thread.parent} has no fork "
                             f"number {fork_text} that starts {label!r}")
        words += prefix
        flags += [False] * len(prefix)

    own = [p.PROMPT, *thread.prompt, p.PROMPT_END]
    words += own
    flags += [False] * len(own)
    for item in thread.items:
        item_words = item.to_words()
        words += item_words
        flags += [item.generated] * len(item_words)
    return words, flags


def _through_fork(parent: Thread, parent_context: list[str], fork_number: int) -> list[str] | None:
    """Cut the parent's context right after its `fork_number`-th `</fork>`."""
    forks = 0
    own_start = len(parent_context) - len(parent.words())
    for index in range(own_start, len(parent_context)):
        if parent_context[index] == p.FORK_END:
            forks += 1
            if forks == fork_number:
                return parent_context[:index + 1]
    return None


def render_document(trace: Trace) -> str:
    """Render a whole trace as a document (see the module docstring)."""
    lines = [f"{DOCUMENT_HEADER} {trace.task} {trace.format} {trace.decomposition}"]
    for thread in trace.threads:
        header = f"{THREAD_HEADER} {thread.name}"
        if thread.parent is not None:
            header += f" < {thread.parent}"
        lines += [header, thread_text(thread)]
    return "\n".join(lines) + "\n"


def parse_document(text: str, *, tokenizer: TraceTokenizer | None = None) -> Trace:
    """Parse a trace document; raises TraceError for bad markup and ValueError for bad headers."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith(DOCUMENT_HEADER + " "):
        raise ValueError(f"a trace document starts with '{DOCUMENT_HEADER} TASK FORMAT "
                         f"DECOMPOSITION', got {lines[0][:60]!r}" if lines else "empty trace document")
    fields = lines[0].split()
    if len(fields) != 4:
        raise ValueError(f"line 1 must be '{DOCUMENT_HEADER} TASK FORMAT DECOMPOSITION', got {lines[0]!r}")
    if len(lines) % 2 != 1:
        raise ValueError("invalid trace document: expected a header line and then two lines per "
                         "thread, but the line count is even")

    threads = []
    for number in range(1, len(lines), 2):
        header = lines[number].split()
        valid = (len(header) in (2, 4) and header[0] == THREAD_HEADER
                 and (len(header) == 2 or header[2] == "<"))
        if not valid:
            raise ValueError(f"line {number + 1} must be '{THREAD_HEADER} NAME' or "
                             f"'{THREAD_HEADER} NAME < PARENT', got {lines[number]!r}")
        parent = header[3] if len(header) == 4 else None
        threads.append(parse_thread(header[1], lines[number + 1], parent=parent, tokenizer=tokenizer))
    return Trace(fields[1], fields[2], fields[3], tuple(threads))
