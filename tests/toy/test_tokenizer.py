"""The character-level tokenizer, loaded back through AutoTokenizer as users and trainers load it."""

import pytest

from srpo.toy import tasks
from srpo.toy import tokenizer as tok


@pytest.fixture(scope="module")
def hf_tok(tmp_path_factory):
    from transformers import AutoTokenizer

    d = tmp_path_factory.mktemp("tok")
    tok.save_tokenizer(d)
    # a model config next to it, as in a real model dir: AutoTokenizer must still honour tokenizer.json
    from srpo.toy.model import ToyModelConfig, build_model
    build_model(ToyModelConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=32), 0).config \
        .save_pretrained(d)
    return AutoTokenizer.from_pretrained(d, local_files_only=True)


def _suite_texts():
    for domain in ("math", "code"):
        for level in range(1, tasks.MAX_LEVEL[domain] + 1):
            for p in tasks.problems(domain, 30, level, 0) + tasks.heldout(domain, 10, level, 0):
                yield p.prompt
                yield p.metadata["solution"]


def test_round_trips_every_suite_text_without_unk(hf_tok):
    texts = list(_suite_texts())
    chars = sorted(set("".join(texts)))
    assert len(chars) > 40
    for text in texts + ["".join(chars)]:
        ids = hf_tok(text, add_special_tokens=False)["input_ids"]
        assert hf_tok.unk_token_id not in ids, text
        assert hf_tok.decode(ids) == text


def test_whitespace_and_tags(hf_tok):
    ids = hf_tok("a  b\n\tc", add_special_tokens=False)["input_ids"]
    assert len(ids) == 7 and hf_tok.decode(ids) == "a  b\n\tc"
    for tag in ("<think>", "</think>", "<answer>", "</answer>"):
        ids = hf_tok(tag, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1 and hf_tok.decode(ids, skip_special_tokens=True) == tag


def test_special_ids_and_vocab(hf_tok):
    assert (hf_tok.pad_token_id, hf_tok.eos_token_id, hf_tok.unk_token_id) == (0, 1, 2)
    assert len(hf_tok) == tok.vocab_size()
    assert hf_tok.decode([hf_tok.eos_token_id, 60], skip_special_tokens=True) == hf_tok.decode([60])
    assert hf_tok("é", add_special_tokens=False)["input_ids"] == [hf_tok.unk_token_id]


def test_chat_template(hf_tok):
    msgs = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "Compute 1+2."}]
    assert hf_tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True) == "Q: Compute 1+2.\nA: "
    convo = msgs + [{"role": "assistant", "content": "<answer>3</answer>"}]
    assert hf_tok.apply_chat_template(convo, tokenize=False) == \
        "Q: Compute 1+2.\nA: <answer>3</answer><|endoftext|>\n"
