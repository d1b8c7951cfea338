"""The policy update on a tiny model: exact gradient accumulation, parameters move, KL/entropy terms."""

import copy

import pytest
import torch

from srpo.engines.native.actor import Actor, lr_lambda
from srpo.algo import ADVANTAGE_ESTIMATORS
from srpo.config.algorithm import AlgorithmConfig, OptimConfig
from srpo.data import Problem
from srpo.engines.native.experience import Experience, concat
from srpo.rewards import RewardResult
from srpo.core.generation import SamplingParams
from srpo.engines.native.rollout import KVCacheEngine


def make_experience(model, tokenizer, seed=0, group_offset=0):
    engine = KVCacheEngine(model, tokenizer, seed=seed)
    problems = [Problem.create("math", f"Q: {a}+{a}=?", str(2 * a)) for a in (1, 23, 456)]
    batch = engine.generate([tokenizer(p.prompt)["input_ids"] for p in problems],
                            SamplingParams(n=4, temperature=1.0, max_new_tokens=10))
    gen = torch.Generator().manual_seed(seed)
    rewards = torch.randint(0, 2, (len(batch.texts),), generator=gen).float()
    results = [RewardResult(float(r), bool(r)) for r in rewards]
    exp = Experience.from_rollout(batch, problems, results, group_offset)
    exp.advantages_b = ADVANTAGE_ESTIMATORS.get("grpo")(exp.rewards_b, exp.group_ids_b)
    return exp


def run_update(model, exp, **algo_kwargs):
    model = copy.deepcopy(model)
    algo = AlgorithmConfig(**algo_kwargs)
    actor = Actor(model, algo, OptimConfig(lr=1e-2, max_grad_norm=0.0), temperature=1.0, norm_len=10,
                  total_optimizer_steps=4, ref_model=copy.deepcopy(model) if algo.kl_coef else None)
    stats = actor.update(exp)
    return model, stats


@pytest.mark.parametrize("loss_agg", ["token_mean", "seq_mean_token_mean", "seq_mean_token_sum",
                                      "seq_mean_token_sum_norm"])
def test_micro_batching_gives_the_same_update(tiny_policy, exact_norm, loss_agg):
    model, tokenizer = tiny_policy
    model = model.double()
    exp = make_experience(model, tokenizer)
    exp.old_logprobs_bt = exp.old_logprobs_bt.double()
    whole, s1 = run_update(model, exp, loss_agg=loss_agg, micro_batch_size=len(exp))
    split, s2 = run_update(model, exp, loss_agg=loss_agg, micro_batch_size=5)
    for (name, a), b in zip(whole.named_parameters(), split.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11, msg=name)
    assert s1["train/loss"] == pytest.approx(s2["train/loss"], rel=1e-9, abs=1e-12)


def test_update_moves_parameters_and_reports_finite_stats(tiny_policy):
    model, tokenizer = tiny_policy
    exp = make_experience(model, tokenizer)
    new, stats = run_update(model, exp, ppo_epochs=2, mini_batch_size=6, kl_coef=0.1, entropy_coef=0.01)
    moved = sum(float((a - b).abs().sum()) for a, b in zip(new.parameters(), model.parameters()))
    assert moved > 0
    for key in ("train/loss", "train/grad_norm", "actor/entropy", "actor/kl_ref", "actor/clipfrac_high",
                "actor/ratio_mean", "actor/approx_kl"):
        assert torch.isfinite(torch.tensor(stats[key])), key
    # The first mini-batch is on-policy, later ones are not: the ratio moved away from 1 on average.
    assert stats["actor/approx_kl"] > 0


def test_zero_advantages_leave_the_policy_unchanged(tiny_policy):
    model, tokenizer = tiny_policy
    exp = make_experience(model, tokenizer)
    exp.advantages_b = torch.zeros_like(exp.advantages_b)
    new, _ = run_update(model, exp)
    for a, b in zip(new.parameters(), model.parameters()):
        assert torch.equal(a, b)


def test_concat_and_select_keep_rows_aligned(tiny_policy):
    model, tokenizer = tiny_policy
    a = make_experience(model, tokenizer, seed=1)
    b = make_experience(model, tokenizer, seed=2, group_offset=3)
    both = concat([a, b], tokenizer.pad_token_id)
    assert len(both) == len(a) + len(b) and len(both.group_rows()) == 6
    back = both.select(list(range(len(a), len(both))))
    assert back.texts == b.texts
    width = b.response_ids_bt.shape[1]
    assert torch.equal(back.response_ids_bt[:, :width], b.response_ids_bt)
    assert torch.equal(back.trimmed().response_mask_bt.sum(-1), b.response_mask_bt.sum(-1))


def _params_close(a, b, **tol):
    for (name, x), y in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(x, y, msg=name, **tol)


@pytest.mark.parametrize("loss_agg", ["token_mean", "seq_mean_token_mean", "seq_mean_token_sum",
                                      "seq_mean_token_sum_norm"])
