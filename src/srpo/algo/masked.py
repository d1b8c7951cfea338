"""Masked reductions over padded [B, T] tensors.

The mask is 0/1 (bool, int or float). Masked-out positions are excluded with `torch.where`, not by
multiplying, so padding that holds inf or NaN (e.g. log-probs of pad tokens) cannot leak into a result
or its gradient.
"""

from __future__ import annotations

import torch
from torch import Tensor


def masked_sum(x: Tensor, mask: Tensor, dim: int | tuple[int, ...] | None = None) -> Tensor:
    """sum(x[mask]) over `dim` (all dims when None). `mask` broadcasts against `x`."""
    kept = torch.where(mask.bool(), x, torch.zeros((), dtype=x.dtype, device=x.device))
    return kept.sum() if dim is None else kept.sum(dim=dim)


def masked_count(mask: Tensor, dim: int | tuple[int, ...] | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
    """Number of valid positions over `dim` (all dims when None), as `dtype`."""
    m = mask.bool().to(dtype)
    return m.sum() if dim is None else m.sum(dim=dim)


def masked_mean(x: Tensor, mask: Tensor, dim: int | tuple[int, ...] | None = None) -> Tensor:
    """sum(x * mask) / max(sum(mask), 1) over `dim` (all dims when None).

    The denominator is clamped at 1 so that an all-masked row or batch gives 0, not NaN.
    """
    count = masked_count(mask.expand_as(x), dim=dim, dtype=x.dtype)
    return masked_sum(x, mask, dim=dim) / count.clamp(min=1)
