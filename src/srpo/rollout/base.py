"""The rollout interface.

Index layout: for P prompts and ``n`` samples each, row ``i * n + j`` of every tensor is the j-th sample
for prompt i (``prompt_index[row] == i``). Example with P=2, n=3: rows 0,1,2 answer prompt 0 and rows
3,4,5 answer prompt 1, so a GRPO group is a contiguous block of n rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import torch

from srpo.configlib import ConfigError


def check_sampling(temperature: float, top_p: float, max_new_tokens: int) -> None:
    """Reject sampling parameters no engine can use (raises `ConfigError` naming the field)."""
    if temperature <= 0:
        raise ConfigError(f"temperature: must be > 0, got {temperature}")
    if not 0 < top_p <= 1:
        raise ConfigError(f"top_p: must be in (0, 1], got {top_p}")
    if max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens: must be >= 1, got {max_new_tokens}")


@dataclass
class SamplingParams:
    """n: samples per prompt; temperature, top_p: the sampling distribution; max_new_tokens: response cap."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 64


@dataclass
class RolloutConfig:
    """How responses are generated during training.

    engine: ``"kv_cache"`` (srpo's own batched decode loop: computes behaviour log-probs on the fly, one
        vocabulary-sized row per sequence per step) or ``"hf"`` (``model.generate``; log-probs from its
        returned logits, which holds B x T x V floats: fine for small vocabularies).
    group_size: responses per prompt (G in GRPO).
    prompts_per_step: prompts per training step; a step trains on prompts_per_step * group_size responses.
    temperature, top_p: the sampling distribution. Behaviour log-probs are those of the temperature-scaled
        softmax before top-p truncation, which is what the trainer's forward pass recomputes.
    max_new_tokens: response length cap; a response that hits it without EOS is marked truncated.
    """

    engine: Literal["kv_cache", "hf"] = "kv_cache"
    group_size: int = 8
    prompts_per_step: int = 8
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 64

    def validate(self) -> None:
        if self.group_size < 1:
            raise ConfigError(f"group_size: must be >= 1, got {self.group_size}")
        if self.prompts_per_step < 1:
            raise ConfigError(f"prompts_per_step: must be >= 1, got {self.prompts_per_step}")
        check_sampling(self.temperature, self.top_p, self.max_new_tokens)

    def sampling(self, n: int | None = None) -> SamplingParams:
        return SamplingParams(n or self.group_size, self.temperature, self.top_p, self.max_new_tokens)


@dataclass
class RolloutBatch:
    """Sampled responses for a batch of prompts (see the module docstring for the row layout).

    prompt_ids_bp / prompt_mask_bp: left-padded prompt tokens and their attention mask.
    response_ids_bt: right-padded response tokens (pad after EOS).
    response_mask_bt: 1 on generated tokens up to and including EOS.
    logprobs_bt: behaviour log-probs of the sampled tokens (0 where the mask is 0).
    prompt_index_b: which input prompt each row answers.
    truncated_b: the response hit max_new_tokens without EOS.
    texts: decoded responses (special tokens removed).
    """

    prompt_ids_bp: torch.Tensor
    prompt_mask_bp: torch.Tensor
    response_ids_bt: torch.Tensor
    response_mask_bt: torch.Tensor
    logprobs_bt: torch.Tensor
    prompt_index_b: torch.Tensor
    truncated_b: torch.Tensor
    texts: list[str]

    @property
    def response_lengths(self) -> list[int]:
        return self.response_mask_bt.sum(-1).tolist()


class RolloutEngine(Protocol):
    def generate(self, prompt_ids: list[list[int]], params: SamplingParams) -> RolloutBatch: ...


def left_pad(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack token lists into (ids, mask), padded on the left so every prompt ends at the last column."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        if seq:
            ids[row, width - len(seq):] = torch.tensor(seq, dtype=torch.long)
            mask[row, width - len(seq):] = 1
    return ids, mask


def response_mask_from_eos(response_ids_bt: torch.Tensor, eos_ids: list[int]) -> torch.Tensor:
    """1 up to and including the first EOS of each row, 0 after it."""
    is_eos = torch.isin(response_ids_bt, torch.tensor(eos_ids, device=response_ids_bt.device))
    eos_seen_before = (is_eos.long().cumsum(-1) - is_eos.long()) > 0
    return (~eos_seen_before).long()
