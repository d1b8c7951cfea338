"""Per-token log-probabilities and entropies straight from the final hidden states: the LM head fused in.

`logprobs_from_logits` needs the logits [B, T, V] and gives back their gradient [B, T, V]: for a 152k
vocabulary at 64 x 640 tokens, ~12 GB in bf16 each. Here the head's matmul runs block by block over the
tokens inside one autograd function, so at most one block of logits exists at a time, forward and backward:
the backward pass recomputes each block's logits from the saved hidden states, the head weight and the
per-token logsumexp, turns them into the gradient of the block's logits, and accumulates the gradients of
the hidden states, the weight and the bias from it. The extra cost is one more head matmul per block
(the forward's, recomputed); what is saved is 2 x B x T x V values.

Blocks come from `srpo.algo.logprobs._blocks` (views over [B, T], a block never splits a token's
vocabulary), the dtype rules are those of `logprobs.py`, and `HEAD_BLOCK_ELEMENTS` sets the block size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from srpo.algo.logprobs import _blocks, _compute_dtype, _fresh_scaled, _zero_where_impossible

__all__ = ["logprobs_entropy_from_hidden", "HEAD_BLOCK_ELEMENTS"]

# Logits per block: 2**25 = 32M, 128 MiB in float32, ~220 tokens of a 152k vocabulary (1k tokens of 32k).
# Larger than logprobs.py's blocks because each block here also re-reads the head weight (and, backward,
# adds a [V, H] product into its gradient): a block of a few hundred tokens amortises that V x H traffic
# over a matmul a GPU runs efficiently, while the few block-sized temporaries stay well under a GiB.
HEAD_BLOCK_ELEMENTS = 2**25

_AUTOCAST_ELIGIBLE = (torch.float32, torch.float16, torch.bfloat16)  # autocast leaves float64 alone


def _matmul_dtype(tensor: Tensor) -> torch.dtype:
    """The dtype an `nn.Linear` input would be cast to here: the autocast dtype when autocast is on for the
    tensor's device (float64 excepted, as autocast does), else the tensor's own."""
    device = tensor.device.type
    if torch.is_autocast_enabled(device) and tensor.dtype in _AUTOCAST_ELIGIBLE:
        return torch.get_autocast_dtype(device)
    return tensor.dtype


def _log_softmax_block(h: Tensor, w: Tensor, bias: Tensor | None, cdt: torch.dtype, tau: float) -> tuple[Tensor, Tensor]:
    """(log p [.., V] in `cdt`, a fresh tensor; logsumexp [..]) of z = (h W^T + bias) / tau for one block.

    h, w, bias are already in the matmul dtype; the block's logits exist in that dtype only until z (the
    compute dtype copy) is made."""
    z = _fresh_scaled(F.linear(h, w, bias), cdt, tau)
    lse = torch.logsumexp(z, dim=-1)
    return z.sub_(lse.unsqueeze(-1)), lse


def _logits_grad_block(logp: Tensor, labels: Tensor, g_logp: Tensor | None, g_ent: Tensor | None,
                       ent: Tensor, tau: float) -> Tensor:
    """dL/d logits for one block, computed in place in `logp` (log p [.., V], overwritten).

    dL/dz = g_logp * (onehot(y) - p) + g_ent * (-p * (log p + H));  dL/d logits = dL/dz / tau.
    A -inf logit (p = 0) gets gradient 0, never 0 * inf = NaN.
    """
    p = torch.exp(logp)
    if g_ent is not None:
        dz = logp.add_(ent.unsqueeze(-1)).mul_(p).mul_(-g_ent.unsqueeze(-1))
        dz = _zero_where_impossible(p, dz)
    else:
        dz = logp.zero_()
    if g_logp is not None:
        dz.sub_(p.mul_(g_logp.unsqueeze(-1)))
        dz.scatter_add_(-1, labels.unsqueeze(-1), g_logp.unsqueeze(-1))
    return dz if tau == 1.0 else dz.div_(tau)


class _HeadLogProbEntropy(torch.autograd.Function):
    """(logp, H)[b,t] of softmax(z), z = (h[b,t] W^T + bias) / tau, block by block; see the module docstring."""

    @staticmethod
    def forward(ctx, hidden_bth: Tensor, weight_vh: Tensor, bias_v: Tensor | None, labels_bt: Tensor,
                temperature: float, block_elements: int, mm_dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        b, t, _ = hidden_bth.shape
        v = weight_vh.shape[0]
        cdt = _compute_dtype(mm_dtype)
        w = weight_vh.to(mm_dtype)  # cast once, as autocast's weight cache does for nn.Linear
        bias = None if bias_v is None else bias_v.to(mm_dtype)
        logp_bt, ent_bt, lse_bt = (torch.empty((b, t), dtype=cdt, device=hidden_bth.device) for _ in range(3))
        with torch.autocast(hidden_bth.device.type, enabled=False):
            for bs, ts in _blocks(b, t, v, block_elements):
                logp, lse = _log_softmax_block(hidden_bth[bs, ts].to(mm_dtype), w, bias, cdt, temperature)
                logp_bt[bs, ts] = logp.gather(-1, labels_bt[bs, ts].unsqueeze(-1)).squeeze(-1)
                p = torch.exp(logp)
                ent_bt[bs, ts] = -_zero_where_impossible(p, logp.mul_(p)).sum(-1)
                lse_bt[bs, ts] = lse
        ctx.save_for_backward(hidden_bth, weight_vh, bias_v, labels_bt, lse_bt, ent_bt)
        ctx.temperature, ctx.block_elements, ctx.mm_dtype = temperature, block_elements, mm_dtype
        ctx.set_materialize_grads(False)  # an unused output (e.g. a detached entropy) costs nothing backward
        return logp_bt, ent_bt

    @staticmethod
    def backward(ctx, g_logp_bt: Tensor | None, g_ent_bt: Tensor | None):
        hidden_bth, weight_vh, bias_v, labels_bt, lse_bt, ent_bt = ctx.saved_tensors
        need_h, need_w, need_b = ctx.needs_input_grad[:3]
        if (g_logp_bt is None and g_ent_bt is None) or not (need_h or need_w or need_b):
            return None, None, None, None, None, None, None
        b, t, _ = hidden_bth.shape
        v = weight_vh.shape[0]
        mm, cdt, tau = ctx.mm_dtype, lse_bt.dtype, ctx.temperature
        w = weight_vh.to(mm)
        bias = None if bias_v is None else bias_v.to(mm)
        grad_h = torch.empty(hidden_bth.shape, dtype=hidden_bth.dtype, device=hidden_bth.device) if need_h else None
        grad_w = torch.zeros_like(weight_vh) if need_w else None  # accumulated in the weight's own dtype
        grad_b = torch.zeros(v, dtype=cdt, device=bias_v.device) if need_b else None
        with torch.autocast(hidden_bth.device.type, enabled=False):
            for bs, ts in _blocks(b, t, v, ctx.block_elements):
                h = hidden_bth[bs, ts].to(mm)
                logp, _ = _log_softmax_block(h, w, bias, cdt, tau)
                g_logp = None if g_logp_bt is None else g_logp_bt[bs, ts].to(cdt)
                g_ent = None if g_ent_bt is None else g_ent_bt[bs, ts].to(cdt)
                dz = _logits_grad_block(logp, labels_bt[bs, ts], g_logp, g_ent, ent_bt[bs, ts], tau)
                if need_b:
                    grad_b += dz.sum((0, 1))
                dz = dz.to(mm)  # the logits' gradient in the logits' dtype, as nn.Linear's backward sees it
                if need_h:
                    grad_h[bs, ts] = dz @ w
                if need_w:
                    grad_w += dz.flatten(0, 1).T @ h.flatten(0, 1)
        grad_b = None if grad_b is None else grad_b.to(bias_v.dtype)
        return grad_h, grad_w, grad_b, None, None, None, None


def _check(hidden_bth: Tensor, weight_vh: Tensor, bias_v: Tensor | None, labels_bt: Tensor,
           temperature: float) -> torch.dtype:
    """Validate the inputs; returns the matmul dtype."""
    if hidden_bth.dim() != 3:
        raise ValueError(f"hidden must be [B, T, H], got shape {tuple(hidden_bth.shape)}")
    if weight_vh.dim() != 2 or weight_vh.shape[1] != hidden_bth.shape[2]:
        raise ValueError(f"weight must be [V, H] with H = {hidden_bth.shape[2]} (the hidden size), "
                         f"got shape {tuple(weight_vh.shape)}")
    if bias_v is not None and tuple(bias_v.shape) != (weight_vh.shape[0],):
        raise ValueError(f"bias must be [V] = [{weight_vh.shape[0]}], got shape {tuple(bias_v.shape)}")
    if tuple(labels_bt.shape) != tuple(hidden_bth.shape[:2]):
        raise ValueError(f"labels shape {tuple(labels_bt.shape)} != hidden [B, T] {tuple(hidden_bth.shape[:2])}")
    for name, x in (("hidden", hidden_bth), ("weight", weight_vh), ("bias", bias_v)):
        if x is not None and not x.is_floating_point():
            raise TypeError(f"{name} must be floating point, got {x.dtype}")
    if labels_bt.is_floating_point() or labels_bt.is_complex() or labels_bt.dtype == torch.bool:
        raise TypeError(f"labels must be integer token ids, got {labels_bt.dtype}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    dtypes = {name: _matmul_dtype(x) for name, x in (("hidden", hidden_bth), ("weight", weight_vh),
                                                     ("bias", bias_v)) if x is not None}
    if len(set(dtypes.values())) > 1:
        raise TypeError(f"hidden, weight and bias must share a dtype (after autocast), as nn.Linear requires; "
                        f"got {', '.join(f'{k} {v}' for k, v in dtypes.items())}")
    return dtypes["hidden"]


def logprobs_entropy_from_hidden(
    hidden_bth: Tensor, weight_vh: Tensor, labels_bt: Tensor, temperature: float = 1.0, bias_v: Tensor | None = None,
    *, block_elements: int = HEAD_BLOCK_ELEMENTS
) -> tuple[Tensor, Tensor]:
    """Log-probability of each label and entropy at each position under softmax(z), with the LM head fused in.

        z[b, t]    = (h[b, t] W^T + bias) / tau                      (the logits of nn.Linear(H, V), scaled)
        logp[b, t] = z[b, t, y] - logsumexp_v z[b, t, v],  y = labels[b, t]
        H[b, t]    = -sum_v p_v log p_v,  p = softmax(z[b, t])

    Backward, per block, from the saved h, W, bias and logsumexp (p recomputed, never stored):

        d logp / dz = onehot(y) - p          dH / dz = -p * (log p + H)
        G = (g_logp * d logp/dz + g_H * dH/dz) / tau         (dL / d logits, one block [n, V])
        dL/dh = G W,   dL/dW = sum over blocks G^T h,   dL/dbias = sum over blocks and tokens G

    Equal to ``logprobs_from_logits(F.linear(h, W, bias), labels, tau)`` and ``entropy_from_logits(...)``
    up to float rounding, with at most one block of logits ([.., V], about `block_elements` values) alive.

    Shapes: hidden [B, T, H] (any strides), weight [V, H], bias [V] or None, labels [B, T] integer ids in
    [0, V) (give pad positions any valid id and mask them later). Returns (logp [B, T], entropy [B, T]) in
    float32 (float64 when the matmul runs in float64). Under autocast the matmul runs in the autocast dtype
    as nn.Linear would (float64 inputs excepted) and the softmax math in float32; otherwise hidden, weight
    and bias must share a dtype. Both outputs are differentiable with respect to hidden, weight and bias;
    grad_weight accumulates over blocks in the weight's dtype (float32 master weights stay float32), and a
    weight that does not require grad (a frozen base under LoRA) gets none computed.
    """
    mm_dtype = _check(hidden_bth, weight_vh, bias_v, labels_bt, temperature)
    return _HeadLogProbEntropy.apply(hidden_bth, weight_vh, bias_v, labels_bt.long(), float(temperature),
                                     int(block_elements), mm_dtype)
