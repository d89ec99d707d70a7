"""Test models with the runtime's sequence interface: replay, scripted, program-driven, forced.

All of them implement `open(parent=None) -> sequence`, `feed(sequences, chunks) -> logits` and
`close(sequence)` like `HFSequenceModel`, and choose each next token only from the sequence's
context (the tokens fed so far), never from thread names the runtime holds:

- `ReplayModel` stores the token sequences of generated traces in a trie and emits the token
  that followed the same context there. Replaying a generated trace through the runtime must
  reproduce it exactly, so this checks routing, delivery order, fork prefixes and costs. A
  context that no stored thread has (the run diverged) gets `<eos>`.
- `ScriptedModel` emits `script(context_ids)`, for hand-built behaviours (a model that never
  sends, one that writes broken markup).
- `ProgramModel` drives each thread with a thread program of `mplm_data.traces.schedule`, chosen
  by its prompt, and hands it each message as the runtime delivered it. The trace it produces
  follows the runtime's own delivery order, not a recorded one.
- `TeacherForcedModel` runs a real model on every feed but emits another model's tokens, for
  speed and memory measurements on known traces with an untrained model.

Logits are one-hot float32 rows over `vocab_size`.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable

import torch

from mplm_data.traces import protocol as p
from mplm_data.traces.model import Trace
from mplm_data.traces.schedule import Delivery, Program, Recv, action_item
from mplm_data.traces.tokenizer import TraceTokenizer

from .sft import thread_sequences

logger = logging.getLogger(__name__)

_DIVERGED = -1


def _one_hot(token_ids: list[int], vocab_size: int) -> torch.Tensor:
    logits = torch.zeros(len(token_ids), vocab_size, dtype=torch.float32)
    logits[torch.arange(len(token_ids)), torch.tensor(token_ids, dtype=torch.long)] = 1.0
    return logits


class ReplayModel:
    """Emit the tokens of stored generated traces, looked up by context in a trie.

    `conflicts` counts contexts where two stored threads generated different next tokens; the
    first one stored wins.
    """

    def __init__(self, traces: Iterable[Trace], tokenizer: TraceTokenizer):
        self.vocab_size = tokenizer.tokenizer.get_vocab_size(with_added_tokens=True)
        self.eos_id = tokenizer.tokenizer.token_to_id(p.EOS)
        self._children: list[dict[int, int]] = [{}]
        self._expected: list[int] = [_DIVERGED]
        self.conflicts = 0
        for trace in traces:
            for ids, generated in thread_sequences(trace, tokenizer).values():
                self._insert(ids, generated)
        self._nodes: dict[int, int] = {}
        self._next_sequence = 0

    def _insert(self, ids: list[int], generated: list[bool]) -> None:
        node = 0
        for token, is_generated in zip(ids, generated):
            if is_generated:
                if self._expected[node] == _DIVERGED:
                    self._expected[node] = token
                elif self._expected[node] != token:
                    self.conflicts += 1
            child = self._children[node].get(token)
            if child is None:
                child = len(self._children)
                self._children[node][token] = child
                self._children.append({})
                self._expected.append(_DIVERGED)
            node = child

    def open(self, parent: int | None = None) -> int:
        """Start a sequence at the empty context, or at `parent`'s context."""
        sequence = self._next_sequence
        self._next_sequence += 1
        self._nodes[sequence] = 0 if parent is None else self._nodes[parent]
        return sequence

    def close(self, sequence: int) -> None:
        """Forget a sequence."""
        del self._nodes[sequence]

    def feed(self, sequences: list[int], chunks: list[list[int]]) -> torch.Tensor:
        """Advance each sequence through its chunk; return one-hot logits of the stored next token."""
        chosen = []
        for sequence, chunk in zip(sequences, chunks):
            node = self._nodes[sequence]
            for token in chunk:
                node = _DIVERGED if node == _DIVERGED else self._children[node].get(token, _DIVERGED)
            self._nodes[sequence] = node
            expected = self._expected[node] if node != _DIVERGED else _DIVERGED
            chosen.append(self.eos_id if expected == _DIVERGED else expected)
        return _one_hot(chosen, self.vocab_size)


class ScriptedModel:
    """Emit `script(context_ids)` for every sequence, where `context_ids` is all it was fed."""

    def __init__(self, script: Callable[[list[int]], int], vocab_size: int):
        self.script = script
        self.vocab_size = vocab_size
        self._contexts: dict[int, list[int]] = {}
        self._next_sequence = 0

    def open(self, parent: int | None = None) -> int:
        """Start a sequence, empty or with a copy of `parent`'s context."""
        sequence = self._next_sequence
        self._next_sequence += 1
        self._contexts[sequence] = [] if parent is None else list(self._contexts[parent])
        return sequence

    def close(self, sequence: int) -> None:
        """Forget a sequence."""
        del self._contexts[sequence]

    def feed(self, sequences: list[int], chunks: list[list[int]]) -> torch.Tensor:
        """Append each chunk; return one-hot logits of the script's next token."""
        chosen = []
        for sequence, chunk in zip(sequences, chunks):
            context = self._contexts[sequence]
            context.extend(chunk)
            chosen.append(self.script(context))
        return _one_hot(chosen, self.vocab_size)


