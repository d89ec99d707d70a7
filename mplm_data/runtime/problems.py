"""What the runtime needs to start one problem: its root threads' prompts and its fork prompts.

A `Problem` holds the prompt words of every root thread, the same prompts the trace renderer
wrote, and the prompt that a fork child with a given label starts with (`box b3` for the Sudoku
fork-join workers). Nothing else of a generated trace reaches the model: every later token of
a thread comes from the model or from messages the runtime delivers.
"""

from __future__ import annotations

from dataclasses import dataclass

from mplm_data.traces import protocol as p
from mplm_data.traces.model import Trace


@dataclass(frozen=True)
class Problem:
    """The starting point of one run.

    `roots` lists (thread name, prompt words) in trace order; `child_prompts` lists
    (fork label, prompt words) for the labels a fork may start. `task`, `format` and
    `decomposition` are copied into the output trace. `key` is any caller id (for example the
    puzzle index); the runtime only passes it through.
    """

    task: str
    format: str
    decomposition: str
    roots: tuple[tuple[str, tuple[str, ...]], ...]
    child_prompts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    key: object = None

    def __post_init__(self) -> None:
        if not self.roots:
            raise ValueError("Problem.roots is empty; a problem needs at least one root thread")
        names = [name for name, _ in self.roots]
        if len(set(names)) != len(names):
            raise ValueError(f"Problem.roots has duplicate thread names: {sorted(names)[:5]}...")
        bad = [name for name in names if not p.is_name(name)]
        if bad:
            raise ValueError(f"Problem.roots has the invalid thread name {bad[0]!r}; a name is one "
                             f"word without protocol tokens or '<'")

    def child_prompt(self, label: str) -> tuple[str, ...] | None:
        """Prompt words of a fork child with this label, or None when the label is unknown."""
        for known, prompt in self.child_prompts:
            if known == label:
                return prompt
        return None


def child_label(name: str) -> str:
    """Fork label of a child thread name: `b3@2` gives `b3`."""
    return name.rpartition(p.FORK_SEPARATOR)[0] or name


def problem_from_trace(trace: Trace, key: object = None) -> Problem:
    """The problem a generated trace solves: its root prompts and the prompts of its fork children.

    Raises ValueError when two children with the same label have different prompts, because the
    runtime gives every child of a label the same prompt.
    """
    roots = tuple((thread.name, thread.prompt) for thread in trace.threads if thread.parent is None)
    children: dict[str, tuple[str, ...]] = {}
    for thread in trace.threads:
        if thread.parent is None:
            continue
        label = child_label(thread.name)
        known = children.setdefault(label, thread.prompt)
        if known != thread.prompt:
            raise ValueError(f"fork children with label {label!r} have different prompts "
                             f"({' '.join(known)!r} and {' '.join(thread.prompt)!r}); the runtime "
                             f"needs one prompt per label")
    return Problem(trace.task, trace.format, trace.decomposition, roots,
                   tuple(children.items()), key)
