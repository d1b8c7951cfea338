"""Outcome advantages from one scalar reward per response, normalised within its prompt's group.

Every estimator has the signature

    fn(rewards_b, group_ids_b, *, eps=1e-6, std_unbiased=True) -> advantages_b

rewards_b: [B] float; group_ids_b: [B] long, any values (they need not be 0..G-1 and members of a group
need not be adjacent); groups may have different sizes. Estimators that do not use `eps` or
`std_unbiased` accept and ignore them. All work is vectorised with `index_add_` / `scatter_reduce`.

Numeric choices (see docs/algo.md):
- Group std is Bessel-corrected (`std_unbiased=True`, divide by n-1) by default, as `torch.std` in verl's
  `compute_grpo_outcome_advantage` and TRL's GRPOTrainer, so advantages match theirs number for number.
- eps = 1e-6 is added to the std (verl's value; TRL adds 1e-4).
- A group of one has no baseline: its advantage is exactly 0 (verl gives r / (1 + eps) instead).
- A group whose rewards are all equal gets exactly 0, decided by max == min rather than by the rounding
  of r - mean, so float32 rewards like 0.1 can never give a small spurious advantage of
  rounding / eps.
- Statistics are computed in float64 and the result is cast back to the rewards' dtype.
"""

from __future__ import annotations

import torch
from torch import Tensor

from srpo.core.registry import Registry

ADVANTAGE_ESTIMATORS: Registry = Registry("advantage estimator")


def _check(rewards_b: Tensor, group_ids_b: Tensor) -> None:
    if rewards_b.dim() != 1 or group_ids_b.shape != rewards_b.shape:
        raise ValueError(
            f"rewards and group_ids must both be [B]; got {tuple(rewards_b.shape)} and {tuple(group_ids_b.shape)}"
        )
    if group_ids_b.is_floating_point():
        raise TypeError(f"group_ids must be an integer tensor, got {group_ids_b.dtype}")


def _dense_ids(group_ids_b: Tensor) -> tuple[Tensor, int]:
    """Map arbitrary group ids to 0..G-1: (index_b [B] long, G)."""
    uniq, index_b = torch.unique(group_ids_b, return_inverse=True)
    return index_b, uniq.numel()


def _group_sum(x_b: Tensor, index_b: Tensor, num_groups: int) -> Tensor:
    """[G] per-group sums of x_b."""
    return torch.zeros(num_groups, dtype=x_b.dtype, device=x_b.device).index_add_(0, index_b, x_b)


def _stats64(rewards_b: Tensor, group_ids_b: Tensor, unbiased: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """float64 (mean_b, std_b, count_b, constant_b) broadcast back to the elements.

    mean_g = sum_g r / n_g;  std_g = sqrt(sum_g (r - mean_g)^2 / (n_g - 1 if unbiased else n_g)),
    with std_g = 0 when n_g == 1 (Bessel's n-1 is undefined there). constant_b: max_g == min_g.
    Two passes (mean, then squared deviations) so the variance does not cancel catastrophically.
    """
    _check(rewards_b, group_ids_b)
    r = rewards_b.detach().to(torch.float64)
    index_b, g = _dense_ids(group_ids_b)
    count_g = _group_sum(torch.ones_like(r), index_b, g)
    mean_b = (_group_sum(r, index_b, g) / count_g)[index_b]
    sq_g = _group_sum((r - mean_b) ** 2, index_b, g)
    dof_g = (count_g - 1.0) if unbiased else count_g
    std_g = torch.where(count_g > 1, torch.sqrt(sq_g / dof_g.clamp(min=1.0)), torch.zeros_like(sq_g))
    hi_g = torch.full((g,), -torch.inf, dtype=r.dtype, device=r.device).scatter_reduce_(0, index_b, r, "amax")
    lo_g = torch.full((g,), torch.inf, dtype=r.dtype, device=r.device).scatter_reduce_(0, index_b, r, "amin")
    constant_b = (hi_g == lo_g)[index_b]
    return mean_b, std_g[index_b], count_g[index_b], constant_b


def _out_dtype(rewards_b: Tensor) -> torch.dtype:
    return rewards_b.dtype if rewards_b.is_floating_point() else torch.get_default_dtype()


def group_stats(rewards_b: Tensor, group_ids_b: Tensor, *, unbiased: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """Per-group mean, std and size, broadcast back to each element: ([B], [B], [B]).

    mean_b[i] = mean of the rewards in i's group; std_b[i] = its std (Bessel-corrected when `unbiased`,
    0 for a group of one); count_b[i] = its size. Returned in the rewards' dtype (count as that dtype too).
    """
    mean_b, std_b, count_b, _ = _stats64(rewards_b, group_ids_b, unbiased)
    dt = _out_dtype(rewards_b)
    return mean_b.to(dt), std_b.to(dt), count_b.to(dt)


@ADVANTAGE_ESTIMATORS.register("grpo")
def grpo_advantages(
    rewards_b: Tensor, group_ids_b: Tensor, *, eps: float = 1e-6, std_unbiased: bool = True
) -> Tensor:
    """GRPO: A_i = (r_i - mean_g) / (std_g + eps); 0 for groups of one and for constant groups. [B] -> [B]."""
    mean_b, std_b, count_b, constant_b = _stats64(rewards_b, group_ids_b, std_unbiased)
    adv_b = (rewards_b.detach().to(torch.float64) - mean_b) / (std_b + eps)
    adv_b = torch.where(constant_b | (count_b < 2), torch.zeros_like(adv_b), adv_b)
    return adv_b.to(_out_dtype(rewards_b))


@ADVANTAGE_ESTIMATORS.register("dr_grpo")
def dr_grpo_advantages(
    rewards_b: Tensor, group_ids_b: Tensor, *, eps: float = 1e-6, std_unbiased: bool = True
) -> Tensor:
    """Dr. GRPO (Liu et al. 2025): A_i = r_i - mean_g, no std division; 0 for constant groups. [B] -> [B].

    `eps` and `std_unbiased` are ignored.
    """
    mean_b, _, _, constant_b = _stats64(rewards_b, group_ids_b, std_unbiased)
    adv_b = rewards_b.detach().to(torch.float64) - mean_b
    return torch.where(constant_b, torch.zeros_like(adv_b), adv_b).to(_out_dtype(rewards_b))


@ADVANTAGE_ESTIMATORS.register("rloo")
def rloo_advantages(
    rewards_b: Tensor, group_ids_b: Tensor, *, eps: float = 1e-6, std_unbiased: bool = True
) -> Tensor:
    """RLOO (Ahmadian et al. 2024): leave-one-out baseline. [B] -> [B].

    A_i = r_i - (sum_g r - r_i) / (n_g - 1) = n_g / (n_g - 1) * (r_i - mean_g); 0 when n_g == 1 and for
    constant groups. `eps` and `std_unbiased` are ignored.
    """
    mean_b, _, count_b, constant_b = _stats64(rewards_b, group_ids_b, std_unbiased)
    scale_b = count_b / (count_b - 1.0).clamp(min=1.0)
    adv_b = scale_b * (rewards_b.detach().to(torch.float64) - mean_b)
    adv_b = torch.where(constant_b | (count_b < 2), torch.zeros_like(adv_b), adv_b)
    return adv_b.to(_out_dtype(rewards_b))