class _ProgramState:
    def __init__(self) -> None:
        self.program: Program | None = None
        self.queue: list[int] = []
        self.waiting = False


class ProgramModel:
    """Drive each thread with `program_for(prompt_words)` (a `schedule.Program`).

    The first chunk of a sequence must hold its prompt (`<prompt> ... </prompt>`, possibly after
    a forked `</fork>`); a chunk that starts with `<msg>` is a delivery, which the program
    receives as a `Delivery`; a one-token chunk is the token the sequence just emitted.
    """

    def __init__(self, program_for: Callable[[tuple[str, ...]], Program], tokenizer: TraceTokenizer):
        self.program_for = program_for
        self.tokenizer = tokenizer
        self.vocab_size = tokenizer.tokenizer.get_vocab_size(with_added_tokens=True)
        self.eos_id = tokenizer.tokenizer.token_to_id(p.EOS)
        self._states: dict[int, _ProgramState] = {}
        self._next_sequence = 0

    def open(self, parent: int | None = None) -> int:
        """Start a sequence; its program is chosen when its prompt arrives."""
        sequence = self._next_sequence
        self._next_sequence += 1
        self._states[sequence] = _ProgramState()
        return sequence

    def close(self, sequence: int) -> None:
        """Forget a sequence."""
        del self._states[sequence]

    def _words(self, chunk: list[int]) -> list[str]:
        text = self.tokenizer.tokenizer.decode(chunk, skip_special_tokens=False)
        return p.split_words(text)

    def _advance(self, state: _ProgramState, delivery: Delivery | None) -> None:
        while not state.queue:
            action = state.program.resume(delivery)
            delivery = None
            item = action_item(action)
            if item is None:
                raise ValueError(f"program action {action!r} writes no tokens; ProgramModel "
                                 f"drives only programs that emit, send, receive, fork or end")
            state.queue = self.tokenizer.encode_words(item.to_words())
            state.waiting = isinstance(action, Recv)

    def _next(self, state: _ProgramState, chunk: list[int]) -> int:
        words = self._words(chunk)
        if state.program is None:
            start, end = words.index(p.PROMPT), words.index(p.PROMPT_END)
            state.program = self.program_for(tuple(words[start + 1:end]))
            self._advance(state, None)
        elif words and words[0] == p.MSG:
            state.waiting = False
            self._advance(state, Delivery(words[1], tuple(words[2:-1])))
        elif not state.queue:
            if state.waiting:
                return self.eos_id
            self._advance(state, None)
        return state.queue.pop(0)

    def feed(self, sequences: list[int], chunks: list[list[int]]) -> torch.Tensor:
        """Hand each chunk to its program; return one-hot logits of the program's next token."""
        chosen = [self._next(self._states[sequence], chunk) for sequence, chunk in zip(sequences, chunks)]
        return _one_hot(chosen, self.vocab_size)


class TeacherForcedModel:
    """Run `model` on every feed (its KV cache and compute are real) but emit `teacher`'s tokens.

    Both models see the same sequences, so a teacher that replays generated traces makes a real
    model decode exactly those traces: the runtime's speed and memory can be measured on real
    work with an untrained model.
    """

    def __init__(self, model: object, teacher: object):
        self.model = model
        self.teacher = teacher
        self.vocab_size = teacher.vocab_size
        self._pairs: dict[int, tuple[int, int]] = {}
        self._next_sequence = 0

    def open(self, parent: int | None = None) -> int:
        """Open the sequence in both models."""
        model_parent, teacher_parent = self._pairs[parent] if parent is not None else (None, None)
        sequence = self._next_sequence
        self._next_sequence += 1
        self._pairs[sequence] = (self.model.open(model_parent), self.teacher.open(teacher_parent))
        return sequence

    def reserve(self, sequences: int) -> None:
        """Pass the reservation on to the model, when it takes one."""
        if hasattr(self.model, "reserve"):
            self.model.reserve(sequences)

    def close(self, sequence: int) -> None:
        """Close the sequence in both models."""
        model_sequence, teacher_sequence = self._pairs.pop(sequence)
        self.model.close(model_sequence)
        self.teacher.close(teacher_sequence)

    def feed(self, sequences: list[int], chunks: list[list[int]]) -> torch.Tensor:
        """Feed both models; return the teacher's logits."""
        self.model.feed([self._pairs[sequence][0] for sequence in sequences], chunks)
        return self.teacher.feed([self._pairs[sequence][1] for sequence in sequences], chunks)
