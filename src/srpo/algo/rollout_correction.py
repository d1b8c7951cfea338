"""Rollout/training mismatch correction: importance weights between the training policy's pi_old and the
rollout engine's behaviour policy mu, truncated (TIS) or masked (IcePop / MIS), and sequence rejection.

Notation, all [B, T] unless noted, m = mask_bt (valid response tokens):

    delta_bt = m * (old_logp - behaviour_logp)          log pi_old / mu per token (0 where m = 0)
    token level:     log w_bt = clamp(delta_bt, +-c)
    sequence level:  log w_b  = clamp(sum_t delta_bt, +-c), broadcast to the row's tokens
    truncate (TIS):  w = clamp(w, low, high)             (low None: no lower bound)
    mask (IcePop/MIS): w = w if low <= w <= high else 0  (low None: 0, high None: inf)

The weight multiplies the per-token policy loss (a change of measure from mu to pi_old, so it carries no
gradient: it is computed from detached log-probs once per step). c = 20 (exp(20) ~ 4.9e8) only guards exp();
any weight beyond it is far outside every bound. Rejection drops whole sequences from the loss (and from the
aggregation totals, as an absent row) when a per-sequence statistic s_b of delta (`REJECTION_STATISTICS`)
has |s_b| > threshold. Every function is row-local, so splitting a batch into micro-batches changes nothing.
"""

from __future__ import annotations

import torch
from torch import Tensor

from srpo.algo.masked import masked_mean
from srpo.core.registry import Registry

REJECTION_STATISTICS: Registry = Registry("rejection statistic")
CORRECTION_LOG_RATIO_CLAMP = 20.0


def rollout_log_ratio(old_logprobs_bt: Tensor, behaviour_logprobs_bt: Tensor, mask_bt: Tensor) -> Tensor:
    """delta_bt = old_logp - behaviour_logp where mask_bt, else exactly 0 (NaN/inf padding cannot leak)."""
    delta = old_logprobs_bt.detach() - behaviour_logprobs_bt.detach()
    return torch.where(mask_bt.bool(), delta, torch.zeros_like(delta))


def importance_weights(old_logprobs_bt: Tensor, behaviour_logprobs_bt: Tensor, mask_bt: Tensor, *,
                       level: str = "sequence", mode: str = "mask", low: float | None = None,
                       high: float | None = 3.0, log_ratio_clamp: float = CORRECTION_LOG_RATIO_CLAMP) -> Tensor:
    """Weights w_bt [B, T] (0 where mask_bt is 0) for the per-token policy loss; formulas in the module docstring.

    level: ``token`` (w_bt = pi_old / mu of token t) or ``sequence`` (w_b = prod_t pi_old / mu, one per row).
    mode: ``truncate`` clamps w into [low, high] (TIS; Yao et al. 2025); ``mask`` zeroes w outside
    [low, high] (IcePop at token level, MIS at sequence level; a masked token keeps its place in the
    aggregation's totals, as TRL's ``*_mask`` modes). Bounds are checked when the config loads.
    """
    delta_bt = rollout_log_ratio(old_logprobs_bt, behaviour_logprobs_bt, mask_bt)
    if level == "sequence":
        delta_bt = delta_bt.sum(-1, keepdim=True).expand_as(delta_bt)
    elif level != "token":
        raise ValueError(f"level must be 'token' or 'sequence', got {level!r}")
    w_bt = torch.exp(torch.clamp(delta_bt, -log_ratio_clamp, log_ratio_clamp))
    if mode == "truncate":
        w_bt = torch.clamp(w_bt, min=low, max=high)
    elif mode == "mask":
        lo = 0.0 if low is None else low
        hi = float("inf") if high is None else high
        w_bt = torch.where((w_bt >= lo) & (w_bt <= hi), w_bt, torch.zeros_like(w_bt))
    else:
        raise ValueError(f"mode must be 'truncate' or 'mask', got {mode!r}")
    return torch.where(mask_bt.bool(), w_bt, torch.zeros_like(w_bt))


def _counts(mask_bt: Tensor, dtype: torch.dtype) -> Tensor:
    return mask_bt.bool().sum(-1).clamp(min=1).to(dtype)


@REJECTION_STATISTICS.register("max_abs")
def max_abs_log_ratio(delta_bt: Tensor, mask_bt: Tensor) -> Tensor:
    """s_b = max_t m |delta_bt| (0 for an empty row): the worst token of the sequence."""
    return torch.where(mask_bt.bool(), delta_bt.abs(), torch.zeros_like(delta_bt)).amax(-1)


