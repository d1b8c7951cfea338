"""Per-token policy-gradient losses. Aggregation to a scalar is a separate step (aggregation.py).

Every policy loss has the signature

    fn(logprobs_bt, old_logprobs_bt, advantages_b, mask_bt, **options) -> (loss_bt, stats)

logprobs_bt [B, T]: current policy, differentiable; old_logprobs_bt [B, T]: the policy that sampled the
tokens (no gradient); advantages_b [B] (one per sequence) or [B, T] (per token); mask_bt [B, T] 0/1.
loss_bt is 0 at masked positions. stats maps names to 0-dim detached tensors (masked token means).
"""

from __future__ import annotations

import torch
from torch import Tensor

from srpo.algo.masked import masked_mean
from srpo.core.registry import Registry

POLICY_LOSSES: Registry = Registry("policy loss")


def _token_advantages(advantages: Tensor, shape: torch.Size) -> Tensor:
    """[B] or [B, T] advantages as [B, T]."""
    if advantages.dim() == 1 and advantages.shape[0] == shape[0]:
        return advantages.unsqueeze(-1).expand(shape)
    if advantages.shape == shape:
        return advantages
    raise ValueError(f"advantages must be [B] or [B, T] for logprobs {tuple(shape)}, got {tuple(advantages.shape)}")


@POLICY_LOSSES.register("ppo_clip")
def ppo_clip_loss(
    logprobs_bt: Tensor,
    old_logprobs_bt: Tensor,
    advantages_b: Tensor,
    mask_bt: Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.28,
    dual_clip: float | None = None,
    log_ratio_clamp: float = 20.0,
) -> tuple[Tensor, dict[str, Tensor]]:
    """PPO clipped surrogate with asymmetric clip range (DAPO "clip-higher") and optional dual clip.

    rho = exp(clamp(logp - old_logp, -log_ratio_clamp, log_ratio_clamp))
    loss = -min(rho * A, clip(rho, 1 - clip_low, 1 + clip_high) * A)
    dual clip (Ye et al. 2020, arXiv 1912.09729), only where A < 0:  loss = min(loss, -dual_clip * A),
    i.e. the objective max(min(...), c * A) stops a token with a huge ratio and negative advantage from
    dominating the batch. The ranges (0 <= clip_low < 1, clip_high >= clip_low, dual_clip > 1 or None) are
    checked once, when the config is loaded (`srpo.config.algorithm.AlgorithmConfig`), not on every call.

    The log-ratio clamp (20, as verl) only guards exp() against overflow: exp(20) ~ 4.9e8. Inside the
    clamp the loss is exact; outside it the ratio is constant and the token gets no gradient.

    Shapes: logprobs/old_logprobs/mask [B, T]; advantages [B] or [B, T]. Returns loss_bt [B, T] (0 where
    masked) and stats, masked token means over the batch:
      clipfrac_low:  A < 0 and rho < 1 - clip_low  (lower clip active, no gradient)
      clipfrac_high: A > 0 and rho > 1 + clip_high (upper clip active, no gradient)
      clipfrac_dual: A < 0 and rho > dual_clip     (dual clip active; 0 when dual_clip is None)
      ratio_mean:    mean rho
      approx_kl:     k3 estimate of KL(old || new) = (rho - 1) - log rho, tokens sampled from old.
    """
    adv_bt = _token_advantages(advantages_b.detach().to(logprobs_bt.dtype), logprobs_bt.shape)
    log_ratio_bt = torch.clamp(logprobs_bt - old_logprobs_bt.detach(), -log_ratio_clamp, log_ratio_clamp)
    ratio_bt = torch.exp(log_ratio_bt)
    clipped_bt = torch.clamp(ratio_bt, 1.0 - clip_low, 1.0 + clip_high)
    loss_bt = -torch.minimum(ratio_bt * adv_bt, clipped_bt * adv_bt)
    neg_adv_bt = adv_bt < 0
    if dual_clip is not None:
        loss_bt = torch.where(neg_adv_bt, torch.minimum(loss_bt, -dual_clip * adv_bt), loss_bt)
    loss_bt = torch.where(mask_bt.bool(), loss_bt, torch.zeros_like(loss_bt))
    stats = _ppo_stats(ratio_bt.detach(), log_ratio_bt.detach(), adv_bt, mask_bt, clip_low, clip_high, dual_clip)
    return loss_bt, stats


def _ppo_stats(
    ratio_bt: Tensor,
    log_ratio_bt: Tensor,
    adv_bt: Tensor,
    mask_bt: Tensor,
    clip_low: float,
    clip_high: float,
    dual_clip: float | None,
) -> dict[str, Tensor]:
    """Masked token means of the clip indicators, the ratio and the k3 KL(old || new)."""
    dt = ratio_bt.dtype
    low = (adv_bt < 0) & (ratio_bt < 1.0 - clip_low)
    high = (adv_bt > 0) & (ratio_bt > 1.0 + clip_high)
    dual = (adv_bt < 0) & (ratio_bt > dual_clip) if dual_clip is not None else torch.zeros_like(low)
    return {
        "clipfrac_low": masked_mean(low.to(dt), mask_bt),
        "clipfrac_high": masked_mean(high.to(dt), mask_bt),
        "clipfrac_dual": masked_mean(dual.to(dt), mask_bt),
        "ratio_mean": masked_mean(ratio_bt, mask_bt),
        "approx_kl": masked_mean((ratio_bt - 1.0) - log_ratio_bt, mask_bt),
    }
