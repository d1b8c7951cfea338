"""Fixtures of the verl tests: a tiny model directory, a recipe written by `srpo verl-recipe` on toy data, and
verl's own config composed from the recipe's overrides. The tests that need verl skip without it (they run
in .venv-verl through `make test-verl`)."""

from __future__ import annotations

import os

import pytest

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("srpo_tests_root_conftest", Path(__file__).parents[1] / "conftest.py")
_root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_root)
build_tiny_model = _root.build_tiny_model


def build_char_tokenizer():
    """The root conftest's char-level tokenizer over all printable ASCII (code answers need backticks)."""
    import string

    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(["<pad>", "<eos>"] + list(string.printable))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>")

P, G, STEPS = 4, 2, 6


@pytest.fixture(scope="session")
def verl_model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("verl") / "tiny-model"
    tokenizer = build_char_tokenizer()
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }}\n{% endfor %}"  # verl renders chats
    model = build_tiny_model(len(tokenizer))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def toy_recipe(model_dir, out, *extra):
    """A recipe on toy math + code: 4 prompts x 2 responses, 6 steps, code from step 3, history resampling."""
    from srpo.config import load_config
    from srpo.engines.verl.recipe import write_recipe

    cfg = load_config("srpo", [
        "engine=verl", "model.device=cuda", f"model.path={model_dir}", f"run.output_dir={out}",
        f"rollout.prompts_per_step={P}", f"rollout.group_size={G}", "verl.n_gpus_per_node=1",
        "algorithm.micro_batch_size=2", f"run.total_steps={STEPS}", "run.save_every=2",
        'data.train=["toy:math?n=8&levels=1-2&seed=3", "toy:code?n=4&levels=1&seed=3"]',
        'data.heldout=["toy:math?n=4&levels=1&split=heldout"]', "curriculum.switch_step=3",
        "curriculum.plateau_window=null", "curriculum.ramp_steps=0", "rewards.code=[{name: code_accuracy}]", *extra])
    return cfg, write_recipe(cfg)


def compose_verl(overrides):
    """verl's ppo_trainer config with `overrides`, as ``python -m verl.trainer.main_ppo`` would build it."""
    from hydra import compose, initialize_config_dir

    import verl.trainer.main_ppo as main_ppo

    config_dir = os.path.join(os.path.dirname(main_ppo.__file__), "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        return compose("ppo_trainer", overrides=list(overrides))


@pytest.fixture(scope="module")
def recipe(verl_model_dir, tmp_path_factory):
    pytest.importorskip("verl")
    return toy_recipe(verl_model_dir, tmp_path_factory.mktemp("run") / "run")
