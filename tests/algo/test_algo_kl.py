import math

import pytest
import torch

import _algo_ref as ref
from srpo.algo import KL_ESTIMATORS

NAMES = ("k1", "k2", "k3")


@pytest.mark.parametrize("name", NAMES)
def test_matches_loop_reference(name):
    g = torch.Generator().manual_seed(0)
    logp = -torch.rand(4, 6, generator=g, dtype=torch.float64) * 4
    ref_logp = -torch.rand(4, 6, generator=g, dtype=torch.float64) * 4
    logp[0, 0], ref_logp[0, 0] = 0.0, -60.0  # beyond the clamp
    got = KL_ESTIMATORS.get(name)(logp, ref_logp)
    torch.testing.assert_close(got, ref.kl(name, logp, ref_logp), rtol=1e-12, atol=1e-12)
    got = KL_ESTIMATORS.get(name)(logp, ref_logp, clamp=1.0)
    torch.testing.assert_close(got, ref.kl(name, logp, ref_logp, clamp=1.0), rtol=1e-12, atol=1e-12)


def test_hand_computed():
    # pi(x) = 0.5, ref(x) = 0.25: delta = log 2
    logp = torch.tensor([[math.log(0.5)]], dtype=torch.float64)
    ref_logp = torch.tensor([[math.log(0.25)]], dtype=torch.float64)
    assert KL_ESTIMATORS.get("k1")(logp, ref_logp).item() == pytest.approx(0.6931471805599453, abs=1e-15)
    assert KL_ESTIMATORS.get("k2")(logp, ref_logp).item() == pytest.approx(0.2402265069591007, abs=1e-15)
    k3 = KL_ESTIMATORS.get("k3")(logp, ref_logp).item()
    assert k3 == pytest.approx(0.1931471805599453, abs=1e-15)  # 1/2 - 1 + log 2


def test_exact_expectations_over_a_distribution():
    """E_{x~pi}[k1] = E_{x~pi}[k3] = KL(pi || ref) exactly; k2 is biased. Weighted sum, no sampling."""
    pi = torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05], dtype=torch.float64)
    rf = torch.tensor([0.1, 0.3, 0.3, 0.2, 0.1], dtype=torch.float64)
    true_kl = (pi * (pi / rf).log()).sum()
    lp, lr = pi.log()[None], rf.log()[None]
    expect = {n: (pi * KL_ESTIMATORS.get(n)(lp, lr)[0]).sum() for n in NAMES}
    torch.testing.assert_close(expect["k1"], true_kl, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(expect["k3"], true_kl, rtol=1e-12, atol=1e-12)
    assert abs(expect["k2"] - true_kl) > 1e-3


def test_nonnegative_and_zero_at_equality():
    g = torch.Generator().manual_seed(1)
    logp, ref_logp = torch.randn(50, 3, generator=g), torch.randn(50, 3, generator=g)
    assert (KL_ESTIMATORS.get("k2")(logp, ref_logp) >= 0).all()
    assert (KL_ESTIMATORS.get("k3")(logp, ref_logp) >= 0).all()
    for n in NAMES:
        assert (KL_ESTIMATORS.get(n)(logp, logp) == 0).all()


def test_clamp_keeps_k3_finite_and_reference_gets_no_grad():
    logp = torch.tensor([[-200.0]], requires_grad=True)
    ref_logp = torch.tensor([[0.0]], requires_grad=True)
    k3 = KL_ESTIMATORS.get("k3")(logp, ref_logp)
    assert torch.isfinite(k3).all() and k3.item() == pytest.approx(math.exp(20) - 21, rel=1e-6)
    k3.sum().backward()
    assert logp.grad.item() == 0.0 and ref_logp.grad is None


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck(name):
    g = torch.Generator().manual_seed(2)
    logp = torch.randn(2, 3, generator=g, dtype=torch.float64, requires_grad=True)
    ref_logp = torch.randn(2, 3, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: KL_ESTIMATORS.get(name)(x, ref_logp), (logp,))
