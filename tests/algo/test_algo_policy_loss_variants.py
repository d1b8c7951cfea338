"""gspo, cispo and sapo: loop references, hand-computed cases, split invariance (as ppo_clip's tests)."""

import math

import pytest
import torch

import _algo_ref as ref
from srpo.algo import LOSS_AGGREGATIONS, POLICY_LOSSES, aggregation_totals

STAT_NAMES = ("clipfrac_low", "clipfrac_high", "clipfrac_dual", "ratio_mean", "approx_kl")


def _inputs(seed, B=6, T=9, spread=3.0):
    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(B, T, generator=g, dtype=torch.float64) * 3
    logp = old + (torch.rand(B, T, generator=g, dtype=torch.float64) - 0.5) * spread
    signs = torch.tensor([(-1.0) ** b for b in range(B)], dtype=torch.float64)
    adv = (torch.rand(B, generator=g, dtype=torch.float64) + 0.1) * signs
    adv[0] = 0.0
    mask = torch.rand(B, T, generator=g) > 0.25
    mask[1] = False
    return logp, old, adv, mask


def _check_stats(stats, want):
    for name in (*STAT_NAMES, *(k for k in want if k not in STAT_NAMES)):
        assert stats[name].dim() == 0 and not stats[name].requires_grad
        assert stats[name].item() == pytest.approx(want[name], abs=1e-12), name


# ---- float64 loop references


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("clip_low,clip_high", [(3e-4, 4e-4), (0.01, 0.02)])
def test_gspo_matches_loop_reference(seed, clip_low, clip_high):
    logp, old, adv, mask = _inputs(seed, spread=0.004)  # sequence log-ratios near the tiny clip range
    loss, stats = POLICY_LOSSES.get("gspo")(logp, old, adv, mask, clip_low=clip_low, clip_high=clip_high)
    want, want_stats = ref.gspo(logp, old, adv, mask, clip_low, clip_high)
    torch.testing.assert_close(loss, torch.tensor(want, dtype=torch.float64), rtol=1e-12, atol=1e-12)
    _check_stats(stats, want_stats)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("clip_high", [4.0, 0.5])
