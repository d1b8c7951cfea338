"""Mismatch correction (srpo.algo.rollout_correction): float64 loop references, hand cases, split invariance."""

import math

import pytest
import torch

from srpo.algo import (LOSS_AGGREGATIONS, POLICY_LOSSES, REJECTION_STATISTICS, aggregation_totals, importance_weights,
                       mismatch_stats, rejection_keep)


def _inputs(seed, B=7, T=10, spread=1.5):
    g = torch.Generator().manual_seed(seed)
    behaviour = -torch.rand(B, T, generator=g, dtype=torch.float64) * 3
    old = behaviour + (torch.rand(B, T, generator=g, dtype=torch.float64) - 0.5) * spread
    mask = torch.rand(B, T, generator=g) > 0.2
    mask[1] = False  # an empty row
    old[~mask] = float("nan")  # padding may hold anything
    return old, behaviour, mask


# ---- slow references, written as loops over rows and tokens


def _ref_weights(old, beh, mask, level, mode, low, high):
    B, T = old.shape
    out = [[0.0] * T for _ in range(B)]
    for b in range(B):
        deltas = [float(old[b, t] - beh[b, t]) for t in range(T) if mask[b, t]]
        seq = sum(deltas)
        for t in range(T):
            if not mask[b, t]:
                continue
            d = seq if level == "sequence" else float(old[b, t] - beh[b, t])
            w = math.exp(min(max(d, -20.0), 20.0))
            lo = -math.inf if low is None else low
            hi = math.inf if high is None else high
            if mode == "truncate":
                w = min(max(w, lo), hi)
            elif not lo <= w <= hi:
                w = 0.0
            out[b][t] = w
    return torch.tensor(out, dtype=torch.float64)


def _ref_statistic(deltas, name):
    if not deltas:
        return 0.0
    return {"max_abs": max(abs(d) for d in deltas), "mean_abs": sum(abs(d) for d in deltas) / len(deltas),
            "mean": sum(deltas) / len(deltas), "sum": sum(deltas)}[name]


def _ref_keep(old, beh, mask, name, threshold):
    keep = []
    for b in range(old.shape[0]):
        deltas = [min(max(float(old[b, t] - beh[b, t]), -20.0), 20.0) for t in range(old.shape[1]) if mask[b, t]]
        keep.append(abs(_ref_statistic(deltas, name)) <= threshold)
    return torch.tensor(keep)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("level", ["token", "sequence"])
@pytest.mark.parametrize("mode,low,high", [("truncate", None, 2.0), ("truncate", 0.5, 3.0), ("mask", None, 3.0),
                                           ("mask", 0.5, 2.0), ("mask", 0.8, None)])
def test_weights_match_loop_reference(seed, level, mode, low, high):
    old, beh, mask = _inputs(seed)
    got = importance_weights(old, beh, mask, level=level, mode=mode, low=low, high=high)
    torch.testing.assert_close(got, _ref_weights(old, beh, mask, level, mode, low, high), rtol=1e-12, atol=0)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", sorted(REJECTION_STATISTICS.names()))
@pytest.mark.parametrize("threshold", [0.05, 0.3, 1.0])
def test_rejection_matches_loop_reference(seed, name, threshold):
    old, beh, mask = _inputs(seed)
    got = rejection_keep(old, beh, mask, statistic=name, threshold=threshold)
    assert got.tolist() == _ref_keep(old, beh, mask, name, threshold).tolist()


def test_mismatch_stats_match_loop_reference():
    old, beh, mask = _inputs(3)
    w = importance_weights(old, beh, mask, level="token", mode="mask", low=0.7, high=1.3)
    keep = rejection_keep(old, beh, mask, statistic="max_abs", threshold=0.6)
    got = mismatch_stats(old, beh, mask, w, keep)
    k1 = k3 = wsum = dropped = 0.0
    wmax, n = 0.0, int(mask.sum())
    seq_dropped = rejected = rows = 0
    for b in range(old.shape[0]):
        tokens = [t for t in range(old.shape[1]) if mask[b, t]]
        if not tokens:
            continue
        rows += 1
        rejected += not bool(keep[b])
        lost = 0
        for t in tokens:
            d = float(old[b, t] - beh[b, t])
            k1 += -d
            k3 += math.exp(d) - 1 - d
            wsum += float(w[b, t])
            wmax = max(wmax, float(w[b, t]))
            gone = float(w[b, t]) == 0 or not bool(keep[b])
            dropped += gone
            lost += gone
        seq_dropped += lost == len(tokens)
    want = {"kl_k1": k1 / n, "kl_k3": k3 / n, "weight_mean": wsum / n, "weight_max": wmax,
            "masked_token_frac": dropped / n, "masked_seq_frac": seq_dropped / rows,
            "rejected_seq_frac": rejected / rows}
    assert {k: float(v) for k, v in got.items()} == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert 0 < want["masked_token_frac"] < 1 and 0 < want["rejected_seq_frac"] < 1


# ---- hand-computed cases


def _pair(deltas):
    beh = torch.full((1, len(deltas)), -1.0, dtype=torch.float64)
    return beh + torch.tensor([deltas], dtype=torch.float64), beh, torch.ones(1, len(deltas), dtype=torch.bool)


