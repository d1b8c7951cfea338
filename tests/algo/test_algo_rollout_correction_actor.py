"""The mismatch correction inside the native actor and the config: metrics, exactness, refusals."""

import copy
import math
import dataclasses
import importlib.util
from pathlib import Path

import pytest
import torch

from srpo.config import load_config
from srpo.config.algorithm import AlgorithmConfig, OptimConfig, RolloutCorrectionConfig
from srpo.core.configlib import ConfigError
from srpo.engines.native.actor import Actor

_spec = importlib.util.spec_from_file_location("srpo_test_actor", Path(__file__).parents[1] / "test_actor.py")
_actor_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_actor_tests)
make_experience = _actor_tests.make_experience

KEYS = ("kl_k1", "kl_k3", "weight_mean", "weight_max", "masked_token_frac", "masked_seq_frac", "rejected_seq_frac")


def _mismatched(model, tokenizer, shift_rows=(), seed=0):
    """An experience whose behaviour log-probs are off by small noise, and by 2 on every token of shift_rows."""
    exp = make_experience(model, tokenizer, seed=seed)
    g = torch.Generator().manual_seed(seed)
    noise = 0.05 * torch.randn(exp.response_ids_bt.shape, generator=g, dtype=torch.float64)
    noise[list(shift_rows)] += 2.0
    exp.behaviour_logprobs_bt = (exp.behaviour_logprobs_bt.double() + noise) * exp.response_mask_bt
    exp.old_logprobs_bt = exp.behaviour_logprobs_bt.clone()
    return exp


def _update(model, exp, **rc):
    model = copy.deepcopy(model)
    algo = AlgorithmConfig(old_logprobs="recompute", rollout_correction=RolloutCorrectionConfig(**rc))
    algo.validate()
    actor = Actor(model, algo, OptimConfig(lr=1e-2, max_grad_norm=0.0), temperature=1.0, norm_len=10,
                  total_optimizer_steps=1)
    return model, actor.update(exp)


def test_update_reports_the_mismatch_metrics(tiny_policy, exact_norm):
    model, tokenizer = tiny_policy
    model = model.double()
    _, stats = _update(model, _mismatched(model, tokenizer), level="token", mode="mask", low=0.96, high=1.04)
    got = {k: stats[f"rollout_correction/{k}"] for k in KEYS}
    assert got["kl_k3"] > 0 and abs(got["kl_k1"]) < 0.05
    assert 0 < got["masked_token_frac"] < 1 and got["weight_max"] <= 1.04
    assert got["rejected_seq_frac"] == 0


def test_metrics_without_recompute_are_not_reported(tiny_policy):
    model, tokenizer = tiny_policy
    actor = Actor(copy.deepcopy(model), AlgorithmConfig(), OptimConfig(), temperature=1.0, norm_len=10,
                  total_optimizer_steps=1)
    assert not any(k.startswith("rollout_correction/") for k in actor.update(make_experience(model, tokenizer)))


def _actor(model, **algo):
    algo = AlgorithmConfig(old_logprobs="recompute", **algo)
    return Actor(model, algo, OptimConfig(lr=1e-2, max_grad_norm=0.0), temperature=1.0, norm_len=10,
                 total_optimizer_steps=1)


def _exact_behaviour(model, exp, shift_rows=(), shift=0.0):
    """Behaviour log-probs equal to the recomputed pi_old (weights exactly 1), shifted on shift_rows."""
    with torch.no_grad():
        old = _actor(copy.deepcopy(model))._no_grad_logprobs(model, exp)
    shifted = old.clone()
    shifted[list(shift_rows)] += shift
    exp.behaviour_logprobs_bt = shifted * exp.response_mask_bt
    return exp


