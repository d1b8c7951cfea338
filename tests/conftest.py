"""Shared fixtures: a tiny random causal LM with a char-level tokenizer, built in memory in well under a second."""

from __future__ import annotations

import string

import pytest
import torch

CHARS = string.ascii_letters + string.digits + " +-*/=()<>?:.,\n_"


def build_char_tokenizer():
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<eos>"]
    vocab = {tok: i for i, tok in enumerate(specials + list(CHARS))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>")


def build_tiny_model(vocab_size: int, seed: int = 0):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    cfg = Qwen2Config(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      tie_word_embeddings=True)
    return Qwen2ForCausalLM(cfg).eval()


@pytest.fixture
def tiny_policy():
    tokenizer = build_char_tokenizer()
    model = build_tiny_model(len(tokenizer))
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


@pytest.fixture
def tiny_model_dir(tmp_path, tiny_policy):
    model, tokenizer = tiny_policy
    path = tmp_path / "tiny-model"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture
def exact_norm(monkeypatch):
    """Qwen2RMSNorm computing in its input's dtype. transformers' own upcasts to float32 whatever the model
    dtype, so a float64 model still rounds to float32 there, and two forwards that add the same gradients in
    another order (a prompt computed once for its G responses, or G times) differ by ~1e-7 relative."""
    from transformers.models.qwen2 import modeling_qwen2

    def forward(self, hidden):
        variance = hidden.pow(2).mean(-1, keepdim=True)
        return self.weight * (hidden * torch.rsqrt(variance + self.variance_epsilon))

    monkeypatch.setattr(modeling_qwen2.Qwen2RMSNorm, "forward", forward)