def test_hand_cases_for_weights():
    old, beh, mask = _pair([math.log(4.0), math.log(0.25), 0.0])
    tok = dict(level="token", low=None, high=2.0)
    assert importance_weights(old, beh, mask, mode="truncate", **tok)[0].tolist() == pytest.approx([2.0, 0.25, 1.0])
    assert importance_weights(old, beh, mask, mode="mask", **tok)[0].tolist() == pytest.approx([0.0, 0.25, 1.0])
    assert importance_weights(old, beh, mask, mode="mask", level="token", low=0.5, high=5.0)[0].tolist() == \
        pytest.approx([4.0, 0.0, 1.0])
    # sequence level: prod = 4 * 0.25 * 1 = 1 on every token, whatever the bounds
    assert importance_weights(old, beh, mask, level="sequence", mode="mask", high=1.5)[0].tolist() == \
        pytest.approx([1.0, 1.0, 1.0])
    old2, beh2, mask2 = _pair([math.log(2.0), math.log(2.0)])  # prod = 4
    assert importance_weights(old2, beh2, mask2, level="sequence", mode="truncate", high=3.0)[0].tolist() == \
        pytest.approx([3.0, 3.0])
    assert importance_weights(old2, beh2, mask2, level="sequence", mode="mask", high=3.0).tolist() == [[0.0, 0.0]]


def test_hand_cases_for_rejection_and_kl():
    old, beh, mask = _pair([0.5, -0.1, 0.0, 0.0])
    keep = {name: rejection_keep(old, beh, mask, statistic=name, threshold=0.2).item()
            for name in ("max_abs", "mean_abs", "mean", "sum")}
    # max |d| = 0.5, mean |d| = 0.15, mean d = 0.1, sum d = 0.4
    assert keep == {"max_abs": False, "mean_abs": True, "mean": True, "sum": False}
    stats = mismatch_stats(old, beh, mask)
    assert stats["kl_k1"].item() == pytest.approx(-0.4 / 4)
    assert stats["kl_k3"].item() == pytest.approx((math.exp(0.5) - 1.5 + math.exp(-0.1) - 0.9) / 4)
    assert stats["weight_mean"].item() == 1.0 and stats["masked_token_frac"].item() == 0.0


def test_kl_estimators_are_unbiased_for_kl_of_behaviour_from_old():
    """Tokens drawn from mu: E_mu[k1] = E_mu[k3] = KL(mu || pi_old), exactly, on a 3-token vocabulary."""
    mu = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    pi = torch.tensor([0.4, 0.4, 0.2], dtype=torch.float64)
    kl = float((mu * (mu / pi).log()).sum())
    for name in ("kl_k1", "kl_k3"):
        per_token = [mismatch_stats(pi[v].log().view(1, 1), mu[v].log().view(1, 1), torch.ones(1, 1))[name]
                     for v in range(3)]
        assert float(sum(m * s for m, s in zip(mu, per_token))) == pytest.approx(kl, rel=1e-12)


def test_no_gradient_flows_through_the_weights():
    old, beh, mask = _inputs(0)
    old = old.nan_to_num().requires_grad_(True)
    assert not importance_weights(old, beh, mask).requires_grad


def test_empty_batch_and_all_masked():
    old, beh, mask = _inputs(0)
    mask[:] = False
    stats = mismatch_stats(old, beh, mask, importance_weights(old, beh, mask))
    assert all(v.item() == 0.0 for v in stats.values())
    assert rejection_keep(old, beh, mask, statistic="sum", threshold=0.1).all()


# ---- split invariance: a weighted, partly rejected mini-batch cut into micro-batches


@pytest.mark.parametrize("agg", sorted(LOSS_AGGREGATIONS.names()))
@pytest.mark.parametrize("level", ["token", "sequence"])
def test_weighted_loss_is_split_invariant(agg, level):
    old, beh, mask = _inputs(4, B=8)
    old = old.nan_to_num()
    g = torch.Generator().manual_seed(9)
    logp = (old + 0.1 * torch.randn(old.shape, generator=g, dtype=torch.float64)).requires_grad_(True)
    adv = torch.randn(8, generator=g, dtype=torch.float64)
    keep = rejection_keep(old, beh, mask, statistic="mean_abs", threshold=0.4)
    w = importance_weights(old, beh, mask, level=level, mode="mask", low=0.5, high=2.0)
    loss_mask = mask & keep[:, None]
    totals = aggregation_totals(loss_mask)

    def loss_of(rows):
        loss_bt, _ = POLICY_LOSSES.get("ppo_clip")(logp[rows], old[rows], adv[rows], loss_mask[rows])
        return LOSS_AGGREGATIONS.get(agg)(loss_bt * w[rows], loss_mask[rows], norm_len=10, **totals)

    whole = loss_of(torch.arange(8))
    (grad_whole,) = torch.autograd.grad(whole, logp)
    parts = [torch.tensor(r) for r in ([5, 0, 2], [7], [1, 3, 6, 4])]
    split = sum(loss_of(r) for r in parts)
    (grad_split,) = torch.autograd.grad(split, logp)
    torch.testing.assert_close(split, whole, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad_split, grad_whole, rtol=1e-12, atol=1e-14)
    # the weights and verdicts of a row depend on that row alone
    for rows in parts:
        torch.testing.assert_close(importance_weights(old[rows], beh[rows], mask[rows], level=level, mode="mask",
                                                      low=0.5, high=2.0), w[rows])
        assert rejection_keep(old[rows], beh[rows], mask[rows], statistic="mean_abs", threshold=0.4).tolist() == \
            keep[rows].tolist()
