"""The update path's speed-ups change no number: length-sorted and token-budget micro-batches, prompts shared
by their responses, activation checkpointing. Compared in float64 against the plain forward.

The float64 comparisons use conftest's `exact_norm` (see there why); `test_shared_prompts_in_float32`
states the tolerance without it.
"""

import copy
import warnings

import pytest
import torch
from test_actor import make_experience, run_update

from srpo.config import load_config
from srpo.config.algorithm import AlgorithmConfig, OptimConfig
from srpo.core.configlib import ConfigError
from srpo.engines.native.actor import Actor, _drops_cache, length_buckets, policy_forward
from srpo.engines.native.experience import micro_batches
from srpo.engines.native.model import enable_activation_checkpointing


@pytest.fixture
def policy64(tiny_policy, exact_norm):
    model, tokenizer = tiny_policy
    model = copy.deepcopy(model).double()
    exp = make_experience(model, tokenizer)
    exp.old_logprobs_bt = exp.old_logprobs_bt.double()
    return model, exp


def _grads(model, exp, weights_bt, **kwargs):
    model.zero_grad(set_to_none=True)
    logp, ent = policy_forward(model, exp, 0.9, with_entropy=True, **kwargs)
    ((logp + 0.3 * ent) * weights_bt).sum().backward()
    return logp.detach(), ent.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


def _weights(exp):
    g = torch.Generator().manual_seed(7)
    return torch.randn(exp.response_ids_bt.shape, generator=g, dtype=torch.float64) * exp.response_mask_bt


# ------------------------------------------------------------------ micro-batch plans
class _Lengths:
    """Just what `micro_batches` reads from an Experience."""

    def __init__(self, prompt, response, groups=None):
        self.prompt_lengths_b = torch.tensor(prompt)
        self.response_lengths_b = torch.tensor(response)
        self.group_ids_b = torch.tensor(groups if groups is not None else [0] * len(prompt))

    def __len__(self):
        return len(self.prompt_lengths_b)


def test_micro_batches_docstring_example():
    lengths = _Lengths([3, 3, 5, 5], [2, 9, 1, 4])
    assert micro_batches(lengths, max_rows=2) == [[1, 3], [2, 0]]
    assert micro_batches(lengths, max_rows=4, max_tokens=20) == [[1], [3, 2], [0]]


