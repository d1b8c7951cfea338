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


def _log_ratio(logprobs_bt: Tensor, old_logprobs_bt: Tensor, log_ratio_clamp: float) -> Tensor:
    return torch.clamp(logprobs_bt - old_logprobs_bt.detach(), -log_ratio_clamp, log_ratio_clamp)


def _masked_zero(loss_bt: Tensor, mask_bt: Tensor) -> Tensor:
    return torch.where(mask_bt.bool(), loss_bt, torch.zeros_like(loss_bt))


@POLICY_LOSSES.register("gspo")
def gspo_loss(
    logprobs_bt: Tensor,
    old_logprobs_bt: Tensor,
    advantages_b: Tensor,
    mask_bt: Tensor,
    *,
    clip_low: float = 3e-4,
    clip_high: float = 4e-4,
    log_ratio_clamp: float = 10.0,
) -> tuple[Tensor, dict[str, Tensor]]:
    """GSPO (Zheng et al. 2025, arXiv 2507.18071), GSPO-token form: one importance ratio per sequence.

    log s_b = clamp(sum_t m (logp - old_logp) / max(sum_t m, 1), +-log_ratio_clamp)   [B], a length-normalised
    sequence ratio; s_bt = sg[s_b] * exp(logp - sg[logp]) has the value s_b and d s_bt / d logp_bt = s_b, so
    loss_bt = -min(s_bt * A, clip(s_bt, 1 - clip_low, 1 + clip_high) * A) clips whole sequences at once.
    Defaults 3e-4 / 4e-4 are the paper's ranges (also verl's GSPO recipe, clip_ratio_low/high with loss_mode
    "gspo", `compute_policy_loss_gspo`); log_ratio_clamp 10 is verl's clamp of the sequence log-ratio. With
    A per sequence the paper's objective is the mean over sequences of the mean over their tokens: aggregate
    with ``seq_mean_token_mean`` (the config refuses other aggregations with gspo).

    Shapes as ppo_clip; a sequence's ratio uses only its own row, so rows are independent (split invariant).
    Stats (masked token means): clipfrac_low/high (sequence ratio clipped, counted per token), clipfrac_dual
    (always 0), ratio_mean (mean s_b over tokens), approx_kl (token-level k3 of KL(old || new)).
    """
    adv_bt = _token_advantages(advantages_b.detach().to(logprobs_bt.dtype), logprobs_bt.shape)
    mask = mask_bt.bool()
    diff_bt = torch.where(mask, logprobs_bt - old_logprobs_bt.detach(), torch.zeros_like(logprobs_bt))
    log_seq_b = diff_bt.sum(-1) / mask.sum(-1).clamp(min=1).to(logprobs_bt.dtype)
    log_seq_b = torch.clamp(log_seq_b, -log_ratio_clamp, log_ratio_clamp)
    safe_logp_bt = torch.where(mask, logprobs_bt, torch.zeros_like(logprobs_bt))
    ratio_bt = torch.exp(log_seq_b.detach()[:, None] + safe_logp_bt - safe_logp_bt.detach())
    clipped_bt = torch.clamp(ratio_bt, 1.0 - clip_low, 1.0 + clip_high)
    loss_bt = _masked_zero(-torch.minimum(ratio_bt * adv_bt, clipped_bt * adv_bt), mask_bt)
    tok_log_ratio = _log_ratio(logprobs_bt, old_logprobs_bt, 20.0).detach()
    stats = _ppo_stats(ratio_bt.detach(), tok_log_ratio, adv_bt, mask_bt, clip_low, clip_high, None)
    stats["approx_kl"] = masked_mean(torch.exp(tok_log_ratio) - 1.0 - tok_log_ratio, mask_bt)
    return loss_bt, stats


