"""Loading a policy (any local Hugging Face causal LM directory, or the embedded toy) and formatting prompts.

Engine-neutral: every engine and command resolves ``model.path`` and formats prompts here, so they all read
the same model and show it the same prompts; the native engine also loads its policy with it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import warnings
from pathlib import Path

import torch

from srpo.config.model import ModelConfig
from srpo.core.configlib import ConfigError
from srpo.engines.checkpoint_layout import checkpoint_named_by, model_dir as checkpoint_model_dir
from srpo.engines.lora import adapter_base, is_adapter_dir


def resolve_model_path(path: str) -> Path:
    """The model directory `path` names: ``"toy"`` -> the embedded default model; a run directory of any engine,
    its ``checkpoints`` directory or its ``checkpoints/latest`` -> the run's latest checkpoint; a checkpoint ->
    its model (see `srpo.engines.checkpoint_layout`); anything else as is. A directory without config.json is
    refused (transformers would misread it)."""
    if path == "toy":
        from srpo.toy.weights import default_model_dir

        return Path(default_model_dir())
    checkpoint = checkpoint_named_by(Path(path))
    model_dir = checkpoint_model_dir(checkpoint) if checkpoint else Path(path)
    if not (model_dir / "config.json").is_file() and not is_adapter_dir(model_dir):
        raise ConfigError(f"model.path: {path} is not a Hugging Face model directory (no config.json); give a "
                          "directory written by save_pretrained, LoRA adapters (adapter_config.json), a run "
                          "directory (its latest checkpoint) or one of its checkpoints")
    return model_dir


@contextlib.contextmanager
def _loading(path: Path):
    """A model directory transformers cannot read becomes one line naming it."""
    try:
        yield
    except (OSError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"model.path: {path}: transformers cannot load it ({reason})") from err


def resolve_device(device: str) -> torch.device:
    """``model.device`` as a torch device: ``auto`` (the default) is cuda when CUDA is available, else cpu.
    An explicit ``cpu`` on a machine with CUDA is honoured, with a warning: it is rarely what a GPU user meant."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cpu" and torch.cuda.is_available():
        warnings.warn("model.device=cpu: training and sampling on the CPU although CUDA is available; "
                      "model.device=auto (the default) or cuda uses the GPU", UserWarning, stacklevel=2)
    return torch.device(device)


def load_model(cfg: ModelConfig):
    """The causal LM at `cfg.path`, loaded offline in `cfg.dtype` onto `cfg.device`, as a plain transformers
    model: a LoRA checkpoint is loaded on its base and merged (``cfg.lora`` plays no part here)."""
    from transformers import AutoModelForCausalLM

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = resolve_model_path(cfg.path)
    if is_adapter_dir(path):
        from srpo.engines.lora import load_adapters, merge

        return merge(load_adapters(load_model(dataclasses.replace(cfg, path=adapter_base(path))), path, False))
    with _loading(path):
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=getattr(torch, cfg.dtype))
    return model.to(resolve_device(cfg.device))


def load_policy(cfg: ModelConfig):
    """The model to train: `load_model`'s, or with ``cfg.lora.enabled`` a peft model whose adapters alone
    require grad: fresh adapters on the model at `cfg.path`, or, when `cfg.path` is a LoRA checkpoint (a
    resume), its adapters on its base."""
    if not cfg.lora.enabled:
        return load_model(cfg)
    from srpo.engines.lora import check_matches, load_adapters, wrap

    path = resolve_model_path(cfg.path)
    if is_adapter_dir(path):
        check_matches(cfg.lora, path)
        base = load_model(dataclasses.replace(cfg, path=adapter_base(path)))
        return load_adapters(base, path, trainable=True)
    return wrap(load_model(cfg), cfg.lora, base="toy" if cfg.path == "toy" else str(path.resolve()))


def load_model_and_tokenizer(cfg: ModelConfig, train: bool = True):
    """Load (model, tokenizer) offline from `cfg.path`; the tokenizer gets a pad token if it lacks one.

    `train`: the model to train (`load_policy`), else the one to sample from (`load_model`: LoRA merged)."""
    tokenizer = load_tokenizer(cfg)
    model = load_policy(cfg) if train else load_model(cfg)
    if cfg.gradient_checkpointing and train:
        # config.use_cache stays as shipped (it is saved into every checkpoint): the training forward passes
        # use_cache=False itself, and checkpointing is inactive in eval mode, where rollouts use the cache.
        enable_activation_checkpointing(model)
        if cfg.lora.enabled:  # frozen embeddings: checkpointed blocks' inputs must carry grad (transformers 4.x
            # with reentrant checkpointing needs this; 5.x does it itself)
            model.enable_input_require_grads()
    return model, tokenizer


def load_tokenizer(cfg: ModelConfig):
    """The tokenizer of the model at `cfg.path` (a LoRA directory without one: its base's), with a pad token."""
    from transformers import AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = _tokenizer_dir(resolve_model_path(cfg.path))
    with _loading(path):
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_generation_config(path: str | Path):
    """The model directory's generation config (its EOS ids end responses too), None when it has none."""
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError):
        return None


def _tokenizer_dir(path: Path) -> Path:
    """Where the tokenizer of model directory `path` lives: a LoRA directory without one uses its base's."""
    if is_adapter_dir(path) and not (path / "tokenizer_config.json").is_file():
        return _tokenizer_dir(resolve_model_path(adapter_base(path)))
    return path


def enable_activation_checkpointing(model) -> None:
    """Recompute each layer's activations in the backward pass (non-reentrant torch checkpointing).

    transformers 5.2x names it ``activation_checkpointing_enable`` and deprecates the older
    ``gradient_checkpointing_enable``, which earlier 5.x releases (and wrappers) still have.
    """
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def prompt_template_used(cfg: ModelConfig) -> str:
    """The template prompts of the model at `cfg.path` are formatted with (`PromptFormatter`): ``chat`` is
    ``plain`` when its tokenizer has no chat template."""
    if cfg.prompt_template != "chat":
        return cfg.prompt_template
    return PromptFormatter(load_tokenizer(cfg), "chat").template


class PromptFormatter:
    """Turns a problem's prompt text into the token ids the policy sees."""

    def __init__(self, tokenizer, template: str = "chat", system_prompt: str | None = None):
        self.tokenizer = tokenizer
        self.system_prompt = system_prompt
        self.template = "plain" if template == "chat" and not tokenizer.chat_template else template

    def text(self, prompt: str) -> str:
        if self.template == "chat":
            messages = [{"role": "user", "content": prompt}]
            if self.system_prompt:
                messages.insert(0, {"role": "system", "content": self.system_prompt})
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        if self.template == "plain":
            return prompt
        return self.template.format(prompt=prompt)

    def ids(self, prompts: list[str]) -> list[list[int]]:
        texts = [self.text(p) for p in prompts]
        # The chat template already carries any BOS/special tokens it wants.
        add_special = self.template != "chat"
        return [self.tokenizer(t, add_special_tokens=add_special)["input_ids"] for t in texts]


def cache_kwarg(model) -> str:
    """The forward's cache keyword: transformers 5.2x renamed ``past_key_values`` to ``cache``; accept either.

    A peft model's forward takes ``**kwargs``, so the base model's signature is the one read.
    """
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(inner.forward).parameters else "past_key_values"
