"""Per-token log-probabilities and entropies straight from the final hidden states: the LM head fused in.

`logprobs_from_logits` needs the logits [B, T, V] and gives back their gradient [B, T, V]: for a 152k
vocabulary at 64 x 640 tokens, ~12 GB in bf16 each. Here the head's matmul runs block by block over the
tokens inside one autograd function, so at most one block of logits exists at a time, forward and backward:
the backward pass recomputes each block's logits from the saved hidden states, the head weight and the
per-token logsumexp, turns them into the gradient of the block's logits, and accumulates the gradients of
the hidden states, the weight and the bias from it. The extra cost is one more head matmul per block
(the forward's, recomputed); what is saved is 2 x B x T x V values.

Blocks are consecutive ranges of the B x T tokens (flattened, so a block may span the end of one sequence
and the start of the next; a token's vocabulary is never split) of `HEAD_BLOCK_ELEMENTS` logits (or
`block_elements`), but at least H tokens (`_token_blocks`). The dtype rules and the -inf guard are those
of `logprobs.py`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from srpo.algo.logprobs import _compute_dtype, _zero_where_impossible

__all__ = ["logprobs_entropy_from_hidden", "HEAD_BLOCK_ELEMENTS"]

# Logits per block: 2**24 = 16M, 64 MiB in float32 (~110 tokens of a 152k vocabulary, 512 of 32k), raised
# to H tokens per block where that is more (see `_token_blocks`).
HEAD_BLOCK_ELEMENTS = 2**24

_AUTOCAST_ELIGIBLE = (torch.float32, torch.float16, torch.bfloat16)  # autocast leaves float64 alone


def _matmul_dtype(tensor: Tensor) -> torch.dtype:
    """The dtype an `nn.Linear` input would be cast to here: the autocast dtype when autocast is on for the
    tensor's device (float64 excepted, as autocast does), else the tensor's own."""
    device = tensor.device.type
    if torch.is_autocast_enabled(device) and tensor.dtype in _AUTOCAST_ELIGIBLE:
        return torch.get_autocast_dtype(device)
    return tensor.dtype


def _logits_block(h: Tensor, w: Tensor, bias: Tensor | None, cdt: torch.dtype, tau: float) -> Tensor:
    """z = (h W^T + bias) / tau for one block, as a fresh tensor in the compute dtype (safe to modify in
    place). h, w, bias are in the matmul dtype; the logits exist in that dtype only until z is made."""
    z = F.linear(h, w, bias).to(cdt)  # F.linear's output is fresh: .to copies only to change the dtype
    return z if tau == 1.0 else z.div_(tau)


def _logits_grad_block(logp: Tensor, labels: Tensor, g_logp: Tensor | None, g_ent: Tensor | None, ent: Tensor,
                       guard: bool) -> Tensor:
    """dL/dz for one block, computed in place in `logp` (log p [.., V], overwritten).

    dL/dz = g_logp * (onehot(y) - p) + g_ent * (-p * (log p + H)) = p * (-g_ent * (log p + H) - g_logp)
    + g_logp * onehot(y). With `guard` (some logits may be -inf), a -inf logit (p = 0) gets 0, not NaN.
    """
    if g_ent is None:  # log p is needed no more: p in its place, no second block (0 where p = 0, no guard)
        dz = logp.exp_().mul_(-g_logp.unsqueeze(-1))
    else:
        p = torch.exp(logp)
        dz = logp.add_(ent.unsqueeze(-1)).mul_(-g_ent.unsqueeze(-1))
        if g_logp is not None:
            dz.sub_(g_logp.unsqueeze(-1))
        dz.mul_(p)
        if guard:
            dz = _zero_where_impossible(p, dz)
    if g_logp is not None:
        dz.scatter_add_(-1, labels.unsqueeze(-1), g_logp.unsqueeze(-1))
    return dz


def _token_blocks(n: int, v: int, h: int, block_elements: int) -> list[slice]:
    """Consecutive token ranges covering [0, n), each of max(block_elements // V, H) tokens (the last fewer).

    A block may start or end inside a sequence. At least H tokens, because every block re-reads the weight
    [V, H] (and backward adds a [V, H] product into its gradient): with >= H tokens a block has at least as
    many logits as the weight has entries, so that traffic stays below the block's own. Measured on CPU
    under bf16 autocast (V = 152k, H = 256, bench/head_memory.py): blocks of 55 tokens made the update ~1.9x
    the logits path's time, blocks of 220-440 tokens 1.3-1.6x.
    """
    step = max(1, block_elements // max(v, 1), h)
    return [slice(lo, min(lo + step, n)) for lo in range(0, n, step)]


class _HeadLogProbEntropy(torch.autograd.Function):
    """(logp, H)[n] of softmax(z), z = (h[n] W^T + bias) / tau over flattened tokens n, block by block; see
    the module docstring."""

    @staticmethod
    def forward(ctx, hidden_nh: Tensor, weight_vh: Tensor, bias_v: Tensor | None, labels_n: Tensor,
                temperature: float, block_elements: int, mm_dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        n, v = hidden_nh.shape[0], weight_vh.shape[0]
        cdt = _compute_dtype(mm_dtype)
        w = weight_vh.to(mm_dtype)  # cast once, as autocast's weight cache does for nn.Linear
        bias = None if bias_v is None else bias_v.to(mm_dtype)
        # A logit can be -inf (p = 0, where 0 * -inf would give NaN) only through a -inf bias: guard only with
        # a bias (checking it for -inf would cost a host sync; the models fused here have none).
        guard = bias_v is not None
        logp_n, ent_n, lse_n = (torch.empty(n, dtype=cdt, device=hidden_nh.device) for _ in range(3))
        with torch.autocast(hidden_nh.device.type, enabled=False):
            for blk in _token_blocks(n, v, hidden_nh.shape[1], block_elements):
                logp = _logits_block(hidden_nh[blk].to(mm_dtype), w, bias, cdt, temperature)
                lse = torch.logsumexp(logp, dim=-1)
                logp.sub_(lse.unsqueeze(-1))
                logp_n[blk] = logp.gather(-1, labels_n[blk].unsqueeze(-1)).squeeze(-1)
                p = torch.exp(logp)
                p_logp = logp.mul_(p)
                ent_n[blk] = -(_zero_where_impossible(p, p_logp) if guard else p_logp).sum(-1)
                lse_n[blk] = lse
        ctx.save_for_backward(hidden_nh, weight_vh, bias_v, labels_n, lse_n, ent_n)
        ctx.temperature, ctx.block_elements, ctx.mm_dtype, ctx.guard = temperature, block_elements, mm_dtype, guard
        ctx.set_materialize_grads(False)  # an unused output (e.g. a detached entropy) costs nothing backward
        return logp_n, ent_n

    @staticmethod
    def backward(ctx, g_logp_n: Tensor | None, g_ent_n: Tensor | None):
        hidden_nh, weight_vh, bias_v, labels_n, lse_n, ent_n = ctx.saved_tensors
        need_h, need_w, need_b = ctx.needs_input_grad[:3]
        if (g_logp_n is None and g_ent_n is None) or not (need_h or need_w or need_b):
            return None, None, None, None, None, None, None
        n, v = hidden_nh.shape[0], weight_vh.shape[0]
        mm, cdt, tau = ctx.mm_dtype, lse_n.dtype, ctx.temperature
        w = weight_vh.to(mm)
        bias = None if bias_v is None else bias_v.to(mm)
        # dL/d logits = dL/dz / tau: folded into the [N] incoming gradients rather than a pass over [n, V]
        g_logp_n = None if g_logp_n is None else g_logp_n.to(cdt) / tau
        g_ent_n = None if g_ent_n is None else g_ent_n.to(cdt) / tau
        grad_h = torch.empty(hidden_nh.shape, dtype=hidden_nh.dtype, device=hidden_nh.device) if need_h else None
        grad_w = torch.zeros_like(weight_vh) if need_w else None  # accumulated in the weight's own dtype
        grad_b = torch.zeros(v, dtype=cdt, device=bias_v.device) if need_b else None
        with torch.autocast(hidden_nh.device.type, enabled=False):
            for blk in _token_blocks(n, v, hidden_nh.shape[1], ctx.block_elements):
                h = hidden_nh[blk].to(mm)
                # log p from the saved logsumexp; no name keeps this block alive once dz has the matmul dtype
                dz = _logits_grad_block(_logits_block(h, w, bias, cdt, tau).sub_(lse_n[blk].unsqueeze(-1)),
                                        labels_n[blk], None if g_logp_n is None else g_logp_n[blk],
                                        None if g_ent_n is None else g_ent_n[blk], ent_n[blk], ctx.guard)
                if need_b:
                    grad_b += dz.sum(0)
                dz = dz.to(mm)  # the logits' gradient in the logits' dtype, as nn.Linear's backward sees it
                if need_h:
                    grad_h[blk] = dz @ w
                if need_w:
                    if grad_w.dtype == mm:
                        grad_w.addmm_(dz.T, h)  # no [V, H] temporary
                    else:
                        grad_w += dz.T @ h
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
    *, block_elements: int | None = None
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
    up to float rounding, with at most one block of logits alive: [n, V] for n = max(block_elements // V, H)
    tokens (`HEAD_BLOCK_ELEMENTS` by default).

    Shapes: hidden [B, T, H] (any strides), weight [V, H], bias [V] or None, labels [B, T] integer ids in
    [0, V) (give pad positions any valid id and mask them later). Returns (logp [B, T], entropy [B, T]) in
    float32 (float64 when the matmul runs in float64). Under autocast the matmul runs in the autocast dtype
    as nn.Linear would (float64 inputs excepted) and the softmax math in float32; otherwise hidden, weight
    and bias must share a dtype. Both outputs are differentiable with respect to hidden, weight and bias;
    grad_weight accumulates over blocks in the weight's dtype (float32 master weights stay float32), and a
    weight that does not require grad (a frozen base under LoRA) gets none computed.
    """
    mm_dtype = _check(hidden_bth, weight_vh, bias_v, labels_bt, temperature)
    b, t, h = hidden_bth.shape
    block_elements = HEAD_BLOCK_ELEMENTS if block_elements is None else int(block_elements)
    logp_n, ent_n = _HeadLogProbEntropy.apply(hidden_bth.reshape(b * t, h), weight_vh, bias_v,
                                              labels_bt.reshape(b * t).long(), float(temperature), block_elements,
                                              mm_dtype)
    return logp_n.view(b, t), ent_n.view(b, t)
