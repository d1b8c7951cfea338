"""make_generate_fn over a real (tiny, random) Hugging Face model directory built offline."""

import torch

from srpo.config import TrainConfig
from srpo.core.configlib import build
from srpo.data import load_problems
from srpo.engines.native.generation import make_generate_fn


def tiny_model_dir(path):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    chars = [chr(i) for i in range(32, 127)] + ["\n"]
    vocab = {"<pad>": 0, "<eos>": 1, **{c: i + 2 for i, c in enumerate(chars)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>").save_pretrained(path)
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, eos_token_id=1, pad_token_id=0)
    Qwen2ForCausalLM(cfg).save_pretrained(path)
    return path


def test_generate_fn_shapes_and_seeding(tmp_path):
    path = str(tiny_model_dir(tmp_path / "m"))
    problems = load_problems("gym:chain_sum?size=3")
    cfg = build(TrainConfig, {"model": {"path": path}, "eval": {"max_new_tokens": 6, "batch_size": 2, "seed": 1}})
    first = make_generate_fn(cfg)(problems, 2)
    again = make_generate_fn(cfg)(problems, 2)
    assert len(first) == 3 and all(len(r) == 2 and all(isinstance(t, str) for t in r) for r in first)
    assert all(len(t) <= 6 for r in first for t in r)  # one character per token
    assert first == again  # same seed, same samples


def test_a_domains_samples_do_not_depend_on_other_domains(tmp_path):
    """Held-out math is sampled the same whether or not code problems come before it."""
    path = str(tiny_model_dir(tmp_path / "m"))
    math = load_problems("toy:math?n=3&levels=2&split=heldout")
    code = load_problems("toy:code?n=3&levels=1&split=heldout")
    cfg = build(TrainConfig, {"model": {"path": path}, "eval": {"max_new_tokens": 6, "batch_size": 2, "seed": 1}})
    alone = make_generate_fn(cfg)(math, 2)
    assert make_generate_fn(cfg)(code + math, 2)[len(code):] == alone
