"""Per-token estimators of KL(pi || ref) from tokens sampled from pi (Schulman, "Approximating KL
divergence", 2020, http://joschu.net/blog/kl-approx.html).

Every estimator has the signature  fn(logprobs_bt, ref_logprobs_bt, *, clamp=20.0) -> kl_bt  ([B, T]).
With delta = clamp(logp - ref_logp, -clamp, clamp) (log pi/ref at the sampled token):
  k1 = delta                        unbiased, high variance, can be negative
  k2 = delta^2 / 2                  biased, low variance, >= 0
  k3 = exp(-delta) - 1 + delta      unbiased, low variance, >= 0 (GRPO's KL term; verl "low_var_kl")
The clamp keeps exp() finite (exp(20) ~ 4.9e8): the same bound as the policy ratio. Outside it the
estimate is constant and the token gets no gradient. Mask and aggregate the result like any token loss.
"""

from __future__ import annotations

import torch
from torch import Tensor

from srpo.core.registry import Registry

KL_ESTIMATORS: Registry = Registry("KL estimator")

DEFAULT_KL_CLAMP = 20.0


def _log_ratio(logprobs_bt: Tensor, ref_logprobs_bt: Tensor, clamp: float) -> Tensor:
    """delta = clamp(logp - ref_logp, -clamp, clamp), [B, T]. The reference never gets a gradient."""
    if logprobs_bt.shape != ref_logprobs_bt.shape:
        raise ValueError(f"logprobs {tuple(logprobs_bt.shape)} and ref {tuple(ref_logprobs_bt.shape)} differ")
    return torch.clamp(logprobs_bt - ref_logprobs_bt.detach(), -clamp, clamp)


@KL_ESTIMATORS.register("k1")
def kl_k1(logprobs_bt: Tensor, ref_logprobs_bt: Tensor, *, clamp: float = DEFAULT_KL_CLAMP) -> Tensor:
    """k1 = log pi(x) - log ref(x), [B, T]."""
    return _log_ratio(logprobs_bt, ref_logprobs_bt, clamp)


@KL_ESTIMATORS.register("k2")
def kl_k2(logprobs_bt: Tensor, ref_logprobs_bt: Tensor, *, clamp: float = DEFAULT_KL_CLAMP) -> Tensor:
    """k2 = (log pi(x) - log ref(x))^2 / 2, [B, T]."""
    return 0.5 * _log_ratio(logprobs_bt, ref_logprobs_bt, clamp).square()


@KL_ESTIMATORS.register("k3")
def kl_k3(logprobs_bt: Tensor, ref_logprobs_bt: Tensor, *, clamp: float = DEFAULT_KL_CLAMP) -> Tensor:
    """k3 = ref(x)/pi(x) - 1 - log(ref(x)/pi(x)) = exp(-delta) - 1 + delta, [B, T]."""
    delta = _log_ratio(logprobs_bt, ref_logprobs_bt, clamp)
    # expm1 avoids first rounding exp(-delta) to a number near 1 and then subtracting 1
    return torch.expm1(-delta) + delta
