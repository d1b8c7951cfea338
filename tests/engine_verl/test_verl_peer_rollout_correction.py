"""srpo's mismatch correction against verl 0.9's own (`verl.trainer.ppo.rollout_corr_helper`), float64, on the
settings the verl recipe writes for each `algorithm.rollout_correction` (`srpo.engines.verl.setup`): the same
weights, the same rejected sequences and the same mismatch KL. Runs in .venv-verl; skipped without verl."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("verl")

from verl.trainer.ppo.rollout_corr_helper import compute_rollout_correction_and_rejection_mask  # noqa: E402

from srpo.algo import importance_weights, mismatch_stats, rejection_keep  # noqa: E402
from srpo.config.algorithm import RolloutCorrectionConfig  # noqa: E402
from srpo.engines.verl.setup import _is_threshold, _rs_threshold, REJECT_OPTIONS  # noqa: E402


def _inputs(seed, B=12, T=16, noise=0.3):
    g = torch.Generator().manual_seed(seed)
    behaviour = -torch.rand(B, T, generator=g, dtype=torch.float64) * 3
    old = behaviour + noise * torch.randn(B, T, generator=g, dtype=torch.float64)
    mask = (torch.rand(B, T, generator=g) > 0.2).to(torch.float64)
    mask[:, 0] = 1.0
    old[3, 2] = behaviour[3, 2] + 25.0  # beyond the +-20 clamp both apply
    return old, behaviour, mask


def _verl(rc, old, behaviour, mask):
    weights, new_mask, metrics = compute_rollout_correction_and_rejection_mask(
        old_log_prob=old, rollout_log_prob=behaviour, response_mask=mask, rollout_is=rc.level,
        rollout_is_threshold=_is_threshold(rc), rollout_rs=REJECT_OPTIONS[rc.reject] if rc.reject else None,
        rollout_rs_threshold=_rs_threshold(rc) if rc.reject else None)
    return weights.batch["rollout_is_weights"], new_mask, metrics


SETTINGS = [dict(level="token", mode="truncate", high=2.0), dict(level="sequence", mode="truncate", high=3.0),
            dict(level="token", mode="mask", low=0.5, high=2.0), dict(level="sequence", mode="mask", high=3.0),
            dict(level="token", mode="mask", high=1.5)]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "-".join(map(str, s.values())))
def test_weights_equal_verls(seed, settings):
    rc = RolloutCorrectionConfig(**settings)
    old, behaviour, mask = _inputs(seed)
    v_w, _, _ = _verl(rc, old, behaviour, mask)
    s_w = importance_weights(old, behaviour, mask, **rc.options())
    torch.testing.assert_close(s_w, v_w * mask, rtol=1e-14, atol=0)
    assert (s_w == 0).any() or rc.mode == "truncate"


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("statistic,threshold", [("max_abs", 0.8), ("max_abs", 21.0), ("mean", 0.1),
                                                 ("sum", 0.5), ("sum", 2.0)])
def test_rejection_equals_verls(seed, statistic, threshold):
    rc = RolloutCorrectionConfig(level="token", mode="truncate", high=2.0, reject=statistic,
                                 reject_threshold=threshold)
    old, behaviour, mask = _inputs(seed)
    _, v_mask, metrics = _verl(rc, old, behaviour, mask)
    keep = rejection_keep(old, behaviour, mask, statistic=statistic, threshold=threshold)
    torch.testing.assert_close(mask * keep[:, None], v_mask, rtol=0, atol=0)
    stats = mismatch_stats(old, behaviour, mask, None, keep)
    assert float(stats["rejected_seq_frac"]) == pytest.approx(metrics["rollout_corr/rollout_rs_seq_masked_fraction"])
    assert float(stats["masked_token_frac"]) == pytest.approx(metrics["rollout_corr/rollout_rs_masked_fraction"])


def test_mismatch_kl_equals_verls():
    old, behaviour, mask = _inputs(4, noise=0.05)
    rc = RolloutCorrectionConfig(level="token", mode="truncate", high=2.0)
    old[3, 2] = behaviour[3, 2]  # no token beyond the +-20 clamp, which srpo's k3 applies and verl's does not
    _, _, metrics = _verl(rc, old, behaviour, mask)
    stats = mismatch_stats(old, behaviour, mask)
    assert float(stats["kl_k1"]) == pytest.approx(metrics["rollout_corr/kl"], rel=1e-8)
    assert float(stats["kl_k3"]) == pytest.approx(metrics["rollout_corr/k3_kl"], rel=1e-8)
