"""The toy policy: a small Llama-architecture causal LM built from a config, offline.

Default shape (`ToyModelConfig()`): 4 layers, hidden 192, 6 heads of 32, MLP 512, tied embeddings,
vocabulary 107 (see `srpo.toy.tokenizer`): 1.80M parameters, 7.2 MB in fp32 safetensors.
Llama rather than Qwen2: transformers 5.x forces its Qwen2 tokenizer class (byte-level BPE) on any directory
whose config says ``model_type: qwen2``, whatever ``tokenizer_config.json`` names, which would silently replace
the character-level pre-tokenizer. The Llama blocks (RoPE, SwiGLU, RMSNorm) are the same family users
post-train; only Qwen2's q/k/v biases are missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from srpo.core.configlib import ConfigError, option


@dataclass(frozen=True)
class ToyModelConfig:
    """Shape of the toy model."""

    hidden_size: int = option(192, "width of the residual stream.")
    num_layers: int = option(4, "number of transformer blocks.")
    num_heads: int = option(6, "attention heads (hidden_size must divide by it).")
    intermediate_size: int = option(512, "width of the SwiGLU MLP.")
    max_positions: int = option(1024, "longest sequence RoPE is configured for (prompt + response).")

    def validate(self) -> None:
        for name in ("hidden_size", "num_layers", "num_heads", "intermediate_size", "max_positions"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"num_heads: must divide hidden_size {self.hidden_size}, got {self.num_heads}")


def build_model(cfg: ToyModelConfig, seed: int):
    """A freshly initialised `LlamaForCausalLM` (fp32) with the toy tokenizer's special ids."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from srpo.toy import tokenizer as tok

    cfg.validate()
    hf_cfg = LlamaConfig(
        vocab_size=tok.vocab_size(), hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads, max_position_embeddings=cfg.max_positions,
        tie_word_embeddings=True, attention_bias=False, mlp_bias=False, pad_token_id=tok.SPECIAL_TOKENS.index(tok.PAD),
        eos_token_id=tok.SPECIAL_TOKENS.index(tok.EOS), bos_token_id=None, use_cache=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(hf_cfg)
    model.generation_config.pad_token_id = hf_cfg.pad_token_id
    model.generation_config.eos_token_id = hf_cfg.eos_token_id
    model.generation_config.bos_token_id = None
    return model
