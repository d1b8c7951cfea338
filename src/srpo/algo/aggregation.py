"""Reduce a per-token loss [B, T] to the scalar that is back-propagated.

Every mode has the signature

    fn(loss_bt, mask_bt, *, num_tokens=None, num_seqs=None, norm_len=None) -> scalar

num_tokens / num_seqs are the totals of the whole mini-batch (one optimizer step). Pass them when the
mini-batch is split into micro-batches for gradient accumulation (or across data-parallel ranks, after
summing them over ranks): then every mode is linear in the micro-batches, so the micro-batch losses SUM
to exactly the mini-batch loss and their gradients sum to its gradient, whatever the split, the
micro-batch sizes or their padded lengths. Do not divide by the number of micro-batches. When None, the
totals of `loss_bt`'s own batch are used (right for an unsplit batch). Get them with
`aggregation_totals(mini_batch_mask_bt)`.

A sequence counts in num_seqs when it has at least one valid token, so all-padding rows (added to fill
a micro-batch) change nothing, and neither do rows whose mask is all 0 for another reason (a truncated
response masked out of the loss): a masked row is the same as an absent row in every mode. Masked
positions never reach the result (torch.where, so NaN padding is harmless).
"""

from __future__ import annotations

import torch
from torch import Tensor

from srpo.algo.masked import masked_sum
from srpo.core.registry import Registry

LOSS_AGGREGATIONS: Registry = Registry("loss aggregation")

Number = float | int | Tensor


def aggregation_totals(mask_bt: Tensor) -> dict[str, Tensor]:
    """Totals of a mini-batch's mask [B, T]: {"num_tokens": valid tokens, "num_seqs": rows with any}.

    Both are 0-dim float32 tensors (no host sync). Sum them over data-parallel ranks before use.
    """
    valid_bt = mask_bt.bool()
    return {
        "num_tokens": valid_bt.sum().to(torch.float32),
        "num_seqs": valid_bt.any(dim=-1).sum().to(torch.float32),
    }


def _denominator(given: Number | None, local: Tensor, ref: Tensor) -> Tensor:
    """The given total, else the local one, clamped at 1: a batch with no valid token (e.g. every
    response masked out) gives loss 0, not NaN. Totals are counts, so the clamp changes nothing else."""
    value = local if given is None else given
    return torch.as_tensor(value, dtype=ref.dtype, device=ref.device).clamp(min=1)


def _seq_sums(loss_bt: Tensor, mask_bt: Tensor) -> Tensor:
    """[B] sum of the valid token losses of each sequence."""
    return masked_sum(loss_bt, mask_bt, dim=-1)


@LOSS_AGGREGATIONS.register("token_mean")
def token_mean(
    loss_bt: Tensor,
    mask_bt: Tensor,
    *,
    num_tokens: Number | None = None,
    num_seqs: Number | None = None,
    norm_len: int | None = None,
) -> Tensor:
    """sum_{b,t} m l / num_tokens: every valid token of the mini-batch weighs the same (DAPO, SRPO;
    TRL "dapo"; verl "token-mean" when its mini-batch is not split)."""
    local = mask_bt.bool().sum()
    return masked_sum(loss_bt, mask_bt) / _denominator(num_tokens, local, loss_bt)


@LOSS_AGGREGATIONS.register("seq_mean_token_mean")
def seq_mean_token_mean(
    loss_bt: Tensor,
    mask_bt: Tensor,
    *,
    num_tokens: Number | None = None,
    num_seqs: Number | None = None,
    norm_len: int | None = None,
) -> Tensor:
    """sum_b [ sum_t m l / max(sum_t m, 1) ] / num_seqs: mean over sequences of each one's token mean
    (original GRPO; TRL "grpo"). Long responses get less weight per token."""
    valid_bt = mask_bt.bool()
    per_seq_b = _seq_sums(loss_bt, valid_bt) / valid_bt.sum(-1).clamp(min=1).to(loss_bt.dtype)
    local = valid_bt.any(-1).sum()
    return per_seq_b.sum() / _denominator(num_seqs, local, loss_bt)


@LOSS_AGGREGATIONS.register("seq_mean_token_sum")
def seq_mean_token_sum(
    loss_bt: Tensor,
    mask_bt: Tensor,
    *,
    num_tokens: Number | None = None,
    num_seqs: Number | None = None,
    norm_len: int | None = None,
) -> Tensor:
    """sum_{b,t} m l / num_seqs: mean over sequences of each one's token sum (scales with length)."""
    local = mask_bt.bool().any(-1).sum()
    return masked_sum(loss_bt, mask_bt) / _denominator(num_seqs, local, loss_bt)


@LOSS_AGGREGATIONS.register("seq_mean_token_sum_norm")
def seq_mean_token_sum_norm(
    loss_bt: Tensor,
    mask_bt: Tensor,
    *,
    num_tokens: Number | None = None,
    num_seqs: Number | None = None,
    norm_len: int | None = None,
) -> Tensor:
    """Dr. GRPO: sum_{b,t} m l / (num_seqs * norm_len), a constant normaliser with no length bias
    (TRL "dr_grpo" with norm_len = max_completion_length).

    norm_len should be the maximum response length of the run; None uses T = loss_bt.shape[-1], which
    is only split-invariant when every micro-batch is padded to the same T.
    """
    length = loss_bt.shape[-1] if norm_len is None else norm_len
    if not length > 0:
        raise ValueError(f"norm_len must be > 0, got {length}")
    local = mask_bt.bool().any(-1).sum()
    return masked_sum(loss_bt, mask_bt) / (_denominator(num_seqs, local, loss_bt) * length)
