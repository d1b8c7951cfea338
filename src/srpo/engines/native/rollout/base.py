"""The rollout interface.

Index layout: for P prompts and ``n`` samples each, row ``i * n + j`` of every tensor is the j-th sample
for prompt i (``prompt_index[row] == i``). Example with P=2, n=3: rows 0,1,2 answer prompt 0 and rows
3,4,5 answer prompt 1, so a GRPO group is a contiguous block of n rows.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Protocol

import torch

from srpo.core.generation import SamplingParams
from srpo.core.registry import Registry
from srpo.engines.records import eos_id_set, is_truncated


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


class RolloutEngine(Protocol):
    """Optional: ``from_config(cfg, model, tokenizer)`` to build it from a run's config, and ``sleep()`` /
    ``wake(model)`` for an engine that samples from its own copy of the weights (see `updating`)."""

    def generate(self, prompt_ids: list[list[int]], params: SamplingParams) -> RolloutBatch: ...


@contextlib.contextmanager
def updating(engine, model):
    """Wraps a policy update: the engine may free its memory before (``sleep()``) and takes the updated
    weights after (``wake(model)``). Engines that sample from `model` itself (kv_cache, hf) define neither."""
    if hasattr(engine, "sleep"):
        engine.sleep()
    yield
    if hasattr(engine, "wake"):
        engine.wake(model)


# Engine classes by `rollout.engine` name, built as ``cls.from_config(cfg, model, tokenizer)`` where the
# class has it, else ``cls(model, tokenizer, seed=run.seed)``.
ROLLOUT_ENGINES: Registry[type[RolloutEngine]] = Registry("rollout engine")


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


def eos_ids(model, tokenizer) -> list[int]:
    """The token ids that end a response: the tokenizer's EOS and the model's generation config's
    (`srpo.engines.records.eos_id_set`)."""
    return eos_id_set(tokenizer, getattr(model, "generation_config", None))


def truncated_rows(response_ids_bt: torch.Tensor, response_mask_bt: torch.Tensor, eos_ids: list[int]) -> torch.Tensor:
    """[B] bool: row b's response (its first ``mask.sum()`` tokens) does not end with an EOS id
    (`srpo.engines.records.is_truncated`, the one definition every engine uses). The definition reads only a
    response's last token, so each row passes just that one (none for an empty response)."""
    lengths_b = response_mask_bt.sum(-1)
    if response_ids_bt.shape[-1] == 0:
        return torch.ones(len(response_ids_bt), dtype=torch.bool)
    last_b = response_ids_bt.gather(-1, (lengths_b - 1).clamp(min=0)[:, None]).squeeze(-1)
    return torch.tensor([is_truncated([last] if n else [], eos_ids)
                         for last, n in zip(last_b.tolist(), lengths_b.tolist())], dtype=torch.bool)


def positions_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """Position ids of a left-padded batch: each row counts its own tokens from 0 (padding gets 0)."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def response_mask_from_eos(response_ids_bt: torch.Tensor, eos_ids: list[int]) -> torch.Tensor:
    """1 up to and including the first EOS of each row, 0 after it."""
    is_eos = torch.isin(response_ids_bt, torch.tensor(eos_ids, device=response_ids_bt.device))
    eos_seen_before = (is_eos.long().cumsum(-1) - is_eos.long()) > 0
    return (~eos_seen_before).long()


def distinct_rows(ids_bp: torch.Tensor, mask_bp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Group identical prompt rows: (first_u, inverse_b) with ``row b == row first_u[inverse_b[b]]``.

    Two rows are the same prompt when both their padded ids and their masks are equal, i.e. the same token
    list (a pad id inside a prompt still differs from padding by the mask). first_u: the lowest row number of
    each distinct prompt [U]; inverse_b: each row's distinct prompt [B].
    """
    _, inverse_b = torch.unique(torch.cat([ids_bp, mask_bp], 1), dim=0, return_inverse=True)
    rows_b = torch.arange(len(ids_bp), device=ids_bp.device)
    first_u = torch.full((int(inverse_b.max()) + 1,), len(ids_bp), dtype=torch.long, device=ids_bp.device)
    return first_u.scatter_reduce(0, inverse_b, rows_b, "amin"), inverse_b