def test_masked_responses_give_the_update_of_the_batch_without_them(tiny_policy, exact_norm, loss_agg):
    """truncation=mask: a masked row adds zero gradient and is absent from every normaliser, so the update
    equals the update on the other rows alone (advantages held fixed: they were computed with it)."""
    model, tokenizer = tiny_policy
    model = model.double()
    exp = make_experience(model, tokenizer)
    exp.old_logprobs_bt = exp.old_logprobs_bt.double()
    dropped = [1, 6, 7]
    exp.in_loss_b[dropped] = False
    rest = exp.select([i for i in range(len(exp)) if i not in dropped])
    masked, s1 = run_update(model, exp, loss_agg=loss_agg, micro_batch_size=5)
    alone, s2 = run_update(model, rest, loss_agg=loss_agg, micro_batch_size=4)
    _params_close(masked, alone, rtol=1e-9, atol=1e-11)
    assert s1["train/loss"] == pytest.approx(s2["train/loss"], rel=1e-9, abs=1e-12)
    exp.in_loss_b[:] = True  # control: kept, the same rows do change the update
    kept, _ = run_update(model, exp, loss_agg=loss_agg, micro_batch_size=5)
    assert any(not torch.allclose(a, b, rtol=1e-6, atol=0) for a, b in zip(kept.parameters(), alone.parameters()))


def test_every_response_masked_gives_a_zero_finite_loss_and_no_change(tiny_policy):
    model, tokenizer = tiny_policy
    exp = make_experience(model, tokenizer)
    exp.in_loss_b[:] = False
    new, stats = run_update(model, exp, micro_batch_size=5)
    assert stats["train/loss"] == 0.0 and stats["train/grad_norm"] == 0.0
    _params_close(new, model, rtol=0, atol=0)


def test_keep_trains_on_every_response_as_before(tiny_policy):
    """truncation=keep (the default): rewards are the verifier scores and the loss mask is the response."""
    model, tokenizer = tiny_policy
    exp = make_experience(model, tokenizer)
    scores = torch.randint(0, 2, (len(exp),), generator=torch.Generator().manual_seed(0)).float()
    assert bool(exp.in_loss_b.all()) and torch.equal(exp.loss_mask_bt, exp.response_mask_bt.bool())
    assert torch.equal(exp.rewards_b, scores)
    assert not bool(exp.length_penalty_b.any())


def test_from_rollout_masks_truncated_rows_and_adds_the_penalty_to_rewards_only(tiny_policy):
    model, tokenizer = tiny_policy
    engine = KVCacheEngine(model, tokenizer, seed=0)
    problems = [Problem.create("math", "Q: 1+1=?", "2")]
    batch = engine.generate([tokenizer(problems[0].prompt)["input_ids"]],
                            SamplingParams(n=4, temperature=1.0, max_new_tokens=6))
    batch.truncated_b = torch.tensor([True, False, True, False])
    results = [RewardResult(1.0, True), RewardResult(0.0, False), RewardResult(0.5, False), RewardResult(1.0, True)]
    penalty = torch.tensor([-1.0, 0.0, -0.25, -0.5])
    exp = Experience.from_rollout(batch, problems, results, length_penalty_b=penalty, mask_truncated=True)
    assert exp.rewards_b.tolist() == [0.0, 0.0, 0.25, 0.5]
    assert exp.corrects_b.tolist() == [True, False, False, True]
    assert exp.in_loss_b.tolist() == [False, True, False, True]
    assert not bool(exp.loss_mask_bt[[0, 2]].any())
    assert torch.equal(exp.loss_mask_bt[[1, 3]], exp.response_mask_bt[[1, 3]].bool())


def test_lr_schedule_warmup_and_cosine():
    f = lr_lambda(OptimConfig(warmup_steps=2, schedule="cosine", min_lr_ratio=0.1), total_steps=12)
    assert [f(0), f(1)] == [0.5, 1.0]
    assert f(2) == pytest.approx(1.0) and f(12) == pytest.approx(0.1) and 0.1 < f(7) < 1.0


@pytest.mark.parametrize("policy_loss,loss_agg", [("gspo", "seq_mean_token_mean"), ("cispo", "token_mean"),
                                                  ("sapo", "seq_mean_token_mean")])
def test_other_policy_losses_update_and_split_exactly(tiny_policy, exact_norm, policy_loss, loss_agg):
    model, tokenizer = tiny_policy
    model = model.double()
    exp = make_experience(model, tokenizer)
    exp.old_logprobs_bt = exp.old_logprobs_bt.double()
    kw = dict(policy_loss=policy_loss, loss_agg=loss_agg, ppo_epochs=2)
    whole, s1 = run_update(model, exp, micro_batch_size=len(exp), **kw)
    split, s2 = run_update(model, exp, micro_batch_size=5, **kw)
    for (name, a), b in zip(whole.named_parameters(), split.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11, msg=name)
    assert sum(float((a - b).abs().sum()) for a, b in zip(whole.parameters(), model.parameters())) > 0
    for key in ("train/loss", "actor/clipfrac_low", "actor/clipfrac_high", "actor/ratio_mean", "actor/approx_kl"):
        assert torch.isfinite(torch.tensor(s1[key])), key
