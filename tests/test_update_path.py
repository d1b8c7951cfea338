"""The update path's speed-ups change no number: length-sorted and token-budget micro-batches, prompts shared
by their responses, activation checkpointing, the LM head fused into the log-probs. Compared in float64 against the plain forward.

The float64 comparisons use conftest's `exact_norm` (see there why); `test_shared_prompts_in_float32`
states the tolerance without it.
"""

import copy
import re
import warnings

import pytest
import torch
from test_actor import make_experience, run_update

from srpo.config import load_config
from srpo.config.algorithm import AlgorithmConfig, OptimConfig
from srpo.core.configlib import ConfigError
from srpo.algo import logprobs_entropy_from_hidden, logprobs_from_logits
from srpo.engines.hf_model import enable_activation_checkpointing
from srpo.engines.native.actor import Actor, _drops_cache, length_buckets, policy_forward
from srpo.engines.native.head import fused_head
from srpo.engines.native.head import refusal as head_refusal
from srpo.engines.native.experience import micro_batches


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


def test_shared_prompts_in_float64_with_transformers_own_norm(tiny_policy):
    """The real bound in a float64 model left as transformers builds it: its RMSNorm computes in float32
    whatever the model dtype, so the gradients agree to float32 rounding of the norm (~1e-7 relative;
    measured 3e-8-1e-7), not to float64's. The README states this bound."""
    model, tokenizer = tiny_policy
    model = copy.deepcopy(model).double()
    exp = make_experience(model, tokenizer).trimmed()
    exp.old_logprobs_bt = exp.old_logprobs_bt.double()
    w = _weights(exp)
    model.train()
    _, _, grad_a = _grads(model, exp, w, share_prompts=False)
    _, _, grad_b = _grads(model, exp, w, share_prompts=True)
    worst = max(float((grad_a[n] - grad_b[n]).norm() / grad_a[n].norm().clamp_min(1e-300)) for n in grad_a)
    assert worst < 1e-5


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


# ------------------------------------------------------------------ fused LM head
def _no_logits(model):
    """`model` whose LM head raises when called: the fused path must never compute [B, T, V] logits."""
    def boom(*args, **kwargs):
        raise AssertionError("the LM head was called: logits were materialised")

    model.get_output_embeddings().forward = boom  # an instance attribute, not a hook: fusing stays allowed
    return model


