"""Can a causal LM's LM head be fused into the log-prob/entropy computation (`algorithm.fused_head`)?

Fusing replaces ``model(...).logits`` by the decoder's last hidden states and the head's weight, handed to
`srpo.algo.logprobs_entropy_from_hidden`. That is exact only where the model's logits are nothing but
``lm_head(decoder(...).last_hidden_state)`` with a plain `nn.Linear` head. Many models add something on the
way (Gemma 2/3 soft-cap the logits, Cohere and Granite scale them, MiniCPM3 scales the hidden states,
Falcon-H1 multiplies by a model attribute, some upcast), and that lives in the model class's code, not
always in its config. So fusing is allowed only for the model types below, whose ``*ForCausalLM.forward``
was read (transformers 5.17-5.24) to be exactly that, and refused for anything that could change the
head's input or output all the same:

- a model type not listed, or a class not from transformers (remote code, a subclass);
- a config that asks for logit soft-capping or scaling (any field of `_LOGIT_TRANSFORMS` set);
- a head that is not exactly `nn.Linear` (peft's LoRA or modules_to_save on ``lm_head``, a quantised layer);
- forward hooks or pre-hooks on the model or its head (accelerate offloading, user hooks);
- a decoder that is not the module the model's forward runs (``model.model``).

A peft model is inspected through its base model: its adapters sit inside the decoder's layers, so the
decoder's forward runs them (and skips them under ``disable_adapter()``) just as the peft forward does.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch

# *ForCausalLM classes whose forward is `lm_head(model(...).last_hidden_state[:, keep])` and nothing else.
FUSABLE_MODEL_TYPES = frozenset({
    "gemma", "llama", "ministral", "mistral", "mixtral", "olmo2", "phi3", "qwen2", "qwen2_moe", "qwen3",
    "qwen3_moe", "smollm3", "starcoder2",
})
# Config fields that transform the logits (or the head's input) in some model families: any set refuses.
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logits_soft_cap", "logit_scale",
                     "logits_scaling", "lm_head_multiplier", "output_multiplier_scale", "mup_width_multiplier")


@dataclass(frozen=True)
class FusedHead:
    """A model split at its LM head: `decoder` gives the input of `lm_head`, a plain linear layer."""

    decoder: torch.nn.Module
    lm_head: torch.nn.Linear
    cache_kwarg: str  # the decoder forward's cache keyword (``cache`` in transformers 5.2x, else past_key_values)


def fused_head(model) -> FusedHead | None:
    """`model`'s decoder and LM head when the head can be fused exactly, else None (see `refusal`)."""
    return None if refusal(model) else _split(_base(model))


def refusal(model) -> str | None:
    """Why `model`'s head cannot be fused (one line), or None when it can."""
    base = _base(model)
    config = getattr(base, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type not in FUSABLE_MODEL_TYPES:
        return f"model type {model_type!r} is not one whose logits are known to be lm_head(hidden states)"
    if not type(base).__module__.startswith(f"transformers.models.{model_type}."):
        return f"{type(base).__qualname__} is not transformers' own class for {model_type!r}"
    for field in _LOGIT_TRANSFORMS:
        value = getattr(config, field, None)
        if value is not None and value is not False:
            return f"config.{field} = {value!r} transforms the logits"
    head = base.get_output_embeddings()
    if type(head) is not torch.nn.Linear:
        return f"the LM head is a {type(head).__qualname__}, not a plain torch.nn.Linear"
    for name, module in (("model", base), ("LM head", head)):
        if module._forward_hooks or module._forward_pre_hooks:
            return f"the {name} has forward hooks"
    if base.get_decoder() is not getattr(base, "model", None):
        return "get_decoder() is not the module the model's forward runs"
    return None


def _base(model):
    """The transformers model under a peft wrapper (the model itself otherwise)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _split(base) -> FusedHead:
    decoder = base.get_decoder()
    kwarg = "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"
    return FusedHead(decoder, base.get_output_embeddings(), kwarg)
