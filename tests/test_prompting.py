"""Prompting mode mechanics on tiny randomly initialised Llama models saved to a folder.

An untrained model writes nonsense, so these tests check only that runs finish, that faults are
reported with thread and position, and that the report's numbers are in range. Nothing is
downloaded.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers

from mplm_data.generators.qa import QAConfig, QAKind, generate_qa
from mplm_data.traces import protocol as p
from mplm_data.traces.text import thread_text
from mplm_data.traces.tokenizer import project_tokenizer, save_pretrained, to_transformers
from mplm_data.runtime.end_tokens import chat_turn_end, end_token_ids, model_end_tokens
from mplm_data.runtime.engine import RuntimeConfig
from mplm_data.runtime.prompting import (FORMATS, escape_markup, example_trace, load_prompting_model,
                                         main, prompt_problems, run_prompting, system_prompt)
from mplm_data.runtime.train import ModelSpec, build_llama

TOKENIZER = project_tokenizer()
ITEM_CONFIG = QAConfig(kind=QAKind.TRACK, length=48, chunks=2, hops=2, distractors=1)
SUMMARY_FIELDS = ("runs", "valid_runs", "solved", "threads", "valid_threads", "mean_context_tokens",
                  "max_context_tokens", "total_tokens", "decode_steps", "system_prompt_tokens")
SHARES = ("valid_run_share", "valid_thread_share", "solved_share")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    """A folder with a 2-layer Llama over the project vocabulary and the project tokenizer."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    spec = ModelSpec(hidden_size=32, layers=2, heads=4, kv_heads=2, intermediate_size=64,
                     max_positions=4096)
    build_llama(TOKENIZER, spec, seed=3).save_pretrained(folder)
    save_pretrained(TOKENIZER, folder)
    return folder