@pytest.mark.parametrize("share", [False, True], ids=["full-pass", "shared-prompts"])
def test_fused_head_gives_the_logits_path_values_and_gradients(policy64, share):
    model, exp = policy64
    exp = exp.trimmed()
    w = _weights(exp)
    model.train()
    assert fused_head(model) is not None
    lp_a, ent_a, grad_a = _grads(model, exp, w, share_prompts=share, fuse_head=False)
    lp_b, ent_b, grad_b = _grads(_no_logits(model), exp, w, share_prompts=share, fuse_head=True)
    mask = exp.response_mask_bt.bool()
    torch.testing.assert_close(lp_a[mask], lp_b[mask], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(ent_a[mask], ent_b[mask], rtol=1e-10, atol=1e-10)
    for name in grad_a:  # the tied embedding/head weight included: both of its uses are summed
        torch.testing.assert_close(grad_a[name], grad_b[name], rtol=1e-10, atol=1e-12, msg=name)


def test_fused_head_under_bf16_autocast(tiny_policy):
    """float32 model, bf16 autocast as in training: the head's matmul in bf16 either way, so the two paths
    agree to float32 rounding of the same bf16 logits (1e-5; measured: log-probs equal, entropies 2e-6)."""
    model, tokenizer = tiny_policy
    exp = make_experience(model, tokenizer).trimmed()
    with torch.no_grad():
        a, ent_a = policy_forward(model, exp, 1.0, autocast=True, fuse_head=False)
        b, ent_b = policy_forward(model, exp, 1.0, autocast=True, fuse_head=True)
    mask = exp.response_mask_bt.bool()
    assert b.dtype == torch.float32
    torch.testing.assert_close(a[mask], b[mask], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ent_a[mask], ent_b[mask], rtol=1e-5, atol=1e-5)


def test_fused_head_on_a_plain_llama(policy64):
    """LlamaForCausalLM (the toy's class), untied head: fused == logits path."""
    from transformers import LlamaConfig, LlamaForCausalLM

    _, exp = policy64
    exp = exp.trimmed()
    torch.manual_seed(1)
    vocab = int(exp.response_ids_bt.max()) + 10
    llama = LlamaForCausalLM(LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2,
                                         tie_word_embeddings=False)).double().train()
    assert fused_head(llama) is not None
    w = _weights(exp)
    lp_a, ent_a, grad_a = _grads(llama, exp, w, fuse_head=False)
    lp_b, ent_b, grad_b = _grads(_no_logits(llama), exp, w, fuse_head=True)
    torch.testing.assert_close(lp_a, lp_b, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(ent_a, ent_b, rtol=1e-10, atol=1e-10)
    for name in grad_a:
        torch.testing.assert_close(grad_a[name], grad_b[name], rtol=1e-10, atol=1e-12, msg=name)


class _MyQwen2(__import__("transformers").Qwen2ForCausalLM):
    """A subclass outside transformers: its forward could do anything."""


def _refusing(tiny_policy, how):
    model = copy.deepcopy(tiny_policy[0])
    if how == "softcap-config":
        model.config.final_logit_softcapping = 30.0
    elif how == "head-hook":
        model.lm_head.register_forward_hook(lambda module, args, out: out)
    elif how == "model-pre-hook":
        model.register_forward_pre_hook(lambda module, args: None)
    elif how == "head-not-linear":
        model.lm_head = torch.nn.utils.parametrizations.weight_norm(model.lm_head)
    elif how == "subclass":
        model.__class__ = _MyQwen2
    return model


@pytest.mark.parametrize("how, reason", [
    ("softcap-config", r"config\.final_logit_softcapping = 30\.0 transforms the logits"),
    ("head-hook", "the LM head has forward hooks"),
    ("model-pre-hook", "the model has forward hooks"),
    ("head-not-linear", "not a plain torch.nn.Linear"),
    ("subclass", "_MyQwen2 is not transformers' own class"),
])
def test_head_fusion_is_refused_where_it_may_not_be_exact(tiny_policy, how, reason):
    model = _refusing(tiny_policy, how)
    assert fused_head(model) is None
    assert re.search(reason, head_refusal(model))


def test_a_soft_capping_model_falls_back_to_its_logits(policy64):
    """Gemma 2 soft-caps its logits in the model's forward: policy_forward must use them, bit for bit."""
    from transformers import Gemma2Config, Gemma2ForCausalLM

    _, exp = policy64
    exp = exp.select([i for i in range(len(exp)) if exp.prompt_mask_bp[i].all()]).trimmed()  # Gemma 2's eager
    assert len(exp) > 1  # attention gives NaN on left-padded rows, with or without fusing
    torch.manual_seed(2)
    gemma = Gemma2ForCausalLM(Gemma2Config(vocab_size=int(exp.response_ids_bt.max()) + 10, hidden_size=32,
                                           intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                           num_key_value_heads=2, head_dim=8, final_logit_softcapping=0.5,
                                           attn_implementation="eager")).double()
    assert "model type 'gemma2'" in head_refusal(gemma)
    with torch.no_grad():
        fused, _ = policy_forward(gemma, exp, 1.0, fuse_head=True)
        plain, _ = policy_forward(gemma, exp, 1.0, fuse_head=False)
        hidden = gemma.model(input_ids=exp.response_ids_bt).last_hidden_state  # what naive fusing would do
        naive, _ = logprobs_entropy_from_hidden(hidden, gemma.lm_head.weight, exp.response_ids_bt)
        capped = logprobs_from_logits(gemma(input_ids=exp.response_ids_bt).logits, exp.response_ids_bt)
    assert torch.equal(fused, plain)
    assert (naive - capped).abs().max() > 1e-2  # the cap matters: fusing it away would change the numbers


@pytest.mark.parametrize("extra", [dict(), dict(entropy_coef=0.01, kl_coef=0.1, old_logprobs="recompute"),
                                   dict(micro_batch_size=5, share_prompts=False, ppo_epochs=2, mini_batch_size=6)],
                         ids=["default", "entropy+kl+recompute", "split-unshared"])
def test_fused_head_gives_the_update_of_the_logits_path(policy64, extra):
    model, exp = policy64
    a, s1 = run_update(model, copy.deepcopy(exp), fused_head=False, **extra)
    b, s2 = run_update(model, copy.deepcopy(exp), fused_head=True, **extra)
    for (name, x), y in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-11, msg=name)
    for key in s1:
        if not key.startswith("timing/"):
            assert s1[key] == pytest.approx(s2[key], rel=1e-9, abs=1e-12), key


def test_fused_head_switch_in_the_config():
    assert load_config("grpo").algorithm.fused_head is True
    assert load_config("grpo", ["algorithm.fused_head=false"]).algorithm.fused_head is False


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
