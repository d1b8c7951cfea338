import math

import pytest
import torch

import _algo_ref as ref
from srpo.algo import entropy_from_logits, logprobs_from_logits, masked_mean, masked_sum

# block sizes that force: one block; several sequences per block; several blocks per sequence
BLOCKS = [2**25, 3 * 7, 7]


def _logits(seed, B=3, T=5, V=7, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(B, T, V, generator=g, dtype=torch.float64) * 3).to(dtype)
    labels = torch.randint(0, V, (B, T), generator=g)
    return logits, labels


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_matches_naive_softmax(block, temperature):
    logits, labels = _logits(0)
    want_lp, want_ent = ref.logprob_and_entropy(logits, labels, temperature)
    got_lp = logprobs_from_logits(logits, labels, temperature, block_elements=block)
    got_ent = entropy_from_logits(logits, temperature, block_elements=block)
    torch.testing.assert_close(got_lp, want_lp, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got_ent, want_ent, rtol=1e-12, atol=1e-12)


def test_hand_computed():
    logits = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [math.log(3.0), 0.0, -math.inf, -math.inf]]], dtype=torch.float64)
    labels = torch.tensor([[2, 0]])
    lp = logprobs_from_logits(logits, labels)
    torch.testing.assert_close(lp, torch.tensor([[math.log(0.25), math.log(0.75)]], dtype=torch.float64))
    ent = entropy_from_logits(logits)  # -inf logits (banned tokens) have p = 0 and add nothing
    h2 = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    torch.testing.assert_close(ent, torch.tensor([[math.log(4.0), h2]], dtype=torch.float64))
    x = logits.clone().requires_grad_(True)
    (entropy_from_logits(x).sum() + logprobs_from_logits(x, labels).sum()).backward()
    assert torch.isfinite(x.grad).all() and (x.grad[0, 1, 2:] == 0).all()


def test_non_contiguous_slice_of_model_output():
    logits, labels = _logits(1, B=2, T=9, V=6)
    sliced = logits[:, 2:8]  # e.g. the response part of [B, prompt+response, V]: not viewable as [B*T, V]
    assert not sliced.is_contiguous()
    want = torch.log_softmax(sliced, -1).gather(-1, labels[:, 2:8, None]).squeeze(-1)
    torch.testing.assert_close(logprobs_from_logits(sliced, labels[:, 2:8], block_elements=6 * 4), want)


def test_bf16_is_upcast_per_block():
    logits, labels = _logits(2, B=4, T=16, V=300, dtype=torch.bfloat16)
    exact = torch.log_softmax(logits.double(), -1).gather(-1, labels[..., None]).squeeze(-1)
    got = logprobs_from_logits(logits, labels, block_elements=300 * 5)
    assert got.dtype == torch.float32
    assert (got.double() - exact).abs().max() < 1e-5
    # control: the same computation done in bf16 is off by far more
    in_bf16 = torch.log_softmax(logits, -1).gather(-1, labels[..., None]).squeeze(-1)
    assert (in_bf16.double() - exact).abs().max() > 1e-3
    ent = entropy_from_logits(logits, block_elements=300 * 5)
    p = torch.softmax(logits.double(), -1)
    assert (ent.double() - (-(p * p.log()).sum(-1))).abs().max() < 1e-5


def test_bf16_gradient_matches_float64():
    logits, labels = _logits(3, B=2, T=6, V=50, dtype=torch.bfloat16)
    x = logits.clone().requires_grad_(True)
    w = torch.randn(2, 6, dtype=torch.float64)
    (logprobs_from_logits(x, labels, 0.8, block_elements=50 * 4) * w).sum().backward()
    x64 = logits.double().requires_grad_(True)
    (torch.log_softmax(x64 / 0.8, -1).gather(-1, labels[..., None]).squeeze(-1) * w).sum().backward()
    assert x.grad.dtype == torch.bfloat16
    torch.testing.assert_close(x.grad.double(), x64.grad, rtol=2e-2, atol=2e-2)


def test_bf16_entropy_and_its_gradient_match_float64():
    """bf16 logits, float32 blocks: the entropy to 1e-5 (float32 rounding of sums over V = 300), its gradient
    to bf16's own rounding (the gradient is returned in the logits' dtype, 8 mantissa bits: rtol 2e-2)."""
    logits, _ = _logits(6, B=2, T=6, V=300, dtype=torch.bfloat16)
    x = logits.clone().requires_grad_(True)
    w = torch.randn(2, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    ent = entropy_from_logits(x, 0.8, block_elements=300 * 5)
    (ent * w).sum().backward()
    x64 = logits.double().requires_grad_(True)
    logp = torch.log_softmax(x64 / 0.8, -1)
    ent64 = -(logp.exp() * logp).sum(-1)
    (ent64 * w).sum().backward()
    assert ent.dtype == torch.float32 and x.grad.dtype == torch.bfloat16
    assert (ent.double() - ent64.detach()).abs().max() < 1e-5
    torch.testing.assert_close(x.grad.double(), x64.grad, rtol=2e-2, atol=1e-3)


@pytest.mark.parametrize("block", BLOCKS)
def test_gradcheck_logprobs(block):
    logits, labels = _logits(4, B=2, T=4, V=5)
    x = logits.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: logprobs_from_logits(z, labels, 0.9, block_elements=block), (x,))


@pytest.mark.parametrize("block", BLOCKS)
def test_gradcheck_entropy(block):
    logits, _ = _logits(5, B=2, T=4, V=5)
    x = logits.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: entropy_from_logits(z, 1.3, block_elements=block), (x,))


def test_bad_inputs_rejected():
    logits, labels = _logits(0)
    with pytest.raises(ValueError, match=r"\[B, T, V\]"):
        logprobs_from_logits(logits[0], labels[0])
    with pytest.raises(ValueError, match="labels shape"):
        logprobs_from_logits(logits, labels[:, :2])
    with pytest.raises(ValueError, match="temperature"):
        entropy_from_logits(logits, 0.0)


def test_masked_reductions():
    x = torch.tensor([[1.0, 2.0, float("nan")], [4.0, float("inf"), 6.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 1]])
    assert masked_sum(x, mask).item() == 13.0
    assert masked_mean(x, mask).item() == 3.25
    torch.testing.assert_close(masked_mean(x, mask, dim=-1), torch.tensor([1.5, 5.0]))
    torch.testing.assert_close(masked_sum(x, mask, dim=0), torch.tensor([5.0, 2.0, 6.0]))
    assert masked_mean(x, torch.zeros_like(mask)).item() == 0.0
    torch.testing.assert_close(masked_mean(x, torch.tensor([[1, 0, 0], [0, 0, 0]]), dim=-1), torch.tensor([1.0, 0.0]))
