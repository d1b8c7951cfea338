"""srpo's policy losses against verl 0.9's own (`verl.trainer.ppo.core_algos`), float64, same random inputs: the
aggregated loss and its gradient agree to rounding (verl's seq-mean-token-mean divides by n + 1e-8, hence
rtol 1e-8 there). The settings are the ones the verl recipe writes (`srpo.engines.verl.setup`). Runs in
.venv-verl (`make test-verl`); skipped without verl."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("verl")

from verl.trainer.ppo import core_algos  # noqa: E402
from verl.workers.config import ActorConfig  # noqa: E402

from srpo.algo import LOSS_AGGREGATIONS, POLICY_LOSSES, importance_weights  # noqa: E402
from srpo.engines.verl.setup import DUAL_CLIP_OFF, LOSS_AGG, LOSS_MODES  # noqa: E402


def _inputs(seed, B=6, T=9, spread=1.0):
    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(B, T, generator=g, dtype=torch.float64) * 3
    logp = old + (torch.rand(B, T, generator=g, dtype=torch.float64) - 0.5) * spread
    adv = torch.randn(B, generator=g, dtype=torch.float64)
    mask = (torch.rand(B, T, generator=g) > 0.25).to(torch.float64)
    mask[:, 0] = 1.0
    behaviour = old + 0.3 * torch.randn(B, T, generator=g, dtype=torch.float64)
    return logp, old, adv, mask, behaviour


def _verl(loss, logp, old, adv, mask, agg, weights=None, **actor):
    cfg = ActorConfig(strategy="fsdp", rollout_n=1, ppo_micro_batch_size_per_gpu=1, **actor)
    logp = logp.clone().requires_grad_(True)
    fn = core_algos.get_policy_loss_fn(LOSS_MODES[loss])
    value, metrics = fn(old_log_prob=old, log_prob=logp, advantages=adv[:, None].expand_as(logp),
                        response_mask=mask, loss_agg_mode=LOSS_AGG[agg], config=cfg, rollout_is_weights=weights)
    (grad,) = torch.autograd.grad(value, logp)
    return value.detach(), grad, metrics


def _srpo(loss, logp, old, adv, mask, agg, weights=None, **options):
    logp = logp.clone().requires_grad_(True)
    loss_bt, stats = POLICY_LOSSES.get(loss)(logp, old, adv, mask, **options)
    if weights is not None:
        loss_bt = loss_bt * weights
    value = LOSS_AGGREGATIONS.get(agg)(loss_bt, mask)
    (grad,) = torch.autograd.grad(value, logp)
    return value.detach(), grad, stats


# (srpo loss, srpo options, verl ActorConfig fields as the recipe writes them, aggregation)
CASES = [
    ("ppo_clip", dict(clip_low=0.2, clip_high=0.28), dict(clip_ratio_low=0.2, clip_ratio_high=0.28,
                                                          clip_ratio_c=DUAL_CLIP_OFF), "token_mean"),
    ("ppo_clip", dict(clip_low=0.2, clip_high=0.2, dual_clip=3.0), dict(clip_ratio_low=0.2, clip_ratio_high=0.2,
                                                                       clip_ratio_c=3.0), "seq_mean_token_sum"),
    ("ppo_clip", dict(clip_low=0.1, clip_high=0.3), dict(clip_ratio_low=0.1, clip_ratio_high=0.3,
                                                         clip_ratio_c=DUAL_CLIP_OFF), "seq_mean_token_mean"),
    ("gspo", dict(clip_low=3e-2, clip_high=4e-2), dict(clip_ratio_low=3e-2, clip_ratio_high=4e-2),
     "seq_mean_token_mean"),
    ("cispo", dict(clip_high=0.5), dict(clip_ratio_low=1.0, clip_ratio_high=0.5), "token_mean"),
    ("cispo", dict(clip_high=4.0), dict(clip_ratio_low=1.0, clip_ratio_high=4.0), "seq_mean_token_sum"),
    ("sapo", dict(tau_pos=1.0, tau_neg=1.05), dict(tau_pos=1.0, tau_neg=1.05), "seq_mean_token_mean"),
    ("sapo", dict(tau_pos=2.0, tau_neg=0.5), dict(tau_pos=2.0, tau_neg=0.5), "seq_mean_token_mean"),
]


def _rtol(agg):
    return 1e-7 if agg == "seq_mean_token_mean" else 1e-12


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("loss,options,actor,agg", CASES, ids=lambda x: str(x)[:30])
def test_loss_and_gradient_equal_verls(seed, loss, options, actor, agg):
    spread = 0.06 if loss == "gspo" else 1.0  # sequence ratios near GSPO's narrow range
    logp, old, adv, mask, _ = _inputs(seed, spread=spread)
    v_loss, v_grad, _ = _verl(loss, logp, old, adv, mask, agg, **actor)
    s_loss, s_grad, _ = _srpo(loss, logp, old, adv, mask, agg, **options)
    torch.testing.assert_close(s_loss, v_loss, rtol=_rtol(agg), atol=1e-14)
    torch.testing.assert_close(s_grad, v_grad, rtol=_rtol(agg), atol=1e-12)


@pytest.mark.parametrize("level", ["token", "sequence"])
@pytest.mark.parametrize("loss,options,actor,agg", [CASES[0], CASES[4], CASES[6]], ids=lambda x: str(x)[:30])
def test_rollout_weights_enter_the_loss_as_in_verl(level, loss, options, actor, agg):
    """verl multiplies its per-token policy loss by rollout_is_weights before aggregating; srpo's actor does too."""
    logp, old, adv, mask, behaviour = _inputs(3)
    w = importance_weights(old, behaviour, mask, level=level, mode="truncate", high=2.0)
    v_loss, v_grad, _ = _verl(loss, logp, old, adv, mask, agg, weights=w, **actor)
    s_loss, s_grad, _ = _srpo(loss, logp, old, adv, mask, agg, weights=w, **options)
    torch.testing.assert_close(s_loss, v_loss, rtol=_rtol(agg), atol=1e-14)
    torch.testing.assert_close(s_grad, v_grad, rtol=_rtol(agg), atol=1e-12)