def test_cispo_matches_loop_reference(seed, clip_high):
    logp, old, adv, mask = _inputs(seed, spread=6.0)  # ratios up to e^3 so the cap is hit
    logp = logp.requires_grad_(True)
    loss, stats = POLICY_LOSSES.get("cispo")(logp, old, adv, mask, clip_high=clip_high)
    want, want_grad, want_stats = ref.cispo(logp.detach(), old, adv, mask, clip_high)
    loss.sum().backward()
    torch.testing.assert_close(loss.detach(), torch.tensor(want, dtype=torch.float64), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(logp.grad, torch.tensor(want_grad, dtype=torch.float64), rtol=1e-12, atol=1e-12)
    _check_stats(stats, want_stats)
    assert want_stats["clipfrac_high"] > 0


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("tau_pos,tau_neg", [(1.0, 1.05), (2.0, 0.5)])
def test_sapo_matches_loop_reference(seed, tau_pos, tau_neg):
    logp, old, adv, mask = _inputs(seed, spread=4.0)
    logp = logp.requires_grad_(True)
    loss, stats = POLICY_LOSSES.get("sapo")(logp, old, adv, mask, tau_pos=tau_pos, tau_neg=tau_neg)
    want, want_grad, want_stats = ref.sapo(logp.detach(), old, adv, mask, tau_pos, tau_neg)
    loss.sum().backward()
    torch.testing.assert_close(loss.detach(), torch.tensor(want, dtype=torch.float64), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(logp.grad, torch.tensor(want_grad, dtype=torch.float64), rtol=1e-12, atol=1e-12)
    _check_stats(stats, want_stats)
    assert want_stats["clipfrac_low"] > 0 or want_stats["clipfrac_high"] > 0


def test_gspo_token_form_gradient_is_the_sequence_objective_gradient():
    """GSPO-token with seq_mean_token_mean has the gradient of -min(s A, clip(s) A), s = exp(mean log-ratio)."""
    logp, old, adv, mask = _inputs(3, spread=0.004)
    a = logp.clone().requires_grad_(True)
    loss_bt, _ = POLICY_LOSSES.get("gspo")(a, old, adv, mask)
    LOSS_AGGREGATIONS.get("seq_mean_token_mean")(loss_bt, mask).backward()
    b = logp.clone().requires_grad_(True)
    m = mask.to(torch.float64)
    keep = m.sum(-1) > 0
    s = torch.exp(((b - old) * m).sum(-1)[keep] / m.sum(-1)[keep])
    A = adv[keep]
    (-torch.minimum(s * A, torch.clamp(s, 1 - 3e-4, 1 + 4e-4) * A)).mean().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=1e-14)
    assert b.grad.abs().sum() > 0


# ---- hand-computed cases


def _run(name, log_ratios, adv, **kw):
    base = math.log(0.3)
    logp = torch.tensor([[base + x for x in log_ratios]], dtype=torch.float64, requires_grad=True)
    old = torch.full_like(logp, base).detach()
    loss, stats = POLICY_LOSSES.get(name)(logp, old, torch.tensor([adv], dtype=torch.float64),
                                          torch.ones_like(logp, dtype=torch.bool), **kw)
    loss.sum().backward()
    return loss.detach()[0].tolist(), logp.grad[0].tolist(), {k: v.item() for k, v in stats.items()}


def test_hand_gspo_inside_and_outside_the_sequence_clip():
    # log-ratios 1e-4, 3e-4: s = exp(2e-4) inside [1 - 3e-4, 1 + 4e-4]; A = 1: every token's loss -s, grad -s
    s = math.exp(2e-4)
    loss, grad, stats = _run("gspo", [1e-4, 3e-4], 1.0)
    assert loss == pytest.approx([-s, -s], abs=1e-15) and grad == pytest.approx([-s, -s], abs=1e-15)
    assert stats["clipfrac_high"] == 0 and stats["ratio_mean"] == pytest.approx(s, abs=1e-15)
    # log-ratios 0 and 2e-3: s = exp(1e-3) > 1 + 4e-4, so the whole sequence is clipped, no gradient,
    # although the first token's own ratio is exactly 1
    loss, grad, stats = _run("gspo", [0.0, 2e-3], 1.0)
    assert loss == pytest.approx([-(1 + 4e-4)] * 2, abs=1e-15) and grad == [0.0, 0.0]
    assert stats["clipfrac_high"] == 1.0
    # A < 0 below the range: clipped at 1 - 3e-4
    loss, grad, stats = _run("gspo", [-1e-3, -1e-3], -2.0)
    assert loss == pytest.approx([2 * (1 - 3e-4)] * 2, abs=1e-15) and grad == [0.0, 0.0]
    assert stats["clipfrac_low"] == 1.0


def test_hand_cispo_keeps_gradient_of_clipped_tokens():
    # rho = 2, A = 1: loss = -2 * log(0.6), grad = -2
    loss, grad, stats = _run("cispo", [math.log(2.0)], 1.0)
    assert loss[0] == pytest.approx(-2 * math.log(0.6), abs=1e-12) and grad[0] == pytest.approx(-2.0, abs=1e-12)
    assert stats["clipfrac_high"] == 0
    # rho = 10 > 5 (default cap 1 + 4): weight 5, still a gradient -5 (PPO would give 0 here)
    loss, grad, stats = _run("cispo", [math.log(10.0)], 1.0)
    assert loss[0] == pytest.approx(-5 * math.log(3.0), abs=1e-12) and grad[0] == pytest.approx(-5.0, abs=1e-12)
    assert stats["clipfrac_high"] == 1.0
    # negative advantage, no lower clip: rho = 0.1 keeps weight 0.1, grad = +0.1
    _, grad, stats = _run("cispo", [math.log(0.1)], -1.0)
    assert grad[0] == pytest.approx(0.1, abs=1e-12) and stats["clipfrac_low"] == 0


def test_hand_sapo_gate():
    # rho = 1, A = 1, tau_pos = 1: loss = -sigmoid(0) * 4 = -2, grad = -A * 4 * 1/4 * rho = -1
    loss, grad, stats = _run("sapo", [0.0], 1.0)
    assert loss[0] == pytest.approx(-2.0, abs=1e-15) and grad[0] == pytest.approx(-1.0, abs=1e-15)
    assert stats["gate_weight_mean"] == 1.0 and stats["clipfrac_high"] == 0
    # rho = 1, A = -1, tau_neg = 1.05: loss = 2 / 1.05, grad = +1
    loss, grad, _ = _run("sapo", [0.0], -1.0)
    assert loss[0] == pytest.approx(2 / 1.05, abs=1e-15) and grad[0] == pytest.approx(1.0, abs=1e-15)
    # rho = 4, A = 1: sigma = sigmoid(3), gate 4 sigma (1 - sigma) ~ 0.18 < 1/2 (softly "clipped")
    sig = 1 / (1 + math.exp(-3.0))
    loss, grad, stats = _run("sapo", [math.log(4.0)], 1.0)
    assert loss[0] == pytest.approx(-4 * sig, abs=1e-12)
    assert grad[0] == pytest.approx(-4 * sig * (1 - sig) * 4, abs=1e-12) and stats["clipfrac_high"] == 1.0


@pytest.mark.parametrize("name", ["gspo", "cispo", "sapo"])
def test_masked_positions_cannot_leak_nan(name):
    logp = torch.tensor([[-1.0, float("nan")], [-2.0, float("-inf")]], requires_grad=True)
    old = torch.tensor([[-1.1, -1.0], [-2.0, float("-inf")]])
    mask = torch.tensor([[1, 0], [1, 0]])
    loss, stats = POLICY_LOSSES.get(name)(logp, old, torch.tensor([1.0, -1.0]), mask)
    assert torch.isfinite(loss).all() and loss[0, 1] == 0 and loss[1, 1] == 0
    loss.sum().backward()
    assert torch.isfinite(logp.grad).all() and (logp.grad[:, 1] == 0).all()
    assert all(torch.isfinite(v) for v in stats.values())


# ---- split invariance: micro-batches (cut to their own length) with the mini-batch totals


SPLITS = [[[0, 1, 2], [3, 4, 5]], [[5], [0, 3], [1, 2, 4]]]


@pytest.mark.parametrize("name,agg", [("gspo", "seq_mean_token_mean"), ("cispo", "token_mean"),
                                      ("cispo", "seq_mean_token_sum"), ("sapo", "seq_mean_token_mean"),
                                      ("sapo", "token_mean")])
@pytest.mark.parametrize("split", SPLITS)
def test_split_invariance(name, agg, split):
    logp0, old, adv, mask = _inputs(5, spread=0.004 if name == "gspo" else 3.0)
    fn, aggregate = POLICY_LOSSES.get(name), LOSS_AGGREGATIONS.get(agg)

    def run(rows_list, totals):
        logp = logp0.clone().requires_grad_(True)
        total = torch.zeros((), dtype=torch.float64)
        for rows in rows_list:
            rows = torch.tensor(rows)
            t = max(1, int(mask[rows].nonzero()[:, 1].max()) + 1 if mask[rows].any() else 1)
            loss_bt, _ = fn(logp[rows, :t], old[rows, :t], adv[rows], mask[rows, :t])
            loss = aggregate(loss_bt, mask[rows, :t], **totals)
            loss.backward()
            total = total + loss.detach()
        return total, logp.grad

    full_loss, full_grad = run([list(range(6))], {})
    loss, grad = run(split, aggregation_totals(mask))
    assert torch.allclose(loss, full_loss, rtol=1e-12, atol=1e-14)
    assert torch.allclose(grad, full_grad, rtol=1e-12, atol=1e-14) and full_grad.abs().sum() > 0


# ---- config: options read only by their loss, nonsense refused at load


@pytest.mark.parametrize("overrides,message", [
    (["algorithm.policy_loss=gspo", "algorithm.loss_agg=token_mean"],
     "loss_agg: policy_loss=gspo needs seq_mean_token_mean"),
    (["algorithm.policy_loss=cispo", "algorithm.dual_clip=3"], "dual_clip: policy_loss=cispo does not read it"),
    (["algorithm.policy_loss=sapo", "algorithm.gspo_clip_low=0.1"], "gspo_clip_low: policy_loss=sapo does not"),
    (["algorithm.gspo_clip_high=0.01"], "gspo_clip_high: policy_loss=ppo_clip does not read it"),
    (["algorithm.policy_loss=sapo", "algorithm.sapo_tau_neg=0"], "sapo_tau_pos/neg: must be > 0"),
    (["algorithm.policy_loss=cispo", "algorithm.cispo_clip_high=-1"], "cispo_clip_high: must be > 0"),
    (["algorithm.policy_loss=sapo", "algorithm.dual_clip=3"], "dual_clip: policy_loss=sapo does not read it"),
    (["algorithm.policy_loss=gspo", "algorithm.loss_agg=seq_mean_token_mean", "algorithm.dual_clip=3"],
     "dual_clip: policy_loss=gspo does not read it"),
    (["algorithm.policy_loss=gspo", "algorithm.loss_agg=seq_mean_token_mean", "algorithm.log_ratio_clamp=5"],
     "log_ratio_clamp: policy_loss=gspo does not read it"),
    (["algorithm.policy_loss=cispo", "algorithm.sapo_tau_pos=2"], "sapo_tau_pos: policy_loss=cispo does not"),
    (["algorithm.policy_loss=ppo_clip", "algorithm.cispo_clip_high=2"], "cispo_clip_high: policy_loss=ppo_clip")])
def test_nonsense_refused_at_load(overrides, message):
    from srpo.config import load_config
    from srpo.core.configlib import ConfigError

    with pytest.raises(ConfigError, match=f"algorithm.{message}"):
        load_config("grpo", overrides)


@pytest.mark.parametrize("overrides,want", [
    (["algorithm.policy_loss=gspo", "algorithm.loss_agg=seq_mean_token_mean"], dict(clip_low=3e-4, clip_high=4e-4)),
    (["algorithm.policy_loss=cispo"], dict(clip_high=4.0, log_ratio_clamp=20.0)),
    (["algorithm.policy_loss=sapo", "algorithm.sapo_tau_pos=2"], dict(tau_pos=2.0, tau_neg=1.05,
                                                                        log_ratio_clamp=20.0))])
def test_config_passes_each_loss_its_own_options(overrides, want):
    from srpo.config import load_config

    cfg = load_config("grpo", overrides)
    assert cfg.algorithm.policy_loss_options() == want


@pytest.mark.parametrize("preset", ["grpo", "dapo", "srpo", "demo"])
@pytest.mark.parametrize("loss", ["cispo", "sapo", "gspo"])
def test_every_preset_takes_every_loss_with_its_clip_range_left_alone(preset, loss):
    """clip_low/clip_high are ppo_clip's and set by presets, so switching the loss keeps them (ignored, not
    refused); gspo needs its aggregation, which presets with token_mean must change."""
    from srpo.config import load_config
    from srpo.config.algorithm import LOSS_OPTIONS
    from srpo.core.configlib import ConfigError

    overrides = [f"algorithm.policy_loss={loss}"]
    cfg = load_config(preset, overrides + (["algorithm.loss_agg=seq_mean_token_mean"] if loss == "gspo" else []))
    assert cfg.algorithm.clip_high == load_config(preset, []).algorithm.clip_high
    assert {"clip_low", "clip_high"}.isdisjoint(LOSS_OPTIONS[loss])  # ignored by this loss
    if loss == "gspo" and load_config(preset, []).algorithm.loss_agg != "seq_mean_token_mean":
        with pytest.raises(ConfigError, match="algorithm.loss_agg: policy_loss=gspo needs seq_mean_token_mean"):
            load_config(preset, overrides)
