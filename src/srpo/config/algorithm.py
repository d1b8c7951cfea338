"""Configs for the policy update: the RL objective (`AlgorithmConfig`) and the optimizer (`OptimConfig`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from srpo.algo import ADVANTAGE_ESTIMATORS, LOSS_AGGREGATIONS, POLICY_LOSSES
from srpo.core.configlib import ConfigError


@dataclass(frozen=True)
class AlgorithmConfig:
    """The RL objective.

    advantage: group advantage estimator (``srpo.algo.ADVANTAGE_ESTIMATORS``): ``grpo`` divides by the
        group std, ``dr_grpo`` does not, ``rloo`` uses a leave-one-out baseline.
    std_unbiased: Bessel-corrected group std for ``grpo`` (as torch.std, TRL and verl do).
    adv_eps: added to the group std before dividing.
    policy_loss: surrogate in ``srpo.algo.POLICY_LOSSES``.
    clip_low, clip_high: ratio clip range [1 - clip_low, 1 + clip_high]; clip_high > clip_low is DAPO's
        clip-higher.
    dual_clip: lower bound c > 1 on the loss for negative advantages (dual-clip PPO); None disables it.
    log_ratio_clamp: |log pi/pi_old| is clamped to this before exp() so one token cannot overflow.
    loss_agg: how token losses become one number (``srpo.algo.LOSS_AGGREGATIONS``); ``token_mean``
        averages over every valid token of the mini-batch (SRPO/DAPO default).
    norm_len: constant length normaliser for ``seq_mean_token_sum_norm`` (Dr.GRPO); default
        rollout.max_new_tokens.
    kl_coef: weight of the KL penalty to a frozen reference: the run's initial model, loaded from
        model.path (also when resuming from a checkpoint); 0 disables it (and no reference model is kept).
    kl_estimator: ``k1``, ``k2`` or ``k3`` (Schulman's estimators).
    entropy_coef: weight of an entropy bonus (0: entropy is only logged).
    ppo_epochs: passes over each step's batch.
    mini_batch_size: responses per optimizer step; None = the whole step's batch (one on-policy update).
    micro_batch_size: responses per forward/backward; gradients accumulate exactly over micro-batches.
    old_logprobs: ``rollout`` takes pi_old from the engine's behaviour log-probs (no extra forward pass);
        ``recompute`` runs one no-grad forward pass before the update (needed when the rollout and
        training numerics differ, e.g. a separate inference engine or bf16 sampling).
    """

    advantage: str = "grpo"
    std_unbiased: bool = True
    adv_eps: float = 1e-6
    policy_loss: str = "ppo_clip"
    clip_low: float = 0.2
    clip_high: float = 0.28
    dual_clip: float | None = None
    log_ratio_clamp: float = 20.0
    loss_agg: str = "token_mean"
    norm_len: int | None = None
    kl_coef: float = 0.0
    kl_estimator: Literal["k1", "k2", "k3"] = "k3"
    entropy_coef: float = 0.0
    ppo_epochs: int = 1
    mini_batch_size: int | None = None
    micro_batch_size: int = 16
    old_logprobs: Literal["rollout", "recompute"] = "rollout"

    def validate(self) -> None:
        for name, registry in (("advantage", ADVANTAGE_ESTIMATORS), ("loss_agg", LOSS_AGGREGATIONS),
                               ("policy_loss", POLICY_LOSSES)):
            value = getattr(self, name)
            if value not in registry.names():
                raise ConfigError(f"{name}: must be one of {sorted(registry.names())}, got {value!r}")
        if not 0 <= self.clip_low < 1:
            raise ConfigError(f"clip_low: must be in [0, 1), got {self.clip_low}")
        if self.clip_high < 0:
            raise ConfigError(f"clip_high: must be >= 0, got {self.clip_high}")
        if self.dual_clip is not None and self.dual_clip <= 1:
            raise ConfigError(f"dual_clip: must be > 1 or null, got {self.dual_clip}")
        if self.kl_coef < 0:
            raise ConfigError(f"kl_coef: must be >= 0, got {self.kl_coef}")
        if self.ppo_epochs < 1:
            raise ConfigError(f"ppo_epochs: must be >= 1, got {self.ppo_epochs}")
        if self.micro_batch_size < 1:
            raise ConfigError(f"micro_batch_size: must be >= 1, got {self.micro_batch_size}")
        if self.mini_batch_size is not None and self.mini_batch_size < 1:
            raise ConfigError(f"mini_batch_size: must be >= 1 or null, got {self.mini_batch_size}")


@dataclass(frozen=True)
class OptimConfig:
    """AdamW and its learning-rate schedule.

    lr: peak learning rate. betas, eps, weight_decay: AdamW's. max_grad_norm: global gradient-norm clip
    (0 disables). warmup_steps: linear warm-up in optimizer steps. schedule: ``constant`` or ``cosine``
    (decays to lr * min_lr_ratio at the run's last optimizer step).
    """

    lr: float = 1e-5
    betas: list[float] = field(default_factory=lambda: [0.9, 0.99])
    eps: float = 1e-8
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    warmup_steps: int = 0
    schedule: Literal["constant", "cosine"] = "constant"
    min_lr_ratio: float = 0.1

    def validate(self) -> None:
        if self.lr <= 0:
            raise ConfigError(f"lr: must be > 0, got {self.lr}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"betas: must be two numbers in [0, 1), got {list(self.betas)}")
        if self.max_grad_norm < 0:
            raise ConfigError(f"max_grad_norm: must be >= 0, got {self.max_grad_norm}")
