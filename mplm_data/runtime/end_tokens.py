"""End-of-turn tokens of a pretrained model, as ids of the trace tokenizer the runtime decodes with.

A pretrained model ends its turn with its own token (`</s>`, `<|im_end|>`, `<|eot_id|>` ...),
not with the project's `<eos>`. `model_end_tokens(model, chat_tokenizer)` collects those tokens
from the transformers tokenizer's `eos_token`, the generation config's `eos_token_id` and the
chat template (`chat_turn_end`). `end_token_ids(names, tokenizer)` maps them to ids of the trace
tokenizer, for `RuntimeConfig.end_token_ids`. The model is only read, so this module does not
import torch; `chat_turn_end` imports jinja2, which transformers renders chat templates with.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from mplm_data.traces import protocol as p
from mplm_data.traces.tokenizer import TraceTokenizer

logger = logging.getLogger(__name__)

# Assistant reply that `chat_turn_end` renders to find the text the chat template puts after it.
_REPLY_MARKER = "mplmreply"


def _special_tokens(chat_tokenizer: Any) -> set[str]:
    """Names of the special tokens of a transformers tokenizer, added ones included."""
    names = set(chat_tokenizer.all_special_tokens)
    names.update(token.content for token in chat_tokenizer.added_tokens_decoder.values()
                 if token.special)
    return names


def chat_turn_end(chat_tokenizer: Any) -> str | None:
    """Return the token that the chat template writes after an assistant reply, if it is special.

    Renders a user turn and an assistant turn and reads what follows the reply, leading white
    space skipped. Returns None without a template, when the template fails to render, or when
    that text does not start with one special token of the tokenizer.
    """
    from jinja2.exceptions import TemplateError

    if chat_tokenizer is None or not getattr(chat_tokenizer, "chat_template", None):
        return None
    messages = [{"role": "user", "content": "question"},
                {"role": "assistant", "content": _REPLY_MARKER}]
    try:
        text = chat_tokenizer.apply_chat_template(messages, tokenize=False)
    except (TemplateError, TypeError, ValueError) as err:
        logger.info("the chat template failed to render an assistant turn, so no end-of-turn "
                    "token is taken from it: %s", err)
        return None

    _, found, after = text.rpartition(_REPLY_MARKER)
    after = after.lstrip()
    if not found or not after:
        return None
    first_id = chat_tokenizer.encode(after, add_special_tokens=False)[:1]
    first = chat_tokenizer.convert_ids_to_tokens(first_id)
    if first and first[0] in _special_tokens(chat_tokenizer) and after.startswith(first[0]):
        return first[0]
    return None


def model_end_tokens(model: Any, chat_tokenizer: Any) -> list[str]:
    """List the tokens that end a turn of a pretrained model, without repeats.

    They are the transformers tokenizer's `eos_token`, the tokens of the generation config's
    `eos_token_id` (an int or a list of ids in the model's vocabulary), and `chat_turn_end`.
    """
    names: list[str] = []
    if getattr(chat_tokenizer, "eos_token", None):
        names.append(chat_tokenizer.eos_token)

    eos_ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if eos_ids is not None:
        ids = [eos_ids] if isinstance(eos_ids, int) else list(eos_ids)
        names += [name for name in chat_tokenizer.convert_ids_to_tokens(ids) if name is not None]

    turn_end = chat_turn_end(chat_tokenizer)
    if turn_end is not None:
        names.append(turn_end)
    return list(dict.fromkeys(names))


def end_token_ids(names: Sequence[str], tokenizer: TraceTokenizer) -> tuple[int, ...]:
    """Map end-token names to ids of the trace tokenizer, which the runtime decodes with.

    The trace tokenizer is the model's `tokenizer.json` with the protocol tokens appended, so the
    tokens of that file keep the ids the model and the transformers tokenizer give them. A token
    that transformers adds from another file is missing there, and a protocol token has to stay
    markup, so both are skipped with a warning.
    """
    ids: list[int] = []
    for name in names:
        token_id = tokenizer.tokenizer.token_to_id(name)
        if token_id is None or name in p.PROTOCOL_SET:
            logger.warning("end token %r is %s of tokenizer %s, so threads do not end on it", name,
                           "a protocol token" if token_id is not None else "not a token",
                           tokenizer.ident)
            continue
        ids.append(token_id)
    return tuple(ids)