@pytest.mark.parametrize("seed", range(5))
def test_micro_batches_cover_every_row_once_within_both_caps(seed):
    g = torch.Generator().manual_seed(seed)
    n = 40
    prompt = torch.randint(1, 30, (n,), generator=g).tolist()
    response = torch.randint(1, 60, (n,), generator=g).tolist()
    groups = [i // 4 for i in range(n)]
    for max_rows, max_tokens in ((7, None), (64, 200), (5, 90), (64, 10)):
        plan = micro_batches(_Lengths(prompt, response, groups), max_rows, max_tokens)
        assert sorted(i for mb in plan for i in mb) == list(range(n))
        for mb in plan:
            assert len(mb) <= max_rows
            padded = len(mb) * (max(prompt[i] for i in mb) + max(response[i] for i in mb))
            assert max_tokens is None or padded <= max_tokens or len(mb) == 1
        totals = [prompt[i] + response[i] for mb in plan for i in mb]
        assert totals == sorted(totals, reverse=True)


def test_length_buckets_docstring_example_and_invariants():
    assert length_buckets([2, 9, 9, 1]) == [[1, 2], [0, 3]]
    assert length_buckets([5, 5, 5]) == [[0, 1, 2]]  # nothing to save: one pass
    assert length_buckets([9, 1, 9, 1], depth=0) == [[0, 2, 1, 3]]
    g = torch.Generator().manual_seed(3)
    lengths = torch.randint(1, 100, (50,), generator=g).tolist()
    buckets = length_buckets(lengths)
    assert 1 < len(buckets) <= 4 and sorted(i for b in buckets for i in b) == list(range(50))
    flat = [lengths[i] for b in buckets for i in b]
    assert flat == sorted(flat, reverse=True)
    cost = sum(len(b) * lengths[b[0]] for b in buckets)
    assert cost < 50 * max(lengths)


# ------------------------------------------------------------------ shared prompts
def test_shared_prompts_give_the_plain_forward_and_gradients(policy64):
    model, exp = policy64
    exp = exp.trimmed()
    assert len(length_buckets(exp.response_lengths_b.tolist())) > 1  # several response passes are exercised
    w = _weights(exp)
    model.train()
    lp_a, ent_a, grad_a = _grads(model, exp, w, share_prompts=False)
    lp_b, ent_b, grad_b = _grads(model, exp, w, share_prompts=True)
    mask = exp.response_mask_bt.bool()
    torch.testing.assert_close(lp_a[mask], lp_b[mask], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ent_a[mask], ent_b[mask], rtol=1e-12, atol=1e-12)
    for name in grad_a:
        torch.testing.assert_close(grad_a[name], grad_b[name], rtol=1e-10, atol=1e-13, msg=name)


def test_shared_prompts_in_float32(tiny_policy):
    """Default numerics (float32 model and norm): the two forwards agree to float32 rounding."""
    model, tokenizer = tiny_policy
    exp = make_experience(model, tokenizer).trimmed()
    with torch.no_grad():
        a, _ = policy_forward(model, exp, 1.0, share_prompts=False)
        b, _ = policy_forward(model, exp, 1.0, share_prompts=True)
    mask = exp.response_mask_bt.bool()
    torch.testing.assert_close(a[mask], b[mask], rtol=1e-5, atol=1e-5)


def test_responses_of_length_one_use_only_the_prompt_pass(policy64):
    model, exp = policy64
    exp = exp.trimmed()
    exp.response_ids_bt, exp.response_mask_bt = exp.response_ids_bt[:, :1], exp.response_mask_bt[:, :1]
    with torch.no_grad():
        a, _ = policy_forward(model, exp, 1.0, share_prompts=False)
        b, _ = policy_forward(model, exp, 1.0, share_prompts=True)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ whole updates
@pytest.mark.parametrize("loss_agg", ["token_mean", "seq_mean_token_sum_norm"])
@pytest.mark.parametrize("plan", [dict(micro_batch_size=3), dict(micro_batch_size=64, micro_batch_tokens=40),
                                  dict(micro_batch_size=5, micro_batch_tokens=70),
                                  dict(micro_batch_size=64, micro_batch_tokens=2)],
                         ids=["rows", "tokens", "both", "one-row-each"])
def test_token_budget_micro_batches_give_the_update_of_the_whole_batch(policy64, loss_agg, plan):
    model, exp = policy64
    whole, s1 = run_update(model, exp, loss_agg=loss_agg, micro_batch_size=len(exp), share_prompts=False)
    split, s2 = run_update(model, exp, loss_agg=loss_agg, **plan)
    for (name, a), b in zip(whole.named_parameters(), split.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11, msg=name)
    assert s1["train/loss"] == pytest.approx(s2["train/loss"], rel=1e-9, abs=1e-12)
    assert s1["actor/entropy"] == pytest.approx(s2["actor/entropy"], rel=1e-9)


def test_recomputed_and_reference_logprobs_land_on_their_rows(policy64):
    """The no-grad passes run length-sorted micro-batches and scatter the result back to the original rows."""
    model, exp = policy64
    algo = AlgorithmConfig(old_logprobs="recompute", kl_coef=0.1, micro_batch_size=64, micro_batch_tokens=30)
    actor = Actor(model, algo, OptimConfig(), temperature=0.9, norm_len=10, total_optimizer_steps=1,
                  ref_model=model)
    actor._prepare(exp)
    with torch.no_grad():
        want, _ = policy_forward(model, exp, 0.9, share_prompts=False)
    want = want * exp.response_mask_bt
    torch.testing.assert_close(exp.old_logprobs_bt, want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(exp.ref_logprobs_bt, want, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ activation checkpointing
def test_activation_checkpointing_gives_the_same_gradients(policy64):
    model, exp = policy64
    exp = exp.trimmed()
    w = _weights(exp)
    checkpointed = copy.deepcopy(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # the non-deprecated transformers API
        enable_activation_checkpointing(checkpointed)
    model.train(), checkpointed.train()
    assert _drops_cache(checkpointed) and not _drops_cache(model)
    _, _, want = _grads(model, exp, w, share_prompts=False)
    _, _, got = _grads(checkpointed, exp, w, share_prompts=True)  # falls back to the plain forward
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-10, atol=1e-13, msg=name)
    with torch.no_grad():  # no backward to replay: the cache survives and the prompts are shared
        assert not _drops_cache(checkpointed)
        a, _ = policy_forward(checkpointed, exp, 0.9, share_prompts=True)
        b, _ = policy_forward(model, exp, 0.9, share_prompts=False)
    mask = exp.response_mask_bt.bool()
    torch.testing.assert_close(a[mask], b[mask], rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ config
def test_micro_batch_tokens_is_validated_with_its_dotted_name():
    with pytest.raises(ConfigError, match=r"algorithm\.micro_batch_tokens: must be >= 2"):
        load_config("grpo", ["algorithm.micro_batch_tokens=1"])
    with pytest.raises(ConfigError, match=r"algorithm\.micro_batch_tokens: 64 must exceed rollout\.max_new_tokens"):
        load_config("grpo", ["algorithm.micro_batch_tokens=64", "rollout.max_new_tokens=64"])
    cfg = load_config("grpo", ["algorithm.micro_batch_tokens=4096"])
    assert cfg.algorithm.micro_batch_tokens == 4096 and cfg.algorithm.micro_batch_size == 16


def test_engines_that_cut_by_rows_refuse_a_token_budget():
    from srpo.engines.batching import split_step

    cfg = load_config("grpo", ["algorithm.micro_batch_tokens=4096"])
    with pytest.raises(ConfigError, match=r"^algorithm\.micro_batch_tokens: only the native engine"):
        split_step(cfg, 1, "processes")
