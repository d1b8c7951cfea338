"""The fused LM head (`logprobs_entropy_from_hidden`) against the logits path in float64, gradcheck, bf16
autocast, tied and frozen weights, input validation."""

import math

import pytest
import torch
import torch.nn.functional as F

import _algo_ref as ref
from srpo.algo import entropy_from_logits, logprobs_entropy_from_hidden, logprobs_from_logits
from srpo.algo.fused_head import _token_blocks

B, T, H, V = 3, 5, 4, 11
# Block sizes (logits per block) over the B x T = 15 flattened tokens (a block holds at least H = 4 tokens):
# one block; 4 tokens (4 + 4 + 4 + 3, boundaries inside rows and across them); 5 tokens (a boundary at every
# row end); 7 tokens (7 + 7 + 1); 10 tokens (10 + 5).
BLOCKS = [2**25, 4 * V, 5 * V, 7 * V, 10 * V]


def _inputs(seed, b=B, t=T, h=H, v=V, dtype=torch.float64, bias=True):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(b, t, h, generator=g, dtype=torch.float64).to(dtype)
    weight = (torch.randn(v, h, generator=g, dtype=torch.float64) * 1.5).to(dtype)
    bias_v = torch.randn(v, generator=g, dtype=torch.float64).to(dtype) if bias else None
    labels = torch.randint(0, v, (b, t), generator=g)
    w_lp, w_ent = torch.randn(2, b, t, generator=g, dtype=torch.float64)
    return hidden, weight, bias_v, labels, w_lp, w_ent


def _leaves(*tensors):
    return [None if x is None else x.detach().clone().requires_grad_(True) for x in tensors]


def _grads(outputs, inputs, w_lp, w_ent):
    logp, ent = outputs
    loss = (logp.double() * w_lp).sum() + (ent.double() * w_ent).sum()
    wanted = [x for x in inputs if x is not None]
    return logp.detach(), ent.detach(), torch.autograd.grad(loss, wanted)


def _unfused(hidden, weight, bias_v, labels, tau):
    logits = F.linear(hidden, weight, bias_v)
    return logprobs_from_logits(logits, labels, tau), entropy_from_logits(logits, tau)


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("temperature", [1.0, 0.7, 1.6])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_values_and_gradients_match_the_logits_path_in_float64(block, temperature, bias):
    hidden, weight, bias_v, labels, w_lp, w_ent = _inputs(0, bias=bias)
    a = _leaves(hidden, weight, bias_v)
    b = _leaves(hidden, weight, bias_v)
    lp, ent, got = _grads(logprobs_entropy_from_hidden(a[0], a[1], labels, temperature, a[2], block_elements=block),
                          a, w_lp, w_ent)
    lp_want, ent_want, want = _grads(_unfused(b[0], b[1], b[2], labels, temperature), b, w_lp, w_ent)
    assert lp.dtype == ent.dtype == torch.float64
    torch.testing.assert_close(lp, lp_want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ent, ent_want, rtol=1e-12, atol=1e-12)
    for name, g, w in zip(("hidden", "weight", "bias"), got, want):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12, msg=name)


def test_blocks_cover_the_tokens_with_at_least_h_tokens_each():
    assert _token_blocks(15, 11, 4, 7 * 11) == [slice(0, 7), slice(7, 14), slice(14, 15)]
    assert _token_blocks(15, 11, 4, 2 * 11) == [slice(0, 4), slice(4, 8), slice(8, 12), slice(12, 15)]  # >= H
    assert _token_blocks(3, 11, 4, 2**25) == [slice(0, 3)] and _token_blocks(0, 11, 4, 1) == []


