import math

import pytest
import torch

import _algo_ref as ref
from srpo.algo import POLICY_LOSSES

ppo = POLICY_LOSSES.get("ppo_clip")
STAT_NAMES = ("clipfrac_low", "clipfrac_high", "clipfrac_dual", "ratio_mean", "approx_kl")


def _inputs(seed, B=6, T=9):
    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(B, T, generator=g, dtype=torch.float64) * 3
    # log-ratios spread over [-1.5, 1.5] so both clips and the dual clip (c=3 -> log 1.1) are hit
    logp = old + (torch.rand(B, T, generator=g, dtype=torch.float64) - 0.5) * 3
    signs = torch.tensor([(-1.0) ** b for b in range(B)], dtype=torch.float64)
    adv = (torch.rand(B, generator=g, dtype=torch.float64) + 0.1) * signs
    adv[0] = 0.0
    mask = torch.rand(B, T, generator=g) > 0.25
    mask[1] = False  # an all-padding row
    return logp, old, adv, mask


@pytest.mark.parametrize(
    "clip_low,clip_high,dual_clip",
    [(0.2, 0.2, None), (0.2, 0.28, None), (0.1, 0.4, None), (0.2, 0.28, 3.0), (0.2, 0.2, 1.5)],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_loop_reference(clip_low, clip_high, dual_clip, seed):
    logp, old, adv, mask = _inputs(seed)
    loss, stats = ppo(logp, old, adv, mask, clip_low=clip_low, clip_high=clip_high, dual_clip=dual_clip)
    want_loss, want_stats = ref.ppo_clip(logp, old, adv, mask, clip_low, clip_high, dual_clip, 20.0)
    torch.testing.assert_close(loss, torch.tensor(want_loss, dtype=torch.float64), rtol=1e-12, atol=1e-12)
    for name in STAT_NAMES:
        assert stats[name].dim() == 0 and not stats[name].requires_grad
        assert stats[name].item() == pytest.approx(want_stats[name], abs=1e-12), name
    # the chosen inputs really exercise the clips being tested
    assert want_stats["clipfrac_low"] > 0 and want_stats["clipfrac_high"] > 0
    if dual_clip is not None:
        assert want_stats["clipfrac_dual"] > 0


def _one_token(log_ratio, adv, **kw):
    logp = torch.tensor([[math.log(0.3) + log_ratio]], dtype=torch.float64, requires_grad=True)
    old = torch.tensor([[math.log(0.3)]], dtype=torch.float64)
    loss, stats = ppo(logp, old, torch.tensor([adv], dtype=torch.float64), torch.ones(1, 1, dtype=torch.bool), **kw)
    loss.sum().backward()
    return loss.item(), logp.grad.item(), stats


def test_hand_inside_clip_range():
    # rho = 1.1, A = 2: loss = -2.2, d loss / d logp = -A * rho = -2.2
    loss, grad, stats = _one_token(math.log(1.1), 2.0)
    assert loss == pytest.approx(-2.2, abs=1e-12) and grad == pytest.approx(-2.2, abs=1e-12)
    assert stats["clipfrac_high"].item() == 0 and stats["ratio_mean"].item() == pytest.approx(1.1)
    assert stats["approx_kl"].item() == pytest.approx(0.1 - math.log(1.1), abs=1e-12)


def test_hand_above_clip_high_has_zero_gradient():
    # rho = 1.5 > 1 + 0.28, A = 1: loss = -1.28, clipped, no gradient
    loss, grad, stats = _one_token(math.log(1.5), 1.0)
    assert loss == pytest.approx(-1.28, abs=1e-12) and grad == 0.0
    assert stats["clipfrac_high"].item() == 1.0 and stats["clipfrac_low"].item() == 0.0


def test_hand_asymmetric_clip_uses_clip_high_not_clip_low():
    # rho = 1.25 is outside 1 + 0.2 but inside 1 + 0.28: unclipped
    loss, grad, _ = _one_token(math.log(1.25), 1.0, clip_low=0.2, clip_high=0.28)
    assert loss == pytest.approx(-1.25, abs=1e-12) and grad == pytest.approx(-1.25, abs=1e-12)


def test_hand_below_clip_low_negative_advantage_has_zero_gradient():
    # rho = 0.5 < 1 - 0.2, A = -1: loss = -(0.8 * -1) = 0.8, no gradient
    loss, grad, stats = _one_token(math.log(0.5), -1.0)
    assert loss == pytest.approx(0.8, abs=1e-12) and grad == 0.0
    assert stats["clipfrac_low"].item() == 1.0


def test_hand_below_clip_low_positive_advantage_keeps_gradient():
    # rho = 0.5, A = +1: min(0.5, 0.8) = 0.5 is the unclipped term, gradient -A * rho = -0.5
    loss, grad, stats = _one_token(math.log(0.5), 1.0)
    assert loss == pytest.approx(-0.5, abs=1e-12) and grad == pytest.approx(-0.5, abs=1e-12)
    assert stats["clipfrac_low"].item() == 0.0


def test_hand_dual_clip():
    # rho = 5, A = -1: plain PPO loss = 5 with gradient -A * rho = 5; dual clip c=3 caps the loss at 3, no gradient
    loss, grad, stats = _one_token(math.log(5.0), -1.0)
    assert loss == pytest.approx(5.0, abs=1e-12) and grad == pytest.approx(5.0, abs=1e-12)
    assert stats["clipfrac_dual"].item() == 0.0
    loss, grad, stats = _one_token(math.log(5.0), -1.0, dual_clip=3.0)
    assert loss == pytest.approx(3.0, abs=1e-12) and grad == 0.0
    assert stats["clipfrac_dual"].item() == 1.0
    # dual clip never touches positive advantages
    loss, _, _ = _one_token(math.log(5.0), 1.0, dual_clip=3.0)
    assert loss == pytest.approx(-1.28, abs=1e-12)


def test_log_ratio_clamp_keeps_loss_finite():
    # log-ratio 100 would overflow exp in float32; it is clamped to 20 -> rho = exp(20), no gradient
    logp = torch.tensor([[100.0]], requires_grad=True)
    loss, stats = ppo(logp, torch.zeros(1, 1), torch.tensor([-1.0]), torch.ones(1, 1))
    loss.sum().backward()
    assert loss.item() == pytest.approx(math.exp(20.0), rel=1e-6)
    assert logp.grad.item() == 0.0 and torch.isfinite(stats["approx_kl"])


def test_masked_positions_cannot_leak_nan():
    logp = torch.tensor([[-1.0, float("nan")], [-2.0, float("-inf")]], requires_grad=True)
    old = torch.tensor([[-1.1, -1.0], [-2.0, float("-inf")]])
    mask = torch.tensor([[1, 0], [1, 0]])
    loss, stats = ppo(logp, old, torch.tensor([1.0, -1.0]), mask)
    assert torch.isfinite(loss).all() and loss[0, 1] == 0 and loss[1, 1] == 0
    loss.sum().backward()
    assert torch.isfinite(logp.grad).all() and (logp.grad[:, 1] == 0).all()
    assert all(torch.isfinite(v) for v in stats.values())


def test_token_level_advantages_accepted():
    logp, old, adv, mask = _inputs(3)
    a, _ = ppo(logp, old, adv, mask)
    b, _ = ppo(logp, old, adv[:, None].expand_as(logp).clone(), mask)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_gradcheck():
    logp, old, adv, mask = _inputs(4, B=3, T=4)
    logp = logp.clone().requires_grad_(True)

    def f(x):
        return ppo(x, old, adv, mask, clip_low=0.2, clip_high=0.28, dual_clip=3.0)[0]

    # keep every ratio away from the kinks at 0.8, 1.28 and 3 where the loss is not differentiable
    ratio = torch.exp(logp.detach() - old)
    for kink in (0.8, 1.28, 3.0):
        assert ((ratio - kink).abs() > 1e-3).all()
    assert torch.autograd.gradcheck(f, (logp,), eps=1e-7, atol=1e-6)


def test_invalid_options_rejected():
    logp, old, adv, mask = _inputs(0)
    with pytest.raises(ValueError, match="advantages"):
        ppo(logp, old, adv[:3], mask)


@pytest.mark.parametrize("override,message", [
    ("algorithm.clip_low=1.0", "clip_low: must be in"), ("algorithm.dual_clip=1.0", "dual_clip: must be > 1"),
    ("algorithm.clip_high=0.1", "clip_high: must be >= clip_low")])
def test_clip_ranges_are_checked_once_at_config_load(override, message):
    from srpo.config import load_config
    from srpo.core.configlib import ConfigError

    with pytest.raises(ConfigError, match=f"algorithm.{message}"):
        load_config("grpo", [override])
