"""A slow, independent QA answer oracle that reads the document text only.

It shares no code with `mplm_data.generators.qa` or the trace renderers: it finds the facts by
pattern in the document words (`xN = TARGET .` and `CATEGORY xN = AMOUNT .`), then answers the
question by plain fixed-point iteration.
"""

from __future__ import annotations

import re

NAME = re.compile(r"^x[0-9]+$")
NUMBER = re.compile(r"^[0-9]+$")


def document_facts(words: list[str]) -> tuple[list[tuple[str, str]], list[tuple[str, str, int]]]:
    """Links `(name, target)` and category facts `(category, name, amount)` found in the words.

    A category fact also matches the link pattern, and a link after a filler word matches the
    category pattern. So callers use links for track and lookup, and category facts for count
    and sum, because each document contains only one of the two kinds.
    """
    links, amounts = [], []
    for start in range(len(words)):
        window = words[start:start + 5]
        if len(window) >= 4 and NAME.match(window[0]) and window[1] == "=" and window[3] == "." \
                and (NAME.match(window[2]) or NUMBER.match(window[2])):
            links.append((window[0], window[2]))
        if len(window) == 5 and NAME.match(window[1]) and window[2] == "=" \
                and NUMBER.match(window[3]) and window[4] == ".":
            amounts.append((window[0], window[1], int(window[3])))
    return links, amounts


def oracle_answer(question: list[str], words: list[str]) -> list[str]:
    """The answer to `question` over the document `words`."""
    links, amounts = document_facts(words)
    operation = question[1]

    if operation == "which":
        value = question[5]
        holders = {value}
        changed = True
        while changed:
            changed = False
            for name, target in links:
                if target in holders and name not in holders:
                    holders.add(name)
                    changed = True
        return sorted(holders - {value})

    if operation == "value":
        current = question[3]
        targets = dict(links)
        seen = set()
        while not NUMBER.match(current):
            if current in seen or current not in targets:
                return []
            seen.add(current)
            current = targets[current]
        return [current]

    category = question[2]
    chosen = [amount for head, _, amount in amounts if head == category]
    return [str(len(chosen) if operation == "count" else sum(chosen))]
