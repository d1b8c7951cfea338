"""Per-token log-probabilities and entropies from logits, lean on memory and exact in bf16.

Both functions work block by block over views of `logits_btv` (never a reshaped copy), upcast each block
to float32 (float64 stays float64), and are custom autograd functions: the backward pass recomputes the
softmax of each block from the saved logits and the per-token logsumexp. So beyond the logits (and their
gradient), the memory cost is one float32 block plus O(B*T), forward and backward; a plain
`log_softmax(logits.float())` would keep a full float32 [B, T, V] copy alive for backward.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from srpo.algo.masked import masked_count, masked_mean, masked_sum

__all__ = ["logprobs_from_logits", "entropy_from_logits", "masked_mean", "masked_sum", "masked_count"]

# Logits per block: 2**22 float32 = 16 MiB, ~27 tokens of a 152k vocabulary. Small enough that the
# block temporaries are negligible next to the logits, large enough that the Python loop costs nothing.
BLOCK_ELEMENTS = 2**22


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for half types and float32, float64 for float64."""
    return torch.promote_types(dtype, torch.float32)


def _blocks(b: int, t: int, v: int, block_elements: int) -> Iterator[tuple[slice, slice]]:
    """(batch slice, time slice) pairs covering [B, T]; each block holds about `block_elements` logits."""
    rows = max(1, block_elements // max(v, 1))
    if t <= rows:
        step = max(1, rows // max(t, 1))
        for b0 in range(0, b, step):
            yield slice(b0, min(b0 + step, b)), slice(0, t)
    else:
        for bi in range(b):
            for t0 in range(0, t, rows):
                yield slice(bi, bi + 1), slice(t0, min(t0 + rows, t))


def _check(logits_btv: Tensor, temperature: float) -> None:
    if logits_btv.dim() != 3:
        raise ValueError(f"logits must be [B, T, V], got shape {tuple(logits_btv.shape)}")
    if not logits_btv.is_floating_point():
        raise TypeError(f"logits must be floating point, got {logits_btv.dtype}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")


def _zero_where_impossible(p: Tensor, x: Tensor) -> Tensor:
    """x where p > 0, else 0: a -inf logit (banned token) has p = 0 and must add 0, not 0 * inf = NaN."""
    return torch.where(p > 0, x, torch.zeros((), dtype=x.dtype, device=x.device))


def _scaled(block: Tensor, cdt: torch.dtype, temperature: float) -> Tensor:
    """block / temperature in the compute dtype. May be a view of `block` (same dtype, tau 1): never
    modify the result in place."""
    z = block.to(cdt)
    return z if temperature == 1.0 else z / temperature


def _fresh_scaled(block: Tensor, cdt: torch.dtype, temperature: float) -> Tensor:
    """Like `_scaled` but always a new tensor, safe to modify in place."""
    z = block.to(cdt, copy=True)
    return z if temperature == 1.0 else z.div_(temperature)


class _TokenLogProb(torch.autograd.Function):
    """logp[b,t] = z[b,t,y] - logsumexp_v z[b,t,v],  z = logits / temperature."""

    @staticmethod
    def forward(ctx, logits_btv: Tensor, labels_bt: Tensor, temperature: float, block_elements: int) -> Tensor:
        b, t, v = logits_btv.shape
        cdt = _compute_dtype(logits_btv.dtype)
        logp_bt = torch.empty((b, t), dtype=cdt, device=logits_btv.device)
        lse_bt = torch.empty((b, t), dtype=cdt, device=logits_btv.device)
        for bs, ts in _blocks(b, t, v, block_elements):
            z = _scaled(logits_btv[bs, ts], cdt, temperature)
            lse = torch.logsumexp(z, dim=-1)
            logp_bt[bs, ts] = z.gather(-1, labels_bt[bs, ts].unsqueeze(-1)).squeeze(-1) - lse
            lse_bt[bs, ts] = lse
        ctx.save_for_backward(logits_btv, labels_bt, lse_bt)
        ctx.temperature, ctx.block_elements = temperature, block_elements
        return logp_bt

    @staticmethod
    def backward(ctx, grad_bt: Tensor):
        # d logp / d z_v = onehot(y)_v - softmax(z)_v ; d z / d logits = 1 / temperature
        logits_btv, labels_bt, lse_bt = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        b, t, v = logits_btv.shape
        cdt, tau = lse_bt.dtype, ctx.temperature
        grad_btv = torch.empty_like(logits_btv)
        for bs, ts in _blocks(b, t, v, ctx.block_elements):
            g = grad_bt[bs, ts].to(cdt).unsqueeze(-1)
            block = _fresh_scaled(logits_btv[bs, ts], cdt, tau)  # the only block-sized temporary
            block.sub_(lse_bt[bs, ts].unsqueeze(-1)).exp_().mul_(-g)  # -p * g
            block.scatter_add_(-1, labels_bt[bs, ts].unsqueeze(-1), g)
            grad_btv[bs, ts] = block if tau == 1.0 else block.div_(tau)
        return grad_btv, None, None, None


class _TokenEntropy(torch.autograd.Function):
    """H[b,t] = logsumexp_v z - sum_v p_v z_v,  p = softmax(z),  z = logits / temperature."""

    @staticmethod
    def forward(ctx, logits_btv: Tensor, temperature: float, block_elements: int) -> Tensor:
        b, t, v = logits_btv.shape
        cdt = _compute_dtype(logits_btv.dtype)
        ent_bt = torch.empty((b, t), dtype=cdt, device=logits_btv.device)
        lse_bt = torch.empty((b, t), dtype=cdt, device=logits_btv.device)
        for bs, ts in _blocks(b, t, v, block_elements):
            z = _scaled(logits_btv[bs, ts], cdt, temperature)
            lse = torch.logsumexp(z, dim=-1)
            p = torch.exp(z - lse.unsqueeze(-1))
            ent_bt[bs, ts] = lse - _zero_where_impossible(p, p * z).sum(-1)
            lse_bt[bs, ts] = lse
        ctx.save_for_backward(logits_btv, lse_bt, ent_bt)
        ctx.temperature, ctx.block_elements = temperature, block_elements
        return ent_bt

    @staticmethod
    def backward(ctx, grad_bt: Tensor):
        # dH / dz_v = -p_v * (log p_v + H) ; d z / d logits = 1 / temperature
        logits_btv, lse_bt, ent_bt = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None
        b, t, v = logits_btv.shape
        cdt, tau = lse_bt.dtype, ctx.temperature
        grad_btv = torch.empty_like(logits_btv)
        for bs, ts in _blocks(b, t, v, ctx.block_elements):
            logp = _fresh_scaled(logits_btv[bs, ts], cdt, tau).sub_(lse_bt[bs, ts].unsqueeze(-1))
            p = torch.exp(logp)
            block = logp.add_(ent_bt[bs, ts].unsqueeze(-1)).mul_(p).mul_(-grad_bt[bs, ts].to(cdt).unsqueeze(-1))
            block = _zero_where_impossible(p, block)
            grad_btv[bs, ts] = block if tau == 1.0 else block.div_(tau)
        return grad_btv, None, None


def logprobs_from_logits(
    logits_btv: Tensor, labels_bt: Tensor, temperature: float = 1.0, *, block_elements: int = BLOCK_ELEMENTS
) -> Tensor:
    """Log-probability of each label under softmax(logits / temperature).

    logp[b, t] = logits[b, t, y] / tau - logsumexp_v(logits[b, t, v] / tau),  y = labels[b, t].

    Shapes: logits [B, T, V] (any strides, e.g. a slice of the model output), labels [B, T] long with
    values in [0, V) (give pad positions any valid id and mask them later). Returns [B, T] in float32
    (float64 for float64 logits): the ratio exp(logp - old_logp) needs more precision than bf16 has.
    Differentiable with respect to `logits`; the gradient has the logits' dtype.
    """
    _check(logits_btv, temperature)
    if labels_bt.shape != logits_btv.shape[:2]:
        raise ValueError(f"labels shape {tuple(labels_bt.shape)} != logits [B, T] {tuple(logits_btv.shape[:2])}")
    return _TokenLogProb.apply(logits_btv, labels_bt.long(), float(temperature), int(block_elements))


def entropy_from_logits(
    logits_btv: Tensor, temperature: float = 1.0, *, block_elements: int = BLOCK_ELEMENTS
) -> Tensor:
    """Entropy of softmax(logits / temperature) at each position.

    H[b, t] = -sum_v p[b,t,v] log p[b,t,v] = logsumexp(z) - sum_v p_v z_v,  z = logits[b, t] / tau.

    Shapes: logits [B, T, V] -> [B, T] in float32 (float64 for float64 logits). Differentiable.
    """
    _check(logits_btv, temperature)
    return _TokenEntropy.apply(logits_btv, float(temperature), int(block_elements))