def qa_items(count: int, seed: int) -> list:
    return [generate_qa(ITEM_CONFIG, seed, index) for index in range(count)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_system_prompt_has_no_protocol_token(fmt):
    words = p.split_words(system_prompt(fmt))
    assert not [word for word in words if word in p.PROTOCOL_SET]


@pytest.mark.parametrize("fmt", FORMATS)
def test_system_prompt_shows_rendered_example(fmt):
    prompt = system_prompt(fmt)
    for thread in example_trace(fmt).trace.threads:
        escaped = " ".join(escape_markup(word) for word in thread_text(thread).split(" "))
        assert escaped in prompt


def test_system_prompt_rejects_cot():
    with pytest.raises(ValueError, match="'cot'"):
        system_prompt("cot")


@pytest.mark.parametrize("fmt", FORMATS)
def test_prompt_problems_plain_prefix(fmt):
    items = qa_items(2, seed=5)
    system = tuple(p.split_words(system_prompt(fmt, TOKENIZER)))
    problems = prompt_problems(items, fmt, TOKENIZER)
    assert [problem.key for problem in problems] == [0, 1]
    for problem in problems:
        for _, prompt in problem.roots:
            assert prompt[:len(system)] == system
            assert len(prompt) > len(system)


def test_prompt_problems_fork_children_unprefixed():
    problem = prompt_problems(qa_items(1, seed=5), "fj", TOKENIZER)[0]
    assert problem.child_prompts
    for _, prompt in problem.child_prompts:
        assert prompt[:2] == ("chunk", prompt[1])
        assert "Worked" not in prompt


def test_prompt_problems_chat_template():
    chat = to_transformers(TOKENIZER)
    chat.chat_template = ("{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }} [end] "
                          "{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}")
    item = qa_items(1, seed=5)[0]
    problem = prompt_problems([item], "mplm", TOKENIZER, chat)[0]
    name, prompt = problem.roots[0]
    assert name == "main"
    assert prompt[0] == "[system]"
    assert prompt[-1] == "[assistant]"
    user = prompt.index("[user]")
    assert prompt[user + 1:user + 1 + len(item.question)] == item.question


def test_run_prompting_reports_every_format(model_folder):
    config = RuntimeConfig(max_new_tokens=6, max_context_tokens=4096, max_steps=200)
    report = run_prompting(model_folder, qa_items(2, seed=11), config=config)
    assert set(report["formats"]) == set(FORMATS)
    assert report["added_tokens"] == []
    assert report["chat_template"] is False

    for record in report["formats"].values():
        assert record["runs"] == 2
        for name in SUMMARY_FIELDS:
            assert record[name] >= 0, name
        for name in SHARES:
            assert 0.0 <= record[name] <= 1.0, name
        assert record["threads"] >= 2
        assert record["max_context_tokens"] > record["system_prompt_tokens"] > 0


def test_run_prompting_faults_name_thread_and_position(model_folder):
    config = RuntimeConfig(max_new_tokens=4, max_context_tokens=4096, max_steps=200)
    report = run_prompting(model_folder, qa_items(1, seed=2), formats=("mplm",), config=config)
    record = report["formats"]["mplm"]
    assert record["faults"], "a random model should fault within 4 tokens"
    names = {"main", "c1", "c2"}
    for fault in record["faults"]:
        assert fault["thread"] in names
        assert fault["position"] > record["system_prompt_tokens"]
        assert fault["reason"]
    assert sum(record["fault_kinds"].values()) >= len(record["faults"])
    assert record["valid_runs"] == 0


def test_main_writes_json(model_folder, tmp_path, capsys):
    out = tmp_path / "out"
    main(["--model", str(model_folder), "--items", "1", "--out", str(out), "--formats", "fj",
          "--length", "40", "--chunks", "2", "--max-new-tokens", "3"])
    report = json.loads((out / "prompting.json").read_text())
    assert list(report["formats"]) == ["fj"]
    assert report["qa_config"]["chunks"] == 2
    assert "| fj | 1 |" in capsys.readouterr().out


@pytest.fixture(scope="module")
def spelling_folder(tmp_path_factory):
    """A model and tokenizer that spell protocol tokens as pieces (`<send>` is `<`, `send`, `>`)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("spelling")
    names = sorted({token.strip("</>") for token in p.PROTOCOL_TOKENS})
    vocab = {word: index for index, word in enumerate(["<unk>", "<", ">", "/", *names, "x"])}
    base = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    base.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                  pre_tokenizers.Punctuation()])
    base.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "<unk>"}))

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2,
                         tie_word_embeddings=False)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder, vocab


@pytest.mark.parametrize("token", [p.SEND, p.SEND_END, p.MSG, p.HALT])
def test_load_prompting_model_spells_new_rows(spelling_folder, token):
    folder, vocab = spelling_folder
    from transformers import AutoModelForCausalLM

    original = AutoModelForCausalLM.from_pretrained(folder)
    model, tokenizer, _, added = load_prompting_model(folder)
    assert added == list(p.PROTOCOL_TOKENS)
    assert model.get_input_embeddings().weight.shape[0] == len(vocab) + len(p.PROTOCOL_TOKENS)

    pieces = [vocab[piece] for piece in ["<", *(["/"] if token.startswith("</") else []),
                                         token.strip("</>"), ">"]]
    row = tokenizer.tokenizer.token_to_id(token)
    for new, old in ((model.get_input_embeddings(), original.get_input_embeddings()),
                     (model.get_output_embeddings(), original.get_output_embeddings())):
        expected = old.weight[pieces].mean(dim=0)
        assert torch.allclose(new.weight[row], expected, atol=1e-6)


def test_finetune_check_prompt_preset_runs(model_folder, tmp_path):
    script = Path(__file__).resolve().parents[1] / "scripts" / "finetune_check.py"
    out = tmp_path / "prompt"
    done = subprocess.run(
        [sys.executable, str(script), "--preset", "prompt", "--model", str(model_folder),
         "--items", "1", "--out", str(out), "--formats", "mplm", "--length", "40", "--chunks", "2",
         "--max-new-tokens", "3"],
        capture_output=True, text=True, check=False, timeout=300)

    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((out / "prompting.json").read_text())
    assert list(report["formats"]) == ["mplm"]


END_TOKENS = ("</s>", "<|im_start|>", "<|im_end|>", "<|eot_id|>")
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def end_token_folder(folder: Path, emitted: str) -> tuple[Path, dict[str, int]]:
    """Save a Llama whose end tokens are not `<eos>` and which emits `emitted` at every step.

    The tokenizer's eos_token is `</s>`, the generation config ends on `</s>` and `<|eot_id|>`,
    and the ChatML template ends a turn with `<|im_end|>`. The layers add nothing to the residual
    stream and every embedding has 1.0 in dimension 0, while the output row of `emitted` is the
    only non-zero one and reads that dimension, so greedy decoding always picks `emitted`.
    """
    from tokenizers import AddedToken
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {word: index for index, word in enumerate(["<unk>", "x", "y", "user", "assistant"])}
    base = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    base.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    base.add_special_tokens([AddedToken(token, normalized=False) for token in END_TOKENS])
    base.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "<unk>", "eos_token": "</s>",
         "chat_template": CHATML}))
    ids = base.get_vocab(with_added_tokens=True)

    config = LlamaConfig(vocab_size=len(ids), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=4096, tie_word_embeddings=False,
                         bos_token_id=None, eos_token_id=ids["</s>"])
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.model.layers[0].self_attn.o_proj.weight.zero_()
        model.model.layers[0].mlp.down_proj.weight.zero_()
        model.model.embed_tokens.weight[:, 0] = 1.0
        model.lm_head.weight.zero_()
        model.lm_head.weight[ids[emitted], 0] = 1.0
    model.save_pretrained(folder)
    # Written after the model, whose save_pretrained writes a generation config of its own.
    GenerationConfig(eos_token_id=[ids["</s>"], ids["<|eot_id|>"]]).save_pretrained(folder)
    return folder, ids


def test_model_end_tokens_reads_every_source(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, _ = end_token_folder(tmp_path / "model", "x")
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
    chat = AutoTokenizer.from_pretrained(folder, local_files_only=True)

    assert chat_turn_end(chat) == "<|im_end|>"
    assert model_end_tokens(model, chat) == ["</s>", "<|eot_id|>", "<|im_end|>"]


@pytest.mark.parametrize("template, expected", [
    (CHATML, "<|im_end|>"),
    (CHATML.replace("<|im_end|>", "[end]"), None),  # the turn ends with plain text
    (CHATML.replace("<|im_end|>", ""), None),  # the turn ends with a line break only
    (None, None),
])
def test_chat_turn_end_needs_special_token(tmp_path, template, expected):
    from transformers import AutoTokenizer

    folder, _ = end_token_folder(tmp_path / "model", "x")
    chat = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    chat.chat_template = template

    assert chat_turn_end(chat) == expected


def test_end_token_ids_skip_protocol_and_unknown(caplog):
    with caplog.at_level(logging.WARNING, logger="mplm_data.runtime.end_tokens"):
        ids = end_token_ids([p.HALT, "<|not-a-token|>", p.EOS], TOKENIZER)

    assert ids == (TOKENIZER.tokenizer.token_to_id(p.EOS),)
    assert len(caplog.records) == 2
    assert "a protocol token" in caplog.records[0].getMessage()
    assert "not a token" in caplog.records[1].getMessage()


@pytest.mark.parametrize("emitted, fault", [
    ("</s>", "no_end"),        # the tokenizer's eos_token
    ("<|eot_id|>", "no_end"),  # only in the generation config
    ("<|im_end|>", "no_end"),  # only in the chat template
    ("x", "token_limit"),      # an ordinary word runs on to max_new_tokens
])
def test_run_prompting_stops_at_end_tokens(tmp_path, emitted, fault):
    folder, ids = end_token_folder(tmp_path / "model", emitted)
    config = RuntimeConfig(max_new_tokens=5, max_context_tokens=4096, max_steps=200,
                           end_token_ids=(ids["y"],))
    report = run_prompting(folder, qa_items(1, seed=3), formats=("mplm",), config=config)

    assert report["end_tokens"] == ["</s>", "<|eot_id|>", "<|im_end|>"]
    assert report["config"]["end_token_ids"] == (ids["y"], ids["</s>"], ids["<|eot_id|>"],
                                                 ids["<|im_end|>"])
    record = report["formats"]["mplm"]
    assert record["fault_kinds"] == {fault: record["threads"]}
    generated = 0 if fault == "no_end" else config.max_new_tokens
    assert record["total_tokens"] == generated * record["threads"]
