"""The project tokenizer and the token counts that every trace cost is measured in.

The project tokenizer is built in code from a fixed vocabulary, so nothing is downloaded. It is a
`tokenizers` WordPiece model over whitespace-separated words:

- protocol tokens (`<send>`, `<recv>`, ...) and `<pad>`, `<eos>`, `<unk>` are special tokens, one
  token each wherever they occur;
- whole words: numbers 0-36, row, column and box names `r1`-`r36`, `c1`-`c36`, `b1`-`b36`, the
  technique labels and the other words of Sudoku traces (`WORDS`), then the words of QA traces
  (`qa_words.QA_VOCABULARY`) and of 3-SAT traces (`sat_words.SAT_VOCABULARY`);
- continuation pieces `##c1`-`##c36`, `##0`-`##36`, `##@`, `##&` and `##&-`, so that a cell name
  `r12c7` is the two tokens `r12 ##c7`, a fork child `b3@2` is `b3 ##@ ##2` and a cube name
  `15&-5` is `15 ##&- ##5`. A literal on its own needs none of them: `-17` is `- ##17`.

Each piece is one token, and a word that the pieces cannot spell is one `<unk>`. Cube names use
`##&-` rather than a separate `##-` so that hyphenated words of document text such as `1-0` stay
one `<unk>` token each, as they were before the SAT pieces existed. New pieces go at the end of
the vocabulary, so the ids of older pieces do not change.

Decoding joins continuation pieces without a space, so decoding the tokens of canonical trace
text (single spaces between words) gives the same text back.

Counting rule: a thread's token sequence is the concatenation of the encodings of its words. For
the project tokenizer a word is encoded alone, which equals encoding the whole text because the
pre-tokenizer splits at spaces. A tokenizer loaded from a Hugging Face directory gets the
protocol tokens added as special tokens (as a fine-tuning setup adds them), and every other word
is encoded with its leading space, which matches whole-text encoding for tokenizers whose
pre-tokenizer splits at spaces (byte-level BPE, SentencePiece with a metaspace).
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

from mplm_data.generators.errors import InputError
from .protocol import EOS, PAD, PROTOCOL_SET, PROTOCOL_TOKENS, UNK
from .qa_words import QA_VOCABULARY
from .sat_words import SAT_VOCABULARY

logger = logging.getLogger(__name__)

PROJECT_TOKENIZER = "mplm-v1"
MAX_NUMBER = 36

# Every word the Sudoku renderers write outside cell, unit and thread names and numbers.
WORDS: tuple[str, ...] = (
    "=", ";", "|", ".", ":", "-", "x", "@", "h",
    "sudoku", "n", "box", "grid", "cell", "given", "empty", "digits", "peers", "cells",
    "unit", "hyp", "refute", "nested", "all", "parent", "hypothesis", "solved", "refuted",
    "drop", "none", "left", "set", "not", "from", "contradiction",
    "naked_single", "hidden_single", "locked_candidates", "naked_pair", "hidden_pair",
    "guess", "refutation",
)

SPECIAL_TOKENS: tuple[str, ...] = (PAD, EOS, UNK) + PROTOCOL_TOKENS


def _project_vocabulary() -> dict[str, int]:
    pieces: list[str] = list(SPECIAL_TOKENS)
    pieces += [str(number) for number in range(MAX_NUMBER + 1)]
    for prefix in ("r", "c", "b"):
        pieces += [f"{prefix}{index}" for index in range(1, MAX_NUMBER + 1)]
    pieces += list(WORDS)
    pieces += [f"##c{index}" for index in range(1, MAX_NUMBER + 1)]
    pieces += [f"##{number}" for number in range(MAX_NUMBER + 1)]
    pieces.append("##@")
    pieces += list(QA_VOCABULARY) + list(SAT_VOCABULARY)
    pieces += ["##&", "##&-"]
    return {piece: index for index, piece in enumerate(dict.fromkeys(pieces))}


def build_project_tokenizer() -> Tokenizer:
    """Build the project tokenizer from its fixed vocabulary."""
    tokenizer = Tokenizer(models.WordPiece(_project_vocabulary(), unk_token=UNK,
                                           max_input_chars_per_word=64))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    tokenizer.add_special_tokens([AddedToken(token, normalized=False) for token in SPECIAL_TOKENS])
    return tokenizer


class TraceTokenizer:
    """A `tokenizers.Tokenizer` with the per-word counts that trace costs are measured in.

    `name` is the project tokenizer's name or the folder a tokenizer was loaded from; `digest`
    is the first 16 hex digits of the SHA-256 of its `tokenizer.json` text (after the protocol
    tokens are added). `ident` = `name@digest` is what outputs record.
    """

    def __init__(self, tokenizer: Tokenizer, name: str, *, project: bool):
        self.tokenizer = tokenizer
        self.name = name
        self.project = project
        self.digest = hashlib.sha256(tokenizer.to_str().encode()).hexdigest()[:16]
        self._counts: dict[str, int] = {}
        self._special_ids = {token: tokenizer.token_to_id(token) for token in PROTOCOL_TOKENS}

    @property
    def ident(self) -> str:
        """Identifier recorded with every output: `name@digest`."""
        return f"{self.name}@{self.digest}"

    def _encode_word(self, word: str) -> Any:
        if self.project:
            return self.tokenizer.encode(word, add_special_tokens=False)
        return self.tokenizer.encode(" " + word, add_special_tokens=False)

    def count(self, word: str) -> int:
        """Number of tokens of one word under the counting rule (1 for a protocol token)."""
        cached = self._counts.get(word)
        if cached is not None:
            return cached
        value = 1 if word in PROTOCOL_SET else len(self._encode_word(word).ids)
        self._counts[word] = value
        return value

    def count_words(self, words: list[str] | tuple[str, ...]) -> int:
        """Number of tokens of a word sequence."""
        count = self.count
        return sum(count(word) for word in words)

    def word_ids(self, word: str) -> list[int]:
        """Token ids of one word under the counting rule."""
        if word in PROTOCOL_SET:
            return [self._special_ids[word]]
        return list(self._encode_word(word).ids)

    def encode_words(self, words: list[str] | tuple[str, ...]) -> list[int]:
        """Token ids of a word sequence: the concatenation of its words' ids."""
        ids: list[int] = []
        for word in words:
            ids.extend(self.word_ids(word))
        return ids

    def encode_with_mask(self, words: list[str] | tuple[str, ...],
                         flags: list[bool] | tuple[bool, ...]) -> tuple[list[int], list[bool]]:
        """Token ids of a word sequence and, per token, the flag of the word it comes from.

        With the flags of `text.context_words`, the second list is the loss mask of a thread:
        True for generated tokens, False for prompts, deliveries and forked prefixes.
        """
        if len(words) != len(flags):
            raise ValueError(f"got {len(words)} words but {len(flags)} flags; pass one flag per word")
        ids: list[int] = []
        mask: list[bool] = []
        for word, flag in zip(words, flags):
            word_ids = self.word_ids(word)
            ids.extend(word_ids)
            mask.extend([flag] * len(word_ids))
        return ids, mask

    def word_prefix(self, word: str, tokens: int) -> str:
        """Text of the first `tokens` tokens of `word` (used when a preemption cuts a word)."""
        if tokens <= 0:
            return ""
        if word in PROTOCOL_SET or tokens >= self.count(word):
            return word
        encoding = self._encode_word(word)
        end = encoding.offsets[tokens - 1][1]
        return word[:end] if self.project else (" " + word)[:end].lstrip()

    def unknown_words(self, words: list[str] | tuple[str, ...]) -> list[str]:
        """Words that encode to the unknown token, in order of first appearance."""
        unk = self.tokenizer.token_to_id(UNK)
        if unk is None:
            return []
        return [word for word in dict.fromkeys(words)
                if word not in PROTOCOL_SET and unk in self.word_ids(word)]