@REJECTION_STATISTICS.register("mean_abs")
def mean_abs_log_ratio(delta_bt: Tensor, mask_bt: Tensor) -> Tensor:
    """s_b = sum_t m |delta_bt| / max(n_b, 1): the typical token disagreement."""
    abs_bt = torch.where(mask_bt.bool(), delta_bt.abs(), torch.zeros_like(delta_bt))
    return abs_bt.sum(-1) / _counts(mask_bt, delta_bt.dtype)


@REJECTION_STATISTICS.register("mean")
def mean_log_ratio(delta_bt: Tensor, mask_bt: Tensor) -> Tensor:
    """s_b = sum_t m delta_bt / max(n_b, 1): the log of the geometric-mean ratio (verl's ``geometric``)."""
    return torch.where(mask_bt.bool(), delta_bt, torch.zeros_like(delta_bt)).sum(-1) / _counts(mask_bt, delta_bt.dtype)


@REJECTION_STATISTICS.register("sum")
def sum_log_ratio(delta_bt: Tensor, mask_bt: Tensor) -> Tensor:
    """s_b = sum_t m delta_bt: the log of the sequence ratio prod_t pi_old / mu."""
    return torch.where(mask_bt.bool(), delta_bt, torch.zeros_like(delta_bt)).sum(-1)


def rejection_keep(old_logprobs_bt: Tensor, behaviour_logprobs_bt: Tensor, mask_bt: Tensor, *,
                   statistic: str, threshold: float) -> Tensor:
    """keep_b [B] bool: |s_b| <= threshold with s_b = REJECTION_STATISTICS[statistic](clamp(delta_bt, +-c), mask_bt).

    For ``max_abs`` / ``mean_abs`` s_b >= 0; for ``mean`` / ``sum`` the bound is two-sided in log space, i.e.
    the ratio exp(s_b) must lie in [exp(-threshold), exp(threshold)]. An empty row (s_b = 0) is kept. Each
    token's log-ratio is clamped at +-c = 20 first, as verl's rejection does (only a token beyond it differs).
    """
    delta_bt = rollout_log_ratio(old_logprobs_bt, behaviour_logprobs_bt, mask_bt)
    delta_bt = torch.clamp(delta_bt, -CORRECTION_LOG_RATIO_CLAMP, CORRECTION_LOG_RATIO_CLAMP)
    return REJECTION_STATISTICS.get(statistic)(delta_bt, mask_bt).abs() <= threshold


def mismatch_stats(old_logprobs_bt: Tensor, behaviour_logprobs_bt: Tensor, mask_bt: Tensor,
                   weights_bt: Tensor | None = None, keep_b: Tensor | None = None) -> dict[str, Tensor]:
    """Diagnostics (0-dim tensors) of the gap between mu (rollout) and pi_old (training) on mask_bt's tokens.

    kl_k1 = mean_t (behaviour - old) and kl_k3 = mean_t (r - 1 - log r) with r = pi_old / mu: both are unbiased
    estimates of KL(mu || pi_old) per token, the tokens being samples of mu; k3 is >= 0 per token.
    weight_mean / weight_max: the applied weights over valid tokens (1 without weights); masked_token_frac:
    share of valid tokens whose weight is 0 or whose row is rejected; masked_seq_frac: share of rows (with a
    token) that lose every token; rejected_seq_frac: share of rows rejected (`rejection_keep`).
    """
    mask = mask_bt.bool()
    delta_bt = rollout_log_ratio(old_logprobs_bt, behaviour_logprobs_bt, mask_bt)
    clamped = torch.clamp(delta_bt, -CORRECTION_LOG_RATIO_CLAMP, CORRECTION_LOG_RATIO_CLAMP)
    w_bt = torch.ones_like(delta_bt) if weights_bt is None else weights_bt.detach().to(delta_bt.dtype)
    keep = torch.ones(mask.shape[0], dtype=torch.bool, device=mask.device) if keep_b is None else keep_b.bool()
    dropped_bt = mask & ((w_bt == 0) | ~keep[:, None])
    rows = mask.any(-1)
    dt, dt_zero = delta_bt.dtype, delta_bt.new_zeros(())
    return {
        "kl_k1": masked_mean(-delta_bt, mask),
        "kl_k3": masked_mean(torch.exp(clamped) - 1.0 - clamped, mask),
        "weight_mean": masked_mean(w_bt, mask),
        "weight_max": torch.where(mask, w_bt, torch.zeros_like(w_bt)).amax() if mask.numel() else dt_zero,
        "masked_token_frac": masked_mean(dropped_bt.to(dt), mask),
        "masked_seq_frac": masked_mean(((dropped_bt.sum(-1) == mask.sum(-1)) & rows).to(dt), rows),
        "rejected_seq_frac": masked_mean((~keep).to(dt), rows),
    }
