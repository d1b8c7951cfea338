"""Configs for the policy update: the RL objective (`AlgorithmConfig`) and the optimizer (`OptimConfig`)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

from srpo.algo import ADVANTAGE_ESTIMATORS, KL_ESTIMATORS, LOSS_AGGREGATIONS, POLICY_LOSSES, REJECTION_STATISTICS
from srpo.core.configlib import ConfigError, option


# What each built-in policy loss reads: config field -> the loss function's keyword. Every other loss option is
# refused when changed (`AlgorithmConfig._validate_loss_options`), except clip_low/clip_high: presets set the
# clip range, so they stay ppo_clip's and the other losses ignore them.
LOSS_OPTIONS: dict[str, dict[str, str]] = {
    "ppo_clip": {"clip_low": "clip_low", "clip_high": "clip_high", "dual_clip": "dual_clip",
                 "log_ratio_clamp": "log_ratio_clamp"},
    "gspo": {"gspo_clip_low": "clip_low", "gspo_clip_high": "clip_high"},
    "cispo": {"cispo_clip_high": "clip_high", "log_ratio_clamp": "log_ratio_clamp"},
    "sapo": {"sapo_tau_pos": "tau_pos", "sapo_tau_neg": "tau_neg", "log_ratio_clamp": "log_ratio_clamp"},
}
_PRESET_LOSS_FIELDS = {"clip_low", "clip_high"}
_CHECKED_LOSS_FIELDS = {f for fields in LOSS_OPTIONS.values() for f in fields} - _PRESET_LOSS_FIELDS


@dataclass(frozen=True)
class RolloutCorrectionConfig:
    """Mismatch correction between the rollout engine's behaviour policy mu and the trainer's pi_old.

    With r_t = pi_old(y_t) / mu(y_t) (pi_old recomputed by the trainer, mu recorded by the rollout engine
    after temperature, before top-p), each token's policy loss is multiplied by a weight w: r_t per token, or
    prod_t r_t per sequence, truncated into [low, high] (TIS) or set to 0 outside it (IcePop / MIS); sequences
    whose statistic of log r (`srpo.algo.REJECTION_STATISTICS`) exceeds reject_threshold leave the loss.
    Formulas, defaults and the peers' equivalents: docs/algo.md.
    """

    enabled: bool | None = option(
        None, "null (auto): on exactly when the engine has two log-prob sets to compare, i.e. pi_old is "
              "recomputed by the trainer (native: algorithm.old_logprobs=recompute; trl: trl.use_vllm, TRL's own "
              "default; verl: always). true: on (the native engine then requires old_logprobs=recompute: with "
              "rollout, pi_old is the behaviour policy and every weight is 1). false: off; the mismatch metrics "
              "rollout_correction/* are still logged whenever pi_old is recomputed.")
    level: Literal["token", "sequence"] = option(
        "sequence", "``token``: w_t = pi_old(y_t) / mu(y_t); ``sequence``: one w = prod_t pi_old / mu per "
                    "response on all its tokens (TRL's default ``sequence_mask``).")
    mode: Literal["truncate", "mask"] = option(
        "mask", "``truncate`` (TIS): w = clamp(w, low, high); ``mask`` (IcePop at token level, MIS at sequence "
                "level): w = 0 outside [low, high], the token staying in the aggregation's totals.")
    low: float | None = option(None, "lower bound in [0, 1), or null: none (TRL's vllm_importance_sampling_clip_min "
                                     "default).")
    high: float | None = option(3.0, "upper bound > 1, or null: none (3.0 is TRL's vllm_importance_sampling_clip_max "
                                     "default; verl's rollout_is_threshold default is 2.0).")
    reject: str | None = option(
        None, "sequence rejection: a statistic s of the response's log-ratios log(pi_old / mu) in "
              "``srpo.algo.REJECTION_STATISTICS``: ``max_abs`` (worst token), ``mean_abs``, ``mean`` (log of the "
              "geometric-mean ratio) or ``sum`` (log of the sequence ratio); a response with |s| > "
              "reject_threshold leaves the loss and its totals (as if absent). null: off.")
    reject_threshold: float | None = option(
        None, "bound on |s| for reject, in log space (> 0; e.g. 0.69 = log 2: max_abs rejects a response with any "
              "token ratio above 2 or below 1/2). Required with reject.")

    def active(self, recomputed: bool) -> bool:
        """Whether the correction applies, for an engine that does (`recomputed`) or does not recompute pi_old."""
        return recomputed if self.enabled is None else self.enabled

    def options(self) -> dict:
        """Keyword options of `srpo.algo.importance_weights`."""
        return {"level": self.level, "mode": self.mode, "low": self.low, "high": self.high}

    def validate(self) -> None:
        if self.low is not None and not 0 <= self.low < 1:
            raise ConfigError(f"low: must be in [0, 1) or null, got {self.low}")
        if self.high is not None and self.high <= 1:
            raise ConfigError(f"high: must be > 1 or null, got {self.high} (a weight of 1 means no mismatch and "
                              "must stay inside the bounds)")
        if self.low is None and self.high is None:
            raise ConfigError(f"high: mode={self.mode} needs at least one bound (low or high); to switch the "
                              "correction off set enabled=false")
        if self.reject is not None:
            REJECTION_STATISTICS.check(self.reject, "reject")
            if self.reject_threshold is None or self.reject_threshold <= 0:
                raise ConfigError(f"reject_threshold: reject={self.reject} needs a bound > 0 on |s| (log space), "
                                  f"got {self.reject_threshold}")
        elif self.reject_threshold is not None:
            raise ConfigError("reject_threshold: only read with reject (a statistic); set reject or remove it")
        if self.enabled is False and self != RolloutCorrectionConfig(enabled=False):
            changed = sorted(f.name for f in fields(self) if f.name != "enabled"
                             and getattr(self, f.name) != getattr(RolloutCorrectionConfig(), f.name))
            raise ConfigError(f"{changed[0]}: enabled=false does not read it (remove it or set enabled to null/true)")


@dataclass(frozen=True)
class AlgorithmConfig:
    """The RL objective."""

    advantage: str = option("grpo", "group advantage estimator, one of ``srpo.algo.ADVANTAGE_ESTIMATORS``: ``grpo`` "
                                    "divides by the group std, ``dr_grpo`` does not, ``rloo`` uses a leave-one-out "
                                    "baseline.")
    std_unbiased: bool = option(True, "Bessel-corrected group std for ``grpo`` (as torch.std, TRL and verl do).")
    adv_eps: float = option(1e-6, "added to the group std before dividing.")
    policy_loss: str = option(
        "ppo_clip", "surrogate in ``srpo.algo.POLICY_LOSSES``: ``ppo_clip`` (token ratio, hard clip; reads "
                    "clip_low/clip_high/dual_clip), ``gspo`` (sequence ratio; reads gspo_clip_low/high, needs "
                    "loss_agg=seq_mean_token_mean), ``cispo`` (clipped stop-gradient weight on REINFORCE; reads "
                    "cispo_clip_high) or ``sapo`` (soft sigmoid gate; reads sapo_tau_pos/neg). Which: with one "
                    "optimizer step per step (every preset; ppo_epochs=1, mini_batch_size=null) every token's ratio "
                    "is exactly 1 at that step, so the four give the same gradient up to gspo's sequence weighting "
                    "and the choice does not matter; they differ once a step makes several updates, or the ratio "
                    "is taken against a behaviour policy mu (old_logprobs=rollout with an off rollout engine): "
                    "ppo_clip drops the gradient of tokens past its clip, gspo of whole sequences past a narrow "
                    "sequence clip (meant for long responses and MoE models), cispo keeps every token's gradient "
                    "with a capped weight, sapo fades it smoothly. Mismatch between mu and pi_old is "
                    "rollout_correction's job whichever loss. Guide and measurements: docs/algo.md.")
    gspo_clip_low: float = option(3e-4, "gspo: the sequence ratio is clipped below at 1 - gspo_clip_low (GSPO paper, "
                                        "verl's GSPO recipe).")
    gspo_clip_high: float = option(4e-4, "gspo: the sequence ratio is clipped above at 1 + gspo_clip_high (GSPO "
                                         "paper, verl's GSPO recipe).")
    cispo_clip_high: float = option(4.0, "cispo: the stop-gradient weight is capped at 1 + cispo_clip_high (5, "
                                         "TRL's recommended epsilon_high for cispo); no lower bound (MiniMax-M1).")
    sapo_tau_pos: float = option(1.0, "sapo: gate temperature for A > 0 (TRL's sapo_temperature_pos).")
    sapo_tau_neg: float = option(1.05, "sapo: gate temperature for A <= 0 (TRL's sapo_temperature_neg).")
    clip_low: float = option(0.2, "ppo_clip: the ratio is clipped below at 1 - clip_low (the other losses ignore "
                                  "it; not refused with them, since presets set it).")
    clip_high: float = option(0.28, "ppo_clip: the ratio is clipped above at 1 + clip_high; must be >= clip_low "
                                    "(clip_high > clip_low is DAPO's clip-higher; ignored by the other losses).")
    dual_clip: float | None = option(None, "lower bound c > 1 on the loss for negative advantages (dual-clip PPO); "
                                           "None disables it.")
    log_ratio_clamp: float = option(20.0, "|log pi/pi_old| is clamped to this before exp() so one token cannot "
                                          "overflow (ppo_clip, cispo, sapo; gspo clamps its sequence log-ratio at a "
                                          "fixed 10, so a changed value is refused with gspo).")
    loss_agg: str = option("token_mean", "how token losses become one number, one of "
                                         "``srpo.algo.LOSS_AGGREGATIONS``; ``token_mean`` averages over every valid "
                                         "token of the mini-batch (SRPO/DAPO default).")
    norm_len: int | None = option(None, "Dr.GRPO's constant length normaliser for ``seq_mean_token_sum_norm``; None: "
                                        "rollout.max_new_tokens.")
    kl_coef: float = option(0.0, "weight of the KL penalty (0: off). The reference is the run's initial model, "
                                 "loaded from model.path (also when resuming from a checkpoint), kept only when "
                                 "this is > 0.")
    kl_estimator: str = option("k3", "KL estimator in ``srpo.algo.KL_ESTIMATORS``: ``k1``, ``k2`` or ``k3`` "
                                     "(Schulman's estimators).")
    entropy_coef: float = option(0.0, "weight of an entropy bonus (0: entropy is only logged).")
    ppo_epochs: int = option(1, "passes over each step's batch.")
    mini_batch_size: int | None = option(None, "responses per optimizer step; None = the whole step's batch (one "
                                               "on-policy update).")
    micro_batch_size: int = option(16, "most responses per forward/backward; gradients accumulate exactly over "
                                       "micro-batches. The native engine sorts a mini-batch's responses by length "
                                       "before cutting it, so each micro-batch carries little padding.")
    micro_batch_tokens: int | None = option(
        None, "native engine: also cap each forward/backward at this many padded tokens, rows x (longest prompt + "
              "longest response) of the micro-batch, so short responses travel in larger micro-batches (a longer "
              "single response goes alone). None: rows only (micro_batch_size).")
    share_prompts: bool = option(
        True, "native engine: run each distinct prompt of a micro-batch once and continue every response to it "
              "from its keys/values (same loss and gradients up to float rounding, G times fewer prompt tokens). "
              "Skipped automatically under model.gradient_checkpointing and for models without a plain "
              "key/value cache.")
    fused_head: bool = option(
        True, "native engine: compute log-probs and entropies from the decoder's last hidden states and the LM "
              "head's weight, block by block, so the [tokens, vocabulary] logits and their gradient never exist "
              "(same loss and gradients up to float rounding; see docs/algo.md). Used only where it is exact: "
              "transformers' own Llama/Qwen/Mistral/Gemma(1)/Phi-3-style models with a plain linear head; models "
              "that soft-cap or scale logits, a LoRA-adapted lm_head and unknown model types use the logits. "
              "false: always the logits.")
    old_logprobs: Literal["rollout", "recompute"] = option(
        "rollout", "where pi_old comes from. ``rollout``: the engine's behaviour log-probs (no extra forward pass); "
                   "``recompute``: one no-grad forward pass before the update (needed when the rollout and training "
                   "numerics differ, e.g. a separate inference engine or bf16 sampling; it also switches the "
                   "default rollout_correction on).")
    rollout_correction: RolloutCorrectionConfig = option(
        factory=RolloutCorrectionConfig, doc="importance weights (TIS / IcePop / MIS) and sequence rejection between "
                                             "the rollout engine's behaviour log-probs and the recomputed pi_old.")
    truncation: Literal["keep", "mask", "soft_penalty", "mask+soft_penalty"] = option(
        "keep", "what happens to responses that hit rollout.max_new_tokens without EOS: ``keep``, ``mask`` (no "
                "loss, still in their group's advantage statistics), ``soft_penalty`` (DAPO's length penalty on "
                "every reward) or ``mask+soft_penalty``; see docs/algo.md.")
    overlong_window: int | None = option(
        None, "soft_penalty's window W (DAPO's L_cache): the penalty ramps from 0 at max_new_tokens - W "
              "response tokens (EOS included) to -overlong_penalty_factor at max_new_tokens.")
    overlong_penalty_factor: float = option(
        1.0, "soft_penalty's penalty at max_new_tokens (verl's penalty_factor); shapes the reward, never "
             "``correct``.")

    def policy_loss_options(self) -> dict:
        """The keyword options the chosen policy loss reads (`LOSS_OPTIONS`), by its parameter names."""
        fields = LOSS_OPTIONS.get(self.policy_loss, LOSS_OPTIONS["ppo_clip"])
        return {kwarg: getattr(self, field) for field, kwarg in fields.items()}

    @property
    def masks_truncated(self) -> bool:
        """Truncated responses are left out of the loss."""
        return self.truncation in ("mask", "mask+soft_penalty")

    @property
    def penalizes_overlong(self) -> bool:
        """Rewards get the soft overlong penalty."""
        return self.truncation in ("soft_penalty", "mask+soft_penalty")

    def validate(self) -> None:
        for name, registry in (("advantage", ADVANTAGE_ESTIMATORS), ("policy_loss", POLICY_LOSSES),
                               ("loss_agg", LOSS_AGGREGATIONS), ("kl_estimator", KL_ESTIMATORS)):
            registry.check(getattr(self, name), name)
        if not 0 <= self.clip_low < 1:
            raise ConfigError(f"clip_low: must be in [0, 1), got {self.clip_low}")
        if self.clip_high < self.clip_low:
            raise ConfigError(f"clip_high: must be >= clip_low ({self.clip_low}), got {self.clip_high}; the ratio's "
                              f"range is [1 - clip_low, 1 + clip_high] and clip-higher widens only its top")
        if self.dual_clip is not None and self.dual_clip <= 1:
            raise ConfigError(f"dual_clip: must be > 1 or null, got {self.dual_clip}")
        self._validate_loss_options()
        if self.kl_coef < 0:
            raise ConfigError(f"kl_coef: must be >= 0, got {self.kl_coef}")
        if self.ppo_epochs < 1:
            raise ConfigError(f"ppo_epochs: must be >= 1, got {self.ppo_epochs}")
        if self.micro_batch_size < 1:
            raise ConfigError(f"micro_batch_size: must be >= 1, got {self.micro_batch_size}")
        if self.micro_batch_tokens is not None and self.micro_batch_tokens < 2:
            raise ConfigError(f"micro_batch_tokens: must be >= 2 (a prompt token and a response token) or null, "
                              f"got {self.micro_batch_tokens}")
        if self.mini_batch_size is not None and self.mini_batch_size < 1:
            raise ConfigError(f"mini_batch_size: must be >= 1 or null, got {self.mini_batch_size}")
        self._validate_overlong()

    def _validate_loss_options(self) -> None:
        """Options a loss does not read are refused when changed, so a setting cannot silently do nothing
        (dual_clip outside ppo_clip, log_ratio_clamp with gspo, whose sequence clamp is fixed at verl's 10, ...).
        clip_low/clip_high are exempt: presets set them, and they stay ppo_clip's (ignored by the others)."""
        default = AlgorithmConfig()
        if self.policy_loss not in LOSS_OPTIONS:
            return  # a plugin's loss
        own = [f for f in LOSS_OPTIONS[self.policy_loss] if f not in _PRESET_LOSS_FIELDS]
        for name in sorted(_CHECKED_LOSS_FIELDS - set(own)):
            if getattr(self, name) != getattr(default, name):
                raise ConfigError(f"{name}: policy_loss={self.policy_loss} does not read it (it reads "
                                  f"{', '.join(own)})")
        if self.policy_loss == "gspo":
            if not (0 < self.gspo_clip_low < 1 and self.gspo_clip_high > 0):
                raise ConfigError(f"gspo_clip_low/high: must be in (0, 1) and > 0, got {self.gspo_clip_low}, "
                                  f"{self.gspo_clip_high}")
            if self.loss_agg != "seq_mean_token_mean":
                raise ConfigError(f"loss_agg: policy_loss=gspo needs seq_mean_token_mean (GSPO averages each "
                                  f"sequence's tokens, then the sequences), got {self.loss_agg}")
        if self.policy_loss == "cispo" and self.cispo_clip_high <= 0:
            raise ConfigError(f"cispo_clip_high: must be > 0, got {self.cispo_clip_high}")
        if self.policy_loss == "sapo" and (self.sapo_tau_pos <= 0 or self.sapo_tau_neg <= 0):
            raise ConfigError(f"sapo_tau_pos/neg: must be > 0, got {self.sapo_tau_pos}, {self.sapo_tau_neg}")

    def _validate_overlong(self) -> None:
        if self.overlong_window is not None and self.overlong_window < 1:
            raise ConfigError(f"overlong_window: must be >= 1 or null, got {self.overlong_window}")
        if self.overlong_penalty_factor <= 0:
            raise ConfigError(f"overlong_penalty_factor: must be > 0 (truncation=keep or mask turns the "
                              f"penalty off), got {self.overlong_penalty_factor}")
        if self.penalizes_overlong and self.overlong_window is None:
            raise ConfigError(f"overlong_window: truncation={self.truncation} needs the penalty window "
                              "(tokens before rollout.max_new_tokens where the penalty ramps up)")


@dataclass(frozen=True)
class OptimConfig:
    """AdamW and its learning-rate schedule."""

    lr: float = option(1e-5, "peak learning rate.")
    betas: list[float] = option(factory=lambda: [0.9, 0.99], doc="AdamW's betas.")
    eps: float = option(1e-8, "AdamW's epsilon.")
    weight_decay: float = option(0.0, "AdamW's decoupled weight decay.")
    max_grad_norm: float = option(1.0, "global gradient-norm clip (0 disables it).")
    warmup_steps: int = option(0, "linear warm-up in optimizer steps.")
    schedule: Literal["constant", "cosine"] = option(
        "constant", "``constant`` or ``cosine`` (decays to lr * min_lr_ratio at the run's last optimizer step).")
    min_lr_ratio: float = option(0.1, "where ``cosine`` ends, as a fraction of lr.")

    def validate(self) -> None:
        if self.lr <= 0:
            raise ConfigError(f"lr: must be > 0, got {self.lr}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"betas: must be two numbers in [0, 1), got {list(self.betas)}")
        if self.max_grad_norm < 0:
            raise ConfigError(f"max_grad_norm: must be >= 0, got {self.max_grad_norm}")