def test_values_match_the_loop_reference():
    hidden, weight, bias_v, labels, *_ = _inputs(1)
    lp, ent = logprobs_entropy_from_hidden(hidden, weight, labels, 0.8, bias_v, block_elements=2 * V)
    lp_want, ent_want = ref.logprob_and_entropy(hidden @ weight.T + bias_v, labels, 0.8)
    torch.testing.assert_close(lp, lp_want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ent, ent_want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("used", ["logp", "entropy"])
def test_one_output_alone_gets_its_own_gradient(used):
    """The other output unused (e.g. the entropy detached, a statistic): its backward term is skipped."""
    hidden, weight, bias_v, labels, w, _ = _inputs(2)
    a, b = _leaves(hidden, weight, bias_v), _leaves(hidden, weight, bias_v)
    pick = 0 if used == "logp" else 1
    got = torch.autograd.grad((logprobs_entropy_from_hidden(a[0], a[1], labels, 0.9, a[2], block_elements=3 * V)[pick]
                               * w).sum(), a)
    want = torch.autograd.grad((_unfused(b[0], b[1], b[2], labels, 0.9)[pick] * w).sum(), b)
    for g, x in zip(got, want):
        torch.testing.assert_close(g, x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("block", [2 * V, 10 * V])
def test_gradcheck(block):
    hidden, weight, bias_v, labels, *_ = _inputs(3, b=2, t=3, h=3, v=5)
    inputs = _leaves(hidden, weight, bias_v)
    assert torch.autograd.gradcheck(
        lambda h, w, b: logprobs_entropy_from_hidden(h, w, labels, 0.9, b, block_elements=block), inputs)


@pytest.mark.parametrize("entropy_in_loss", [True, False])
def test_banned_tokens_with_a_minus_inf_bias_add_nothing_and_keep_gradients_finite(entropy_in_loss):
    hidden, weight, bias_v, labels, w_lp, w_ent = _inputs(4)
    bias_v[[2, 7]] = -math.inf
    labels = labels.masked_fill((labels == 2) | (labels == 7), 0)
    a, b = _leaves(hidden, weight, bias_v), _leaves(hidden, weight, bias_v)

    def loss_terms(logp, ent):  # entropy as a statistic only: no gradient reaches it
        return logp, ent if entropy_in_loss else ent.detach()

    lp, ent, got = _grads(loss_terms(*logprobs_entropy_from_hidden(a[0], a[1], labels, 1.0, a[2],
                                                                   block_elements=2 * V)), a, w_lp, w_ent)
    lp_want, ent_want, want = _grads(loss_terms(*_unfused(b[0], b[1], b[2], labels, 1.0)), b, w_lp, w_ent)
    torch.testing.assert_close(lp, lp_want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ent, ent_want, rtol=1e-12, atol=1e-12)
    for g, x in zip(got, want):
        assert torch.isfinite(g).all()
        torch.testing.assert_close(g, x, rtol=1e-12, atol=1e-12)
    assert (got[1][[2, 7]] == 0).all() and (got[2][[2, 7]] == 0).all()


def test_no_logits_sized_tensor_is_saved_for_backward():
    """What the graph keeps is hidden, weight, bias, labels and two [B, T] vectors: nothing [B, T, V]."""
    hidden, weight, bias_v, labels, *_ = _inputs(5, b=4, t=30, h=4, v=50)
    saved = []
    a = _leaves(hidden, weight, bias_v)
    with torch.autograd.graph.saved_tensors_hooks(lambda x: saved.append(x.numel()) or x, lambda x: x):
        logp, ent = logprobs_entropy_from_hidden(a[0], a[1], labels, 1.0, a[2], block_elements=7 * 50)
    assert saved and max(saved) == max(4 * 30 * 4, 50 * 4)  # the hidden states or the weight
    (logp.sum() + ent.sum()).backward()  # and the graph still works from what it kept


# ------------------------------------------------------------------ bf16 autocast
def _autocast_case(seed=6, v=300):
    """float32 master weights and hidden states, as under the trainer's bf16 autocast."""
    hidden, weight, bias_v, labels, w_lp, w_ent = _inputs(seed, b=2, t=6, h=8, v=v)  # blocks of 8 tokens
    return hidden.float(), (weight / 3).float(), bias_v.float(), labels, w_lp, w_ent


def test_bf16_autocast_matches_nn_linear_under_autocast_and_float64():
    """Under autocast the head's matmul runs in bf16 like nn.Linear's, the softmax in float32.

    Values: equal to the logits path under autocast to float32 rounding (1e-5: the same bf16 logits), and to
    the float64 truth within bf16's rounding of the logits (5e-2 absolute on logits of size ~3). Gradients
    (in the inputs' dtype: float32 master weights): bf16 logits shift p by up to ~3% relative, so they are
    compared as whole tensors, |g - g64| / |g64| (Frobenius): under 2e-2 (measured ~0.6-0.8% for both paths)
    and within 1.5x of the logits path's own error; fused and logits path differ by under 1e-2 (~0.2%)."""
    hidden, weight, bias_v, labels, w_lp, w_ent = _autocast_case()
    a, b = _leaves(hidden, weight, bias_v), _leaves(hidden, weight, bias_v)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fused = logprobs_entropy_from_hidden(a[0], a[1], labels, 0.8, a[2], block_elements=300 * 8)
        unfused = _unfused(b[0], b[1], b[2], labels, 0.8)
    assert fused[0].dtype == fused[1].dtype == torch.float32
    lp, ent, got = _grads(fused, a, w_lp, w_ent)
    lp_u, ent_u, via_logits = _grads(unfused, b, w_lp, w_ent)
    c = _leaves(*(x.double() for x in (hidden, weight, bias_v)))
    lp64, ent64, exact = _grads(_unfused(c[0], c[1], c[2], labels, 0.8), c, w_lp, w_ent)
    torch.testing.assert_close(lp, lp_u, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ent, ent_u, rtol=1e-5, atol=1e-5)
    assert (lp.double() - lp64).abs().max() < 5e-2 and (ent.double() - ent64).abs().max() < 5e-2
    assert (lp.double() - lp64).abs().max() > 1e-3  # the matmul did run in bf16 (float32 would be ~1e-6)

    def rel(g, x):
        return float((g.double() - x).norm() / x.norm())

    for name, g, u, x in zip(("hidden", "weight", "bias"), got, via_logits, exact):
        assert g.dtype == torch.float32, name
        assert rel(g, x) < 2e-2 and rel(g, x) < 1.5 * rel(u, x), name
        assert rel(g, u.double()) < 1e-2, name


def test_bf16_weights_give_float32_outputs_and_bf16_gradients():
    hidden, weight, bias_v, labels, w_lp, w_ent = _autocast_case(7)
    a = _leaves(hidden.bfloat16(), weight.bfloat16(), bias_v.bfloat16())
    lp, ent, got = _grads(logprobs_entropy_from_hidden(a[0], a[1], labels, 1.0, a[2]), a, w_lp, w_ent)
    c = _leaves(*(x.double() for x in a))
    lp64, _, exact = _grads(_unfused(c[0], c[1], c[2], labels, 1.0), c, w_lp, w_ent)
    assert lp.dtype == torch.float32 and all(g.dtype == torch.bfloat16 for g in got)
    assert (lp.double() - lp64).abs().max() < 5e-2
    for g, x in zip(got, exact):
        torch.testing.assert_close(g.double(), x, rtol=2e-2, atol=2e-2)


# ------------------------------------------------------------------ tied and frozen weights
def test_tied_weight_gets_the_sum_of_embedding_and_head_gradients():
    """W is also the embedding (tie_word_embeddings): its gradient is the sum of both uses, as with logits."""
    _, weight, _, labels, w_lp, w_ent = _inputs(8)
    ids = torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(8))
    mix = torch.randn(H, H, generator=torch.Generator().manual_seed(9), dtype=torch.float64)

    def run(w, fused):
        hidden = torch.tanh(F.embedding(ids, w) @ mix)
        out = (logprobs_entropy_from_hidden(hidden, w, labels, 0.9, block_elements=3 * V) if fused
               else _unfused(hidden, w, None, labels, 0.9))
        return _grads(out, [w], w_lp, w_ent)[2][0]

    got, want = run(*_leaves(weight), True), run(*_leaves(weight), False)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    w = _leaves(weight)[0]  # the embedding's share is really there: the head's gradient alone differs
    hidden = torch.tanh(F.embedding(ids, weight) @ mix)
    head_only = _grads(logprobs_entropy_from_hidden(hidden, w, labels, 0.9), [w], w_lp, w_ent)[2][0]
    assert not torch.allclose(got, head_only)


def test_frozen_weight_lora_base_gets_no_gradient_and_hidden_gets_the_right_one():
    hidden, weight, bias_v, labels, w_lp, w_ent = _inputs(10)
    h = hidden.clone().requires_grad_(True)  # weight and bias stay frozen (requires_grad False)
    logp, ent = logprobs_entropy_from_hidden(h, weight, labels, 1.1, bias_v, block_elements=2 * V)
    ((logp * w_lp).sum() + (ent * w_ent).sum()).backward()
    assert weight.grad is None and bias_v.grad is None
    h2 = hidden.clone().requires_grad_(True)
    lp2, ent2 = _unfused(h2, weight, bias_v, labels, 1.1)
    ((lp2 * w_lp).sum() + (ent2 * w_ent).sum()).backward()
    torch.testing.assert_close(h.grad, h2.grad, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("change, error, match", [
    (lambda h, w, b, y: (h[0], w, b, y), ValueError, r"hidden must be \[B, T, H\]"),
    (lambda h, w, b, y: (h, w[:, :2], b, y), ValueError, r"weight must be \[V, H\] with H = 4"),
    (lambda h, w, b, y: (h, w, b[:3], y), ValueError, r"bias must be \[V\]"),
    (lambda h, w, b, y: (h, w, b, y[:, :2]), ValueError, "labels shape"),
    (lambda h, w, b, y: (h, w, b, y.double()), TypeError, "labels must be integer"),
    (lambda h, w, b, y: (h.long(), w, b, y), TypeError, "hidden must be floating point"),
    (lambda h, w, b, y: (h.float(), w, b, y), TypeError, "must share a dtype"),
])
def test_bad_inputs_are_rejected(change, error, match):
    hidden, weight, bias_v, labels, *_ = _inputs(11)
    h, w, b, y = change(hidden, weight, bias_v, labels)
    with pytest.raises(error, match=match):
        logprobs_entropy_from_hidden(h, w, y, 1.0, b)


def test_bad_temperature_is_rejected():
    hidden, weight, bias_v, labels, *_ = _inputs(11)
    with pytest.raises(ValueError, match="temperature"):
        logprobs_entropy_from_hidden(hidden, weight, labels, 0.0, bias_v)
