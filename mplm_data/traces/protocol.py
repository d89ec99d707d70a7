"""Protocol tokens of the trace markup and the split of a thread's text into words.

A thread's text is a sequence of *words* separated by single spaces. A word is either a protocol
token (such as `<send>`) or a run of other non-space characters (`r1c2`, `3`, `drop`). Protocol
tokens are recognised even with no space around them, so `x<recv>y` is the three words `x`,
`<recv>`, `y`; the canonical rendering always puts spaces around them.

Markup (docs/protocol.md has the full grammar and a worked example):

- `<prompt> ... </prompt>`: the thread's prompt, context that it did not generate. It may declare
  groups: `<group> NAME MEMBER ... </group>`.
- `<send> DEST BODY </send>`: send BODY to the thread or group DEST (generated).
- `<recv>`: block until a message is available (generated). The runtime then inserts the
  delivered message `<msg> SENDER BODY </msg>` (context).
- `<preempt> DEST BODY </preempt>`: stop the thread or group DEST (generated). Each stopped
  thread gets `<stop> SENDER BODY </stop>` (context) and ends.
- `<fork> LABEL ... </fork>`: start one child thread per label (generated).
- `<halt>` or `<answer> WORDS </answer>`: end the thread (generated).
"""

from __future__ import annotations

import re

PROMPT = "<prompt>"
PROMPT_END = "</prompt>"
GROUP = "<group>"
GROUP_END = "</group>"
SEND = "<send>"
SEND_END = "</send>"
RECV = "<recv>"
MSG = "<msg>"
MSG_END = "</msg>"
PREEMPT = "<preempt>"
PREEMPT_END = "</preempt>"
STOP = "<stop>"
STOP_END = "</stop>"
FORK = "<fork>"
FORK_END = "</fork>"
HALT = "<halt>"
ANSWER = "<answer>"
ANSWER_END = "</answer>"

PROTOCOL_TOKENS: tuple[str, ...] = (
    PROMPT, PROMPT_END, GROUP, GROUP_END, SEND, SEND_END, RECV, MSG, MSG_END,
    PREEMPT, PREEMPT_END, STOP, STOP_END, FORK, FORK_END, HALT, ANSWER, ANSWER_END,
)
PROTOCOL_SET = frozenset(PROTOCOL_TOKENS)

# Tokens that only the runtime writes into a thread's context; a thread never generates them.
CONTEXT_TOKENS = frozenset({PROMPT, PROMPT_END, GROUP, GROUP_END, MSG, MSG_END, STOP, STOP_END})

# Tokenizer special tokens that are not markup.
PAD = "<pad>"
EOS = "<eos>"
UNK = "<unk>"

# Destinations that need no declaration: every other thread, and the thread that forked this one.
GROUP_ALL = "all"
GROUP_PARENT = "parent"
BUILTIN_GROUPS = frozenset({GROUP_ALL, GROUP_PARENT})

# Children of a fork are named LABEL@K, where K counts the forks of their parent from 1.
FORK_SEPARATOR = "@"

_PROTOCOL_RE = re.compile("(" + "|".join(re.escape(token) for token in PROTOCOL_TOKENS) + ")")


def split_words(text: str) -> list[str]:
    """Split text into words: protocol tokens wherever they occur, then runs of non-space characters.

    `x<recv>y` gives `x`, `<recv>`, `y`; a `<` that starts no protocol token stays inside its
    word (`a<b` is one word).
    """
    words: list[str] = []
    for index, part in enumerate(_PROTOCOL_RE.split(text)):
        if index % 2:
            words.append(part)
        else:
            words.extend(part.split())
    return words


def join_words(words: list[str] | tuple[str, ...]) -> str:
    """Render words as canonical text: single spaces between words."""
    return " ".join(words)


def fork_child_name(label: str, fork_index: int) -> str:
    """Name of the child that fork number `fork_index` (from 1) starts for `label`."""
    return f"{label}{FORK_SEPARATOR}{fork_index}"


def is_name(word: str) -> bool:
    """Whether `word` can name a thread or group: no protocol token, no space, no `<`."""
    return bool(word) and word not in PROTOCOL_SET and "<" not in word and not any(c.isspace() for c in word)