@lru_cache(maxsize=1)
def project_tokenizer() -> TraceTokenizer:
    """Build the project tokenizer once per process and return it."""
    return TraceTokenizer(build_project_tokenizer(), PROJECT_TOKENIZER, project=True)


def load_tokenizer(spec: str | Path | None = None) -> TraceTokenizer:
    """Load the tokenizer that costs are counted in.

    `spec` is None or `mplm-v1` for the project tokenizer, or a local Hugging Face tokenizer: a
    folder that holds `tokenizer.json`, or the file itself. Raises InputError when it is missing.
    """
    if spec is None or str(spec) == PROJECT_TOKENIZER:
        return project_tokenizer()

    path = Path(spec)
    file = path / "tokenizer.json" if path.is_dir() else path
    if not file.is_file():
        raise InputError(f"no tokenizer.json found at {path}; pass a folder saved by a Hugging Face "
                         f"tokenizer, or {PROJECT_TOKENIZER!r} for the project tokenizer")
    try:
        tokenizer = Tokenizer.from_file(str(file))
    except Exception as err:  # the Rust loader raises a bare Exception on malformed JSON
        raise InputError(f"cannot load tokenizer {file}: {err}; check that it is a tokenizers "
                         f"JSON file") from err

    added = tokenizer.add_special_tokens([AddedToken(token, normalized=False)
                                          for token in PROTOCOL_TOKENS])
    if added:
        logger.info("added %d protocol tokens to tokenizer %s", added, file)
    name = (path if path.is_dir() else path.parent).name or str(path)
    return TraceTokenizer(tokenizer, name, project=False)


@lru_cache(maxsize=8)
def cached_tokenizer(spec: str | None = None) -> TraceTokenizer:
    """Load a tokenizer with `load_tokenizer` once per process and `spec`.

    Shard tasks call it for every shard. A tokenizer file changed after the first call is not
    read again.
    """
    return load_tokenizer(spec)


def save_pretrained(tokenizer: TraceTokenizer, directory: str | Path) -> Path:
    """Write `tokenizer.json` and the special-token settings that `transformers` reads.

    The folder loads with `transformers.PreTrainedTokenizerFast.from_pretrained(directory)` or
    `AutoTokenizer.from_pretrained(directory)`, with pad, eos and unk set and the protocol tokens
    registered as additional special tokens.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.tokenizer.save(str(directory / "tokenizer.json"))

    special = {"pad_token": PAD, "eos_token": EOS, "unk_token": UNK,
               "additional_special_tokens": list(PROTOCOL_TOKENS)}
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 1 << 20,
              "clean_up_tokenization_spaces": False, "name_or_path": tokenizer.name, **special}
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    (directory / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")
    return directory


def to_transformers(tokenizer: TraceTokenizer) -> Any:
    """Wrap the tokenizer as a `transformers.PreTrainedTokenizerFast` (imports transformers)."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tokenizer.tokenizer, pad_token=PAD,
                                   eos_token=EOS, unk_token=UNK,
                                   additional_special_tokens=list(PROTOCOL_TOKENS),
                                   clean_up_tokenization_spaces=False)