def test_rejected_rows_update_as_if_absent(tiny_policy, exact_norm):
    """max_abs rejection of rows 2 and 5 gives exactly the parameters of an uncorrected update without them."""
    model, tokenizer = tiny_policy
    model = model.double()
    exp = _exact_behaviour(model, make_experience(model, tokenizer), shift_rows=(2, 5), shift=2.0)
    rejected, stats = _update(model, copy.deepcopy(exp), level="token", mode="truncate", high=1e6,
                              reject="max_abs", reject_threshold=1.0)
    assert stats["rollout_correction/rejected_seq_frac"] == pytest.approx(2 / len(exp))
    without = copy.deepcopy(exp)
    without.in_loss_b[[2, 5]] = False
    plain = copy.deepcopy(model)
    _actor(plain, rollout_correction=RolloutCorrectionConfig(enabled=False)).update(without)
    for a, b in zip(rejected.parameters(), plain.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("level", ["token", "sequence"])
def test_micro_batching_is_exact_with_correction(tiny_policy, exact_norm, level):
    model, tokenizer = tiny_policy
    model = model.double()
    exp = _mismatched(model, tokenizer, shift_rows=(1,))
    rc = dict(level=level, mode="mask", low=0.5, high=1.5, reject="mean_abs", reject_threshold=1.0)
    whole, s1 = _update(model, copy.deepcopy(exp), **rc)
    algo_split = dict(rc)
    split_model = copy.deepcopy(model)
    algo = AlgorithmConfig(old_logprobs="recompute", micro_batch_size=5,
                           rollout_correction=RolloutCorrectionConfig(**algo_split))
    Actor(split_model, algo, OptimConfig(lr=1e-2, max_grad_norm=0.0), temperature=1.0, norm_len=10,
          total_optimizer_steps=1).update(copy.deepcopy(exp))
    for a, b in zip(whole.parameters(), split_model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)
    assert s1["rollout_correction/rejected_seq_frac"] == pytest.approx(1 / len(exp))


def test_weights_multiply_the_policy_term(tiny_policy, exact_norm):
    """Behaviour probabilities halved: every token weight is exactly 2 and the (on-policy) loss doubles."""
    model, tokenizer = tiny_policy
    model = model.double()
    exp = _exact_behaviour(model, make_experience(model, tokenizer))
    exp.advantages_b = torch.linspace(0.1, 1, len(exp), dtype=torch.float64)
    _, plain = _update(model, copy.deepcopy(exp), enabled=False)
    halved = copy.deepcopy(exp)
    halved.behaviour_logprobs_bt = (halved.behaviour_logprobs_bt - torch.log(torch.tensor(2.0, dtype=torch.float64))) \
        * exp.response_mask_bt
    _, doubled = _update(model, halved, level="token", mode="truncate", high=10.0)
    assert doubled["train/loss"] == pytest.approx(2 * plain["train/loss"], rel=1e-12)
    assert doubled["rollout_correction/weight_mean"] == pytest.approx(2.0, rel=1e-12)
    assert doubled["rollout_correction/kl_k1"] == pytest.approx(-math.log(2.0), rel=1e-12)


# ---- config


def test_defaults_follow_trl_and_switch_on_with_recompute():
    rc = load_config("srpo").algorithm.rollout_correction
    assert (rc.enabled, rc.level, rc.mode, rc.low, rc.high, rc.reject) == (None, "sequence", "mask", None, 3.0, None)
    assert rc.active(recomputed=True) and not rc.active(recomputed=False)


@pytest.mark.parametrize("overrides,message", [
    (["algorithm.rollout_correction.enabled=true"], "algorithm.rollout_correction.enabled: the correction weighs"),
    (["algorithm.rollout_correction.high=1.0"], "algorithm.rollout_correction.high: must be > 1"),
    (["algorithm.rollout_correction.low=1.0"], "algorithm.rollout_correction.low: must be in"),
    (["algorithm.rollout_correction.high=null"], "algorithm.rollout_correction.high: mode=mask needs at least one"),
    (["algorithm.rollout_correction.reject=max_abs"], "algorithm.rollout_correction.reject_threshold: reject=max_abs"),
    (["algorithm.rollout_correction.reject_threshold=0.1"], "algorithm.rollout_correction.reject_threshold: only read"),
    (["algorithm.rollout_correction.reject=xx", "algorithm.rollout_correction.reject_threshold=0.1"],
     "algorithm.rollout_correction.reject: unknown rejection statistic 'xx'"),
    (["algorithm.rollout_correction.enabled=false", "algorithm.rollout_correction.level=token"],
     "algorithm.rollout_correction.level: enabled=false does not read it"),
])
def test_bad_settings_are_refused_with_the_dotted_field(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config("srpo", overrides)


def test_recompute_accepts_the_correction():
    cfg = load_config("srpo", ["algorithm.old_logprobs=recompute", "algorithm.rollout_correction.enabled=true"])
    assert dataclasses.asdict(cfg.algorithm.rollout_correction)["enabled"] is True
