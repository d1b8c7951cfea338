"""LoRA adapters through peft (``model.lora``): wrapping a policy, loading and merging adapter checkpoints.

peft is imported only here and only when LoRA is used, so srpo runs without it. A LoRA checkpoint is a
peft adapter directory (``adapter_config.json`` + ``adapter_model.safetensors``, only the A and B matrices);
its ``base_model_name_or_path`` names the base model the adapters were trained on: ``"toy"`` or an absolute
directory, so the checkpoint loads from anywhere. Engine-neutral: the native engine wraps and loads its
policy with it, the TRL engine hands `peft_lora_config` to GRPOTrainer.
"""

from __future__ import annotations

import json
from pathlib import Path

from srpo.config.model import LoraConfig
from srpo.core.configlib import ConfigError
from srpo.core.extras import install_hint

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_FILES = (ADAPTER_CONFIG, "adapter_model.safetensors")


def require_peft():
    """The peft module, or a `ConfigError` naming ``model.lora.enabled`` when it is not installed."""
    try:
        import peft
    except ImportError as err:
        raise ConfigError(f"model.lora.enabled: LoRA needs peft, which is not installed ({install_hint('lora')}): "
                          f"{err}") from None
    return peft


def peft_lora_config(cfg: LoraConfig):
    """``model.lora`` as a `peft.LoraConfig` for a causal LM (also what the TRL engine hands GRPOTrainer)."""
    peft = require_peft()
    return peft.LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                           target_modules=list(cfg.target_modules), bias="none", task_type="CAUSAL_LM")


def is_adapter_dir(path: Path) -> bool:
    """Does `path` hold peft adapters (a LoRA checkpoint) rather than a whole model?"""
    return (Path(path) / ADAPTER_CONFIG).is_file() and not (Path(path) / "config.json").is_file()


def adapter_base(path: Path) -> str:
    """The base model an adapter directory was trained on (``base_model_name_or_path`` of its config)."""
    base = json.loads((Path(path) / ADAPTER_CONFIG).read_text()).get("base_model_name_or_path")
    if not base:
        raise ConfigError(f"model.path: {path}: {ADAPTER_CONFIG} names no base_model_name_or_path; "
                          "srpo cannot tell which model these adapters belong to")
    return base


def check_matches(cfg: LoraConfig, path: Path) -> None:
    """Refuse continuing the adapters in `path` under other ``model.lora`` settings than they were made with."""
    saved = json.loads((Path(path) / ADAPTER_CONFIG).read_text())
    pairs = {"r": (cfg.r, saved.get("r")), "alpha": (cfg.alpha, saved.get("lora_alpha")),
             "dropout": (cfg.dropout, saved.get("lora_dropout")),
             "target_modules": (sorted(cfg.target_modules), sorted(saved.get("target_modules") or []))}
    for field, (want, have) in pairs.items():
        if want != have:
            raise ConfigError(f"model.lora.{field}: {want!r}, but the adapters in {path} were made with {have!r}; "
                              "continuing them needs the same settings")


def wrap(model, cfg: LoraConfig, base: str):
    """`model` with fresh adapters on ``cfg.target_modules``; only the adapters require grad.

    A is drawn from the global torch RNG (peft's Kaiming-uniform init) and B is zero, so the wrapped model's
    outputs equal the base model's until the first update. `base` is recorded in the adapter config.
    """
    peft = require_peft()
    try:
        wrapped = peft.get_peft_model(model, peft_lora_config(cfg))
    except ValueError as err:  # e.g. no module matches target_modules
        raise ConfigError(f"model.lora.target_modules: {err}") from None
    wrapped.peft_config["default"].base_model_name_or_path = base
    return wrapped


def load_adapters(base_model, path: Path, trainable: bool):
    """`base_model` with the adapters saved in `path` (trainable ones when `trainable`, for training on)."""
    peft = require_peft()
    return peft.PeftModel.from_pretrained(base_model, str(path), is_trainable=trainable)


def merge(model):
    """A plain transformers model with the adapters folded in: W <- W + (alpha / r) * B A."""
    return model.merge_and_unload()


def is_peft_model(model) -> bool:
    return hasattr(model, "disable_adapter") and hasattr(model, "get_base_model")


def parameter_counts(model) -> dict[str, int]:
    """Trainable and total parameter counts (element counts, not bytes)."""
    params = list(model.parameters())
    return {"trainable": sum(p.numel() for p in params if p.requires_grad),
            "total": sum(p.numel() for p in params)}
