"""What a runtime run returns, and the verdict of the trace validator on it.

A `RunResult` holds the trace the model wrote (in the same form as generated traces), the costs
the runtime counted while decoding, the number of decoding steps, how the run ended
(`RunStatus`) and the threads it had to stop (`ThreadFault`: thread, token position, kind,
reason). `judge` replays the trace through `mplm_data.traces.validate` and, when given, the
task's answer check, and returns a `Verdict`.

Terms: a thread is *protocol-valid* when the runtime did not stop it and the validator names no
error in it; a run is protocol-valid when it completed without faults and the validator accepts
its trace; a run *solves* its problem when it is protocol-valid and the answer check passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable

from mplm_data.traces.model import ErrorKind, Trace, TraceError
from mplm_data.traces.schedule import Costs
from mplm_data.traces.tokenizer import TraceTokenizer
from mplm_data.traces.validate import validate

from .problems import Problem


class RunStatus(str, Enum):
    """How a run ended."""

    COMPLETE = "complete"      # every thread ended (halt, answer, preemption or a fault)
    DEADLOCK = "deadlock"      # every live thread waited in <recv> with no message in flight
    STEP_LIMIT = "step_limit"  # the run reached RuntimeConfig.max_steps


class FaultKind(str, Enum):
    """Why the runtime stopped a thread; values shared with `ErrorKind` mean the same."""

    MALFORMED = ErrorKind.MALFORMED.value            # markup out of place, or a special token
    UNKNOWN_THREAD = ErrorKind.UNKNOWN_THREAD.value  # a destination or fork label that does not exist
    NO_END = ErrorKind.NO_END.value                  # <eos> before <halt>, <answer> or a preemption
    DEADLOCK = ErrorKind.DEADLOCK.value              # waiting in <recv> when the run deadlocked
    TOKEN_LIMIT = "token_limit"                      # RuntimeConfig.max_new_tokens or max_context_tokens
    STEP_LIMIT = "step_limit"                        # still running when the run hit max_steps


@dataclass(frozen=True)
class ThreadFault:
    """A thread the runtime stopped: its name, the 0-based token position in its sequence
    (prompt included, as in `TraceError`), the kind and a one-sentence reason."""

    thread: str
    position: int
    kind: FaultKind
    reason: str

    def __str__(self) -> str:
        return f"thread {self.thread}, token {self.position}: {self.kind.value}: {self.reason}"


@dataclass(frozen=True)
class RunResult:
    """One problem's run.

    `costs` are counted by the runtime under the lockstep timing model, so for a faithful model
    they equal the costs of the generated trace. `decode_steps` counts the steps in which this
    problem had at least one thread in a model forward pass; `steps` is the last step the run
    reached. `thread_tokens` holds (context tokens, generated tokens) per thread, in trace order.
    """

    index: int
    problem: Problem
    trace: Trace
    costs: Costs
    steps: int
    decode_steps: int
    status: RunStatus
    faults: tuple[ThreadFault, ...]
    waiting: tuple[str, ...]
    thread_tokens: tuple[tuple[int, int], ...]

    @property
    def clean(self) -> bool:
        """Whether the run completed without stopping any thread."""
        return self.status is RunStatus.COMPLETE and not self.faults


@dataclass(frozen=True)
class Verdict:
    """The validator's judgment of a run.

    `error` is the first problem found: a runtime fault or a `TraceError` from the validator
    (structure first, then the answer check). `valid_threads` counts threads neither stopped by
    the runtime nor named by a structural error.
    """

    valid: bool
    solved: bool
    error: str | None
    threads: int
    valid_threads: int


def judge(result: RunResult, tokenizer: TraceTokenizer,
          answer_check: Callable[[Trace], None] | None = None) -> Verdict:
    """Judge a run: runtime faults, then `validate` on its trace, then the answer check."""
    bad_threads = {fault.thread for fault in result.faults} | set(result.waiting)
    error: str | None = str(result.faults[0]) if result.faults else None
    if error is None and result.status is not RunStatus.COMPLETE:
        error = f"run ended by {result.status.value}"

    structural = error is None
    if structural:
        try:
            validate(result.trace, tokenizer=tokenizer)
        except TraceError as err:
            error, structural = str(err), False
            bad_threads.add(err.thread)

    solved = False
    if structural and answer_check is not None:
        try:
            answer_check(result.trace)
            solved = True
        except TraceError as err:
            error = str(err)

    threads = len(result.trace.threads)
    valid_threads = sum(1 for thread in result.trace.threads if thread.name not in bad_threads)
    return Verdict(structural, solved, error, threads, valid_threads)
