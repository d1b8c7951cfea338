"""The shipped toy model: loads offline through Auto* classes, generates, matches its build record."""

import hashlib
import json

import pytest

import srpo.toy.weights as toy
from srpo.toy import tasks


@pytest.fixture(scope="module")
def shipped():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    d = toy.default_model_dir()
    tok = AutoTokenizer.from_pretrained(d, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(d, local_files_only=True).eval()
    return d, tok, model


def test_shipped_dir_is_the_package_asset_and_small():
    d = toy.default_model_dir()
    assert d == toy.ASSET_DIR
    total = sum(f.stat().st_size for f in d.iterdir() if f.is_file())
    assert total <= 10 * 1024 * 1024
    info = json.loads((d / "build_info.json").read_text())
    assert info["model_sha256"] == hashlib.sha256((d / "model.safetensors").read_bytes()).hexdigest()
    assert 1_000_000 <= info["n_params"] <= 10_000_000


def test_loads_and_generates_in_format(shipped):
    import torch

    _, tok, model = shipped
    assert type(tok).__name__ in ("TokenizersBackend", "PreTrainedTokenizerFast")
    assert model.config.eos_token_id == tok.eos_token_id and model.config.pad_token_id == tok.pad_token_id
    probs = tasks.heldout("math", 4, 1, seed=0)
    texts = [tok.apply_chat_template([{"role": "user", "content": p.prompt}], tokenize=False,
                                     add_generation_prompt=True) for p in probs]
    tok.padding_side = "left"
    enc = tok(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model.generate(**enc, do_sample=False, max_new_tokens=48)
    replies = tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    # the warm start has learnt the response format, whatever the arithmetic
    for reply in replies:
        assert reply.startswith("<think>") and "</think><answer>" in reply and reply.endswith("</answer>"), reply


def test_default_model_dir_builds_into_cache_when_asset_missing(tmp_path, monkeypatch):
    """With no packaged asset, the first call builds into $SRPO_CACHE/toy and later calls reuse it."""
    import srpo.toy.build as build

    calls = []

    def fake_train(cfg, out):
        calls.append(cfg)
        for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
            (out / name).write_text("x")
        return out

    monkeypatch.setattr(toy, "ASSET_DIR", tmp_path / "missing")
    monkeypatch.setenv("SRPO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(build, "train_warm_start", fake_train)
    assert toy.default_model_dir() == tmp_path / "cache" / "toy"
    assert toy.default_model_dir() == tmp_path / "cache" / "toy"
    assert len(calls) == 1 and calls[0].steps == build.WarmStartConfig().steps
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".toy-build-")]