def test_clip_fraction_is_verls_two_sided_count():
    logp, old, adv, mask, _ = _inputs(4, spread=1.5)
    _, _, metrics = _verl("ppo_clip", logp, old, adv, mask, "token_mean", clip_ratio_low=0.2, clip_ratio_high=0.28,
                          clip_ratio_c=DUAL_CLIP_OFF)
    _, _, stats = _srpo("ppo_clip", logp, old, adv, mask, "token_mean", clip_low=0.2, clip_high=0.28)
    both = float(stats["clipfrac_low"] + stats["clipfrac_high"])
    assert metrics["actor/pg_clipfrac"] == pytest.approx(both, rel=1e-7)


def test_gspo_differs_beyond_the_sequence_clamp():
    """Documented difference (docs/algo.md): verl clamps log s at +10 only and after adding logp - sg(logp), so a
    sequence above it gets no gradient; srpo clamps +-10 on the detached value and keeps s_b as the gradient."""
    logp, old, adv, mask, _ = _inputs(5)
    logp = logp.clone()
    logp[0] = old[0] + 11.0
    adv[0] = -1.0  # negative advantage: the unclipped branch is the one taken for a ratio above 1 + eps
    _, v_grad, _ = _verl("gspo", logp, old, adv, mask, "seq_mean_token_mean", clip_ratio_low=3e-4,
                         clip_ratio_high=4e-4)
    _, s_grad, _ = _srpo("gspo", logp, old, adv, mask, "seq_mean_token_mean", clip_low=3e-4, clip_high=4e-4)
    assert v_grad[0].abs().max() == 0 and s_grad[0].abs().max() > 0
    torch.testing.assert_close(s_grad[1:], v_grad[1:], rtol=1e-7, atol=1e-12)