@POLICY_LOSSES.register("cispo")
def cispo_loss(
    logprobs_bt: Tensor,
    old_logprobs_bt: Tensor,
    advantages_b: Tensor,
    mask_bt: Tensor,
    *,
    clip_low: float | None = None,
    clip_high: float = 4.0,
    log_ratio_clamp: float = 20.0,
) -> tuple[Tensor, dict[str, Tensor]]:
    """CISPO (MiniMax-M1, arXiv 2506.13585): REINFORCE weighted by a clipped, stop-gradient ratio.

    rho = exp(clamp(logp - old_logp, +-log_ratio_clamp));  w = sg(clip(rho, 1 - clip_low, 1 + clip_high))
    loss = -w * A * logp, so d loss / d logp = -w * A: every token keeps a gradient, only its weight is capped.
    clip_low None means no lower bound (MiniMax-M1 does not clip below in practice). clip_high 4 caps the
    weight at 5, TRL's recommended ``epsilon_high=5.0`` for loss_type "cispo" (ScaleRL's eps_max, arXiv
    2510.13786; TRL clamps the ratio at ``max=epsilon_high`` directly, hence cap = 1 + clip_high here).

    Shapes as ppo_clip. Stats: clipfrac_high (rho > 1 + clip_high), clipfrac_low (rho < 1 - clip_low; 0 without
    a lower bound), clipfrac_dual (0), ratio_mean, approx_kl (k3), all masked token means; clipping here
    is independent of the advantage's sign.
    """
    adv_bt = _token_advantages(advantages_b.detach().to(logprobs_bt.dtype), logprobs_bt.shape)
    log_ratio_bt = _log_ratio(logprobs_bt, old_logprobs_bt, log_ratio_clamp).detach()
    ratio_bt = torch.exp(log_ratio_bt)
    low = 0.0 if clip_low is None else 1.0 - clip_low
    weight_bt = torch.clamp(ratio_bt, min=low, max=1.0 + clip_high)
    safe_logp_bt = torch.where(mask_bt.bool(), logprobs_bt, torch.zeros_like(logprobs_bt))
    loss_bt = _masked_zero(-weight_bt * adv_bt * safe_logp_bt, mask_bt)
    dt = ratio_bt.dtype
    stats = {
        "clipfrac_low": masked_mean((ratio_bt < low).to(dt), mask_bt),
        "clipfrac_high": masked_mean((ratio_bt > 1.0 + clip_high).to(dt), mask_bt),
        "clipfrac_dual": masked_mean(torch.zeros_like(ratio_bt), mask_bt),
        "ratio_mean": masked_mean(ratio_bt, mask_bt),
        "approx_kl": masked_mean((ratio_bt - 1.0) - log_ratio_bt, mask_bt),
    }
    return loss_bt, stats


@POLICY_LOSSES.register("sapo")
def sapo_loss(
    logprobs_bt: Tensor,
    old_logprobs_bt: Tensor,
    advantages_b: Tensor,
    mask_bt: Tensor,
    *,
    tau_pos: float = 1.0,
    tau_neg: float = 1.05,
    log_ratio_clamp: float = 20.0,
) -> tuple[Tensor, dict[str, Tensor]]:
    """SAPO (Soft Adaptive Policy Optimization, Qwen 2025, arXiv 2511.20347): a soft gate instead of the clip.

    rho = exp(clamp(logp - old_logp, +-log_ratio_clamp));  tau = tau_pos where A > 0 else tau_neg
    f(rho) = sigmoid(tau * (rho - 1)) * 4 / tau;  loss = -f(rho) * A
    f(1) = 2 / tau and d f / d rho = 4 sigma (1 - sigma), 1 at rho = 1, decaying smoothly away from it.
    Defaults tau_pos 1.0, tau_neg 1.05 are TRL 1.16's ``sapo_temperature_pos/neg`` (citing the paper; a
    larger tau_neg damps negative-advantage tokens faster).

    Shapes as ppo_clip. Stats: clipfrac_low/high are the soft analogue, the fraction of tokens (A < 0 /
    A > 0) whose gate weight 4 sigma (1 - sigma) is below 1/2; clipfrac_dual 0; gate_weight_mean; ratio_mean;
    approx_kl (k3); all masked token means.
    """
    adv_bt = _token_advantages(advantages_b.detach().to(logprobs_bt.dtype), logprobs_bt.shape)
    log_ratio_bt = _log_ratio(logprobs_bt, old_logprobs_bt, log_ratio_clamp)
    ratio_bt = torch.exp(log_ratio_bt)
    tau_bt = torch.where(adv_bt > 0, torch.full_like(adv_bt, tau_pos), torch.full_like(adv_bt, tau_neg))
    sig_bt = torch.sigmoid(tau_bt * (ratio_bt - 1.0))
    loss_bt = _masked_zero(-sig_bt * 4.0 / tau_bt * adv_bt, mask_bt)
    gate_bt = (4.0 * sig_bt * (1.0 - sig_bt)).detach()
    ratio_bt, log_ratio_bt = ratio_bt.detach(), log_ratio_bt.detach()
    dt = ratio_bt.dtype
    soft = gate_bt < 0.5
    stats = {
        "clipfrac_low": masked_mean(((adv_bt < 0) & soft).to(dt), mask_bt),
        "clipfrac_high": masked_mean(((adv_bt > 0) & soft).to(dt), mask_bt),
        "clipfrac_dual": masked_mean(torch.zeros_like(ratio_bt), mask_bt),
        "gate_weight_mean": masked_mean(gate_bt, mask_bt),
        "ratio_mean": masked_mean(ratio_bt, mask_bt),
        "approx_kl": masked_mean((ratio_bt - 1.0) - log_ratio_bt, mask_bt),
    }
    return loss_bt, stats
