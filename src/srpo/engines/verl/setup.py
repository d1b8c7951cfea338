"""From srpo's config tree to verl's Hydra overrides: what maps, what is fixed, and what verl cannot honour.

`check_config` refuses, with the dotted field and the reason, every option verl 0.9's v1 PPO trainer would
silently do differently; `verl_overrides` builds the ``key=value`` list for ``python -m
verl.trainer.main_ppo``. The table in docs/verl.md is this module in prose; `CAPABILITIES` (next to
`check_config`) is the per-option table docs/engines.md is rendered from. Batch arithmetic (P prompts x G
responses per step, M responses per optimizer step, N data-parallel ranks = nodes x GPUs / sequence
parallel, u responses per forward per rank)::

    data.train_batch_size                          = P
    actor_rollout_ref.rollout.n                    = G
    actor_rollout_ref.actor.ppo_mini_batch_size    = M / G       verl counts prompts and multiplies by n
    actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu = u = min(algorithm.micro_batch_size, M / N)
    optimizer steps per srpo step U = (P G / M) * ppo_epochs
    verl's LR scheduler steps once per srpo step, so optim.warmup_steps / U scheduler steps

Nothing here imports verl: the mapping is tested without it.
"""

from __future__ import annotations

import dataclasses
import math
import re
import shlex
from pathlib import Path
from typing import Any

from srpo.config import TrainConfig
from srpo.core.configlib import ConfigError
from srpo.engines.batching import split_step
from srpo.engines.capabilities import HONOURED, IGNORED, MAPPED, REFUSED, Capability

LOSS_AGG = {"token_mean": "token-mean", "seq_mean_token_mean": "seq-mean-token-mean",
            "seq_mean_token_sum": "seq-mean-token-sum", "seq_mean_token_sum_norm": "seq-mean-token-sum-norm"}
ADVANTAGE = {"grpo": ("grpo", True), "dr_grpo": ("grpo", False), "rloo": ("rloo", True)}
KL_TYPE = {"k1": "k1", "k2": "k2", "k3": "low_var_kl"}
LOSS_MODES = {"ppo_clip": "vanilla", "gspo": "gspo", "cispo": "cispo", "sapo": "sapo"}
# srpo's rejection statistic -> verl's rollout_rs option (the same test |s| <= t, see _rs_threshold)
REJECT_OPTIONS = {"max_abs": "seq_max_k2", "mean": "seq_mean_k1", "sum": "seq_sum_k1"}
ICEPOP_NO_LOWER = 1e-30  # verl's IcePop needs a lower bound > 0; its weights are >= exp(-20) ~ 2e-9
VERL_ADV_EPS = 1e-6  # verl's GRPO epsilon (compute_grpo_outcome_advantage's default)
VERL_LOG_RATIO_CLAMP = 20.0  # verl clamps log(pi/pi_old) to +-20 in compute_policy_loss_vanilla
# verl always applies dual clip (clip_ratio_c, default 3.0). The ratio is at most exp(20) ~ 4.9e8 after the
# clamp above, so a bound of 1e9 never binds: srpo's dual_clip=None is exactly "off".
DUAL_CLIP_OFF = 1.0e9
TRAINER_MODES = {"sync": "srpo_sync", "colocate_async": "srpo_colocate_async"}
DATASET = ("pkg://srpo.engines.verl.dataset", "SrpoDataset")
REWARD = ("pkg://srpo.engines.verl.reward", "compute_score")
SETUP_HOOK = "srpo.engines.verl.hook.register"
_DEFAULTS = TrainConfig()


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where the recipe's files live (what `srpo verl-recipe` writes)."""

    train: str  # train.parquet
    heldout: str  # heldout.parquet
    config: str  # the frozen srpo config (srpo.yaml) the dataset, reward and trainer read
    has_heldout: bool = True

    @classmethod
    def under(cls, folder: str | Path, has_heldout: bool = True) -> "Layout":
        folder = Path(folder).absolute()
        return cls(str(folder / "train.parquet"), str(folder / "heldout.parquet"), str(folder / "srpo.yaml"),
                   has_heldout)


@dataclasses.dataclass(frozen=True)
class BatchPlan:
    """How one srpo step (P prompts x G responses) is cut into verl's batches on N data-parallel ranks."""

    prompts: int
    group: int
    ranks: int
    mini_prompts: int
    micro_per_gpu: int
    updates_per_step: int


def data_parallel_ranks(cfg: TrainConfig) -> int:
    v = cfg.verl
    world = v.nnodes * v.n_gpus_per_node
    if world % v.sequence_parallel:
        raise ConfigError(f"verl.sequence_parallel: {v.sequence_parallel} must divide the {world} GPUs")
    return world // v.sequence_parallel


def batch_plan(cfg: TrainConfig) -> BatchPlan:
    """The batch arithmetic of the module docstring; ConfigError when the numbers do not divide."""
    p, g = cfg.rollout.prompts_per_step, cfg.rollout.group_size
    mini = cfg.algorithm.mini_batch_size or p * g
    if mini % g:
        raise ConfigError(f"algorithm.mini_batch_size: verl counts mini-batches in prompts (ppo_mini_batch_size x "
                          f"rollout.n), so {mini} responses must be a multiple of rollout.group_size={g}")
    ranks = data_parallel_ranks(cfg)
    split = split_step(cfg, ranks, "data-parallel ranks (verl.nnodes x verl.n_gpus_per_node / "
                                   "verl.sequence_parallel)")
    return BatchPlan(p, g, ranks, split.mini // g, split.micro, split.total // split.mini * cfg.algorithm.ppo_epochs)


def _m(option: str, *to: str, note: str = "") -> Capability:
    return Capability(option, MAPPED, to, note)


def _r(option: str, note: str, *example: str) -> Capability:
    return Capability(option, REFUSED, note=note, example=example)


_A, _R = "actor_rollout_ref.actor.", "actor_rollout_ref.rollout."
_RC = "algorithm.rollout_correction."
# What this engine does with the options it treats specially (docs/engines.md is rendered from it, and
# tests/test_engine_capabilities.py holds it to `check_config` and `verl_overrides`).
CAPABILITIES: tuple[Capability, ...] = (
    _m("run.name", "trainer.experiment_name"),
    _m("run.output_dir", "trainer.default_local_dir", note="<output_dir>/checkpoints"),
    _m("run.seed", "data.seed"),
    _m("run.total_steps", "trainer.total_training_steps", "trainer.total_epochs", note="one epoch"),
    _m("run.save_every", "trainer.save_freq"),
    _m("run.keep_checkpoints", "trainer.max_actor_ckpt_to_keep"),
    _m("run.eval_every", "trainer.test_freq", "trainer.val_before_train", note="0 -> total_steps"),
    _m("run.resume", "trainer.resume_mode", "trainer.resume_from_path", note="auto / disable / resume_path"),
    _r("run.resume (not global_step_N)", "verl resumes from a global_step_N folder", "run.resume=/tmp/ckpt"),
    Capability("run.progress", IGNORED, note="verl's console logger"),
    Capability("run.deterministic", IGNORED, note="not mapped"),
    _r("run.max_rollouts", "verl's trainer stops by steps only", "run.max_rollouts=1000"),
    _r("run.stop_at_step", "verl's trainer has no early stop", "run.stop_at_step=2"),
    _m("model.path", "actor_rollout_ref.model.path"),
    _r("model.path=toy", "verl loads a Hugging Face model directory"),
    Capability("model.dtype", IGNORED, note="verl's FSDP mixed-precision settings decide (verl.overrides)"),
    Capability("model.autocast_bf16", IGNORED, note="verl's FSDP mixed-precision settings decide"),
    Capability("model.device", IGNORED, note="verl trains on its Ray GPUs (trainer.device=cuda)"),
    _r("model.device=cpu", "verl's trainer needs GPUs"),
    _r("model.prompt_template", "verl renders prompts with the tokenizer's chat template: chat only",
       "model.prompt_template=plain"),
    Capability("model.system_prompt", HONOURED, note="a system message in each exported prompt"),
    _m("model.gradient_checkpointing", "actor_rollout_ref.model.enable_gradient_checkpointing"),
    _r("model.lora.enabled", "the recipe does not map LoRA (verl's own lora_rank through verl.overrides is untested)",
       "model.lora.enabled=true"),
    Capability("rollout.engine", IGNORED, note="verl's rollout engine is verl.rollout"),
    Capability("rollout.vllm", IGNORED, note="verl.gpu_memory_utilization, verl.rollout_tp"),
    Capability("rollout.compile", IGNORED, note="native's generator only"),
    _m("rollout.max_staleness", "trainer.v1.trainer_mode", "trainer.v1.colocate_async.num_warmup_batches",
       note="k > 0: colocate_async with k warm-up batches (partial rollouts: a response may span versions)"),
    _r("rollout.max_staleness (another verl.num_warmup_batches)", "the two would set one bound twice",
       "rollout.max_staleness=1", "verl.trainer_mode=colocate_async", "verl.num_warmup_batches=2"),
    _m("rollout.group_size", _R + "n"),
    _m("rollout.prompts_per_step", "data.train_batch_size"),
    _m("rollout.temperature", _R + "temperature"),
    _m("rollout.top_p", _R + "top_p", _R + "top_k", note="top_k=-1"),
    _r("rollout.sample_temperature", "verl's rollout samples at rollout.temperature; the deliberately off "
       "behaviour policy (experiments) is the native kv_cache engine's", "rollout.sample_temperature=1.5"),
    _m("rollout.max_new_tokens", "data.max_response_length"),
    _m("algorithm.advantage", "algorithm.adv_estimator", "algorithm.norm_adv_by_std_in_grpo",
       note="grpo / dr_grpo (grpo without std) / rloo"),
    _r("algorithm.advantage (a plugin's)", "no verl adv_estimator", "algorithm.advantage=plugin"),
    _r("algorithm.std_unbiased=false", "verl's GRPO divides by torch.std (Bessel-corrected) only"),
    _r("algorithm.adv_eps", f"verl's GRPO adds a fixed {VERL_ADV_EPS}", "algorithm.adv_eps=0.01"),
    _m("algorithm.policy_loss", _A + "policy_loss.loss_mode", note="ppo_clip -> vanilla, gspo -> gspo, cispo -> "
       "cispo, sapo -> sapo (verl 0.9's core_algos registers all four)"),
    _r("algorithm.policy_loss (a plugin's)", "only ppo_clip, gspo, cispo and sapo are mapped",
       "algorithm.policy_loss=plugin"),
    _m("algorithm.gspo_clip_low", _A + "clip_ratio_low", note="with gspo"),
    _m("algorithm.gspo_clip_high", _A + "clip_ratio_high", note="with gspo"),
    _m("algorithm.cispo_clip_high", _A + "clip_ratio_high", note="with cispo; clip_ratio_low=1.0: verl clamps the "
       "weight into [1 - low, 1 + high], so no lower bound, as srpo's cispo"),
    _m("algorithm.sapo_tau_pos", _A + "tau_pos"),
    _m("algorithm.sapo_tau_neg", _A + "tau_neg"),
    _r("algorithm.loss_agg (with sapo)", "verl's sapo always aggregates seq-mean-token-mean",
       "algorithm.policy_loss=sapo", "algorithm.loss_agg=token_mean"),
    _m("algorithm.clip_low", _A + "clip_ratio_low"),
    _m("algorithm.clip_high", _A + "clip_ratio_high"),
    _m("algorithm.dual_clip", _A + "clip_ratio_c", note=f"null -> {DUAL_CLIP_OFF:g}, a bound the clamped ratio "
       "never reaches"),
    _r("algorithm.log_ratio_clamp", f"verl clamps the log-ratio to +-{VERL_LOG_RATIO_CLAMP:g} (fixed)",
       "algorithm.log_ratio_clamp=5.0"),
    _m("algorithm.loss_agg", _A + "loss_agg_mode"),
    _r("algorithm.loss_agg (a plugin's)", "no verl loss_agg_mode", "algorithm.loss_agg=plugin"),
    _m("algorithm.norm_len", _A + "loss_scale_factor", note="with seq_mean_token_sum_norm (default max_new_tokens)"),
    _m("algorithm.kl_coef", _A + "use_kl_loss", _A + "kl_loss_coef", note="algorithm.use_kl_in_reward=false"),
    _m("algorithm.kl_estimator", _A + "kl_loss_type", note="k1 / k2 / k3 -> low_var_kl (clamped to [-10, 10])"),
    _r("algorithm.kl_estimator (a plugin's)", "no verl kl_loss_type", "algorithm.kl_coef=0.01",
       "algorithm.kl_estimator=plugin"),
    _m("algorithm.entropy_coef", _A + "entropy_coeff"),
    _m("algorithm.ppo_epochs", _A + "ppo_epochs"),
    _m("algorithm.mini_batch_size", _A + "ppo_mini_batch_size", note="M / G prompts"),
    _r("algorithm.mini_batch_size (not dividing)", "a multiple of rollout.group_size that divides the step and "
       "divides over the data-parallel ranks", "algorithm.mini_batch_size=12"),
    _m("algorithm.micro_batch_size", _A + "ppo_micro_batch_size_per_gpu",
       _R + "log_prob_micro_batch_size_per_gpu", "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu",
       note="min(micro, M / N); or verl.max_tokens_per_gpu"),
    _r("algorithm.micro_batch_size (not dividing)", "must divide each rank's share of an optimizer step",
       "verl.max_tokens_per_gpu=null", "algorithm.micro_batch_size=24"),
    _r("algorithm.micro_batch_tokens", "token budgets are verl.max_tokens_per_gpu",
       "algorithm.micro_batch_tokens=100000"),
    Capability("algorithm.share_prompts", IGNORED, note="native's actor only"),
    Capability("algorithm.fused_head", IGNORED, note="native's actor only"),
    Capability("algorithm.old_logprobs", IGNORED, note="verl recomputes pi_old every step (printed by the recipe)"),
    _m("algorithm.rollout_correction.enabled", _RC + "rollout_is", _RC + "rollout_rs", _RC + "bypass_mode",
       _R + "calculate_log_probs", note="null (auto) -> on: verl recomputes pi_old; off -> rollout_is=null, "
       "rollout_rs=null (verl still logs rollout_corr/*); calculate_log_probs=true, bypass_mode=false"),
    _m("algorithm.rollout_correction.level", _RC + "rollout_is", note="token / sequence"),
    _m("algorithm.rollout_correction.mode", _RC + "rollout_is_threshold", note="truncate -> the upper bound (TIS); "
       "mask -> 'low_high' (IcePop), low null -> 1e-30, below verl's smallest weight exp(-20)"),
    _m("algorithm.rollout_correction.low", _RC + "rollout_is_threshold", note="with mask"),
    _r("algorithm.rollout_correction.low (with truncate)", "verl's TIS truncates from above only",
       "algorithm.rollout_correction.mode=truncate", "algorithm.rollout_correction.low=0.5"),
    _m("algorithm.rollout_correction.high", _RC + "rollout_is_threshold"),
    _r("algorithm.rollout_correction.high=null", "verl's IS needs an upper bound",
       "algorithm.rollout_correction.low=0.5", "algorithm.rollout_correction.high=null"),
    _m("algorithm.rollout_correction.reject", _RC + "rollout_rs", note="max_abs -> seq_max_k2, mean -> seq_mean_k1, "
       "sum -> seq_sum_k1"),
    _r("algorithm.rollout_correction.reject=mean_abs", "no verl rollout_rs option", 
       "algorithm.rollout_correction.reject=mean_abs", "algorithm.rollout_correction.reject_threshold=0.1"),
    _m("algorithm.rollout_correction.reject_threshold", _RC + "rollout_rs_threshold", note="t -> t^2 / 2 for "
       "seq_max_k2 (0.5 (log r)^2 <= t^2 / 2 iff |log r| <= t); 'exp(-t)_exp(t)' for the k1 options"),
    _m("algorithm.truncation", "reward.reward_manager.name", note="keep -> naive, soft_penalty -> dapo"),
    _r("algorithm.truncation=mask", "verl's PPO trainer cannot mask truncated responses out of the loss"),
    _r("algorithm.truncation=mask+soft_penalty", "verl's PPO trainer cannot mask truncated responses out of the "
       "loss", "algorithm.truncation=mask+soft_penalty", "algorithm.overlong_window=256"),
    _m("algorithm.overlong_window", "reward.reward_kwargs.overlong_buffer_cfg.len", note="with soft_penalty"),
    _m("algorithm.overlong_penalty_factor", "reward.reward_kwargs.overlong_buffer_cfg.penalty_factor",
       note="with soft_penalty"),
    _m("optim.lr", _A + "optim.lr"),
    _m("optim.betas", _A + "optim.betas"),
    _r("optim.eps", "verl's FSDP optimizer config has no epsilon field; only the default", "optim.eps=1e-6"),
    _m("optim.weight_decay", _A + "optim.weight_decay"),
    _m("optim.max_grad_norm", _A + "optim.clip_grad"),
    _m("optim.warmup_steps", _A + "optim.lr_warmup_steps", note="/ U: verl's scheduler steps once per step"),
    _r("optim.warmup_steps (not a multiple of U)", "verl's LR scheduler steps once per srpo step",
       "algorithm.mini_batch_size=64", "optim.warmup_steps=3"),
    _m("optim.schedule", _A + "optim.lr_scheduler_type"),
    _m("optim.min_lr_ratio", _A + "optim.min_lr_ratio", note="cosine only"),
    _r("sampling.name=dynamic_sampling", "verl's own DAPO filter regenerates groups srpo's stream never records"),
    _m("eval.samples", _R + "val_kwargs.n", note="held-out evaluation is verl's validation"),
    _m("eval.temperature", _R + "val_kwargs.temperature"),
    _m("eval.top_p", _R + "val_kwargs.top_p"),
    Capability("eval.ks", HONOURED, note="srpo's eval/* pass@k from the acc of verl's validation responses"),
    Capability("eval.max_new_tokens", IGNORED, note="validation generates up to data.max_response_length"),
    Capability("eval.batch_size", IGNORED, note="verl batches validation itself"),
    Capability("eval.seed", IGNORED, note="not mapped"),
    _m("logging.backends", "trainer.logger", note="console + tensorboard / wandb; srpo's metrics.jsonl always"),
    _m("verl.nnodes", "trainer.nnodes"),
    _m("verl.n_gpus_per_node", "trainer.n_gpus_per_node"),
    _m("verl.trainer_mode", "trainer.v1.trainer_mode", note="srpo_sync / srpo_colocate_async"),
    _m("verl.num_warmup_batches", "trainer.v1.colocate_async.num_warmup_batches"),
    _m("verl.strategy", _A + "strategy"),
    _m("verl.rollout", _R + "name"),
    _m("verl.rollout_tp", _R + "tensor_model_parallel_size"),
    _m("verl.gpu_memory_utilization", _R + "gpu_memory_utilization"),
    _m("verl.sequence_parallel", _A + "ulysses_sequence_parallel_size"),
    _r("verl.sequence_parallel (not dividing)", "must divide the GPUs", "verl.sequence_parallel=3"),
    _m("verl.param_offload", _A + "fsdp_config.param_offload"),
    _m("verl.optimizer_offload", _A + "fsdp_config.optimizer_offload"),
    _m("verl.max_tokens_per_gpu", _A + "use_dynamic_bsz", _A + "ppo_max_token_len_per_gpu"),
    _m("verl.max_prompt_length", "data.max_prompt_length"),
    _m("verl.reward_workers", "reward.num_workers"),
    _m("verl.project_name", "trainer.project_name"),
    Capability("verl.overrides", HONOURED, note="appended as they are"),
    _r("verl.overrides (keys srpo sets)", "keys srpo sets from the config tree", "verl.overrides=[data.seed=3]"),
)


def _clip_pairs(a: str, algo) -> list[tuple[str, Any]]:
    """verl's GSPO (compute_policy_loss_gspo) reads the same clip_ratio_low/high keys as vanilla."""
    if algo.policy_loss == "gspo":
        return [(a + "clip_ratio_low", algo.gspo_clip_low), (a + "clip_ratio_high", algo.gspo_clip_high)]
    if algo.policy_loss == "cispo":  # compute_policy_loss_cispo clamps into [1 - low, 1 + high]: low 1 = no bound
        return [(a + "clip_ratio_low", 1.0), (a + "clip_ratio_high", algo.cispo_clip_high)]
    return [(a + "clip_ratio_low", algo.clip_low), (a + "clip_ratio_high", algo.clip_high)]


def check_config(cfg: TrainConfig) -> BatchPlan:
    """Refuse what verl's v1 PPO trainer cannot do as srpo's config says; return the batch plan."""
    algo = cfg.algorithm
    if cfg.engine != "verl":
        raise ConfigError(f"engine: this is the verl recipe, the config says {cfg.engine!r} (add engine=verl)")
    if cfg.sampling.name == "dynamic_sampling":
        raise ConfigError("sampling.name: dynamic_sampling is srpo's DAPO filter for the native engine; on verl use "
                          "uniform or history_resampling (verl's own DAPO filter is algorithm.filter_groups, which "
                          "regenerates groups and would draw prompts srpo's stream never records)")
    k, v = cfg.rollout.max_staleness, cfg.verl
    if k > 0 and v.trainer_mode == "colocate_async" and v.num_warmup_batches != k:
        raise ConfigError(f"rollout.max_staleness: {k} maps onto verl's colocate_async trainer with {k} warm-up "
                          f"batches, and verl.num_warmup_batches={v.num_warmup_batches} says otherwise; set one of "
                          "them (docs/async.md)")
    if cfg.rollout.sample_temperature is not None:
        raise ConfigError("rollout.sample_temperature: verl's rollout samples at rollout.temperature only; sampling "
                          "at another temperature (an off behaviour policy, for experiments) is the native kv_cache "
                          "engine's")
    if not algo.std_unbiased:
        raise ConfigError("algorithm.std_unbiased: verl's GRPO divides by torch.std (Bessel-corrected) only")
    if algo.adv_eps != VERL_ADV_EPS:
        raise ConfigError(f"algorithm.adv_eps: verl's GRPO adds a fixed {VERL_ADV_EPS} to the group std, not "
                          f"{algo.adv_eps}")
    if algo.policy_loss not in LOSS_MODES:
        raise ConfigError(f"algorithm.policy_loss: only {', '.join(LOSS_MODES)} are mapped (verl's "
                          f"{', '.join(LOSS_MODES.values())}), not {algo.policy_loss!r}")
    if algo.policy_loss == "sapo" and algo.loss_agg != "seq_mean_token_mean":
        raise ConfigError(f"algorithm.loss_agg: verl's sapo always aggregates seq-mean-token-mean, the config says "
                          f"{algo.loss_agg}")
    _check_rollout_correction(algo.rollout_correction)
    if algo.log_ratio_clamp != VERL_LOG_RATIO_CLAMP:
        raise ConfigError(f"algorithm.log_ratio_clamp: verl clamps the log-ratio to +-{VERL_LOG_RATIO_CLAMP:g} "
                          "(fixed), so only that value is accepted")
    _check_loss(cfg)
    _check_optim(cfg)
    _check_model_and_run(cfg)
    if algo.truncation in ("mask", "mask+soft_penalty"):
        raise ConfigError(f"algorithm.truncation: {algo.truncation!r} masks truncated responses out of the loss; "
                          "verl's PPO trainer has no such switch (keep or soft_penalty are mapped)")
    plan = batch_plan(cfg)
    _warmup_in_steps(cfg, plan)
    check_overrides(cfg)
    return plan


def _check_rollout_correction(rc) -> None:
    if not rc.active(recomputed=True):
        return
    if rc.mode == "truncate" and rc.low is not None:
        raise ConfigError("algorithm.rollout_correction.low: verl's TIS (a single rollout_is_threshold) truncates "
                          "from above only; remove low or use mode=mask")
    if rc.high is None:
        raise ConfigError("algorithm.rollout_correction.high: verl's rollout_is_threshold needs an upper bound")
    if rc.reject is not None and rc.reject not in REJECT_OPTIONS:
        raise ConfigError(f"algorithm.rollout_correction.reject: {rc.reject!r} has no verl rollout_rs option "
                          f"(mapped: {', '.join(REJECT_OPTIONS)})")


def _rollout_correction(cfg: TrainConfig) -> list[tuple[str, Any]]:
    """``algorithm.rollout_correction`` as verl's RolloutCorrectionConfig (decoupled mode: pi_old recomputed)."""
    rc = cfg.algorithm.rollout_correction
    on = rc.active(recomputed=True)
    pairs: list[tuple[str, Any]] = [
        (_RC + "bypass_mode", False), (_R + "calculate_log_probs", True),
        (_RC + "rollout_is", rc.level if on else None),
        (_RC + "rollout_is_threshold", _is_threshold(rc) if on else 2.0),
        (_RC + "rollout_rs", REJECT_OPTIONS[rc.reject] if on and rc.reject else None),
        (_RC + "rollout_rs_threshold", _rs_threshold(rc) if on and rc.reject else None),
    ]
    return pairs


def _is_threshold(rc) -> float | str:
    """TIS: the upper bound; mask (IcePop): 'low_high', a missing low as ICEPOP_NO_LOWER."""
    if rc.mode == "truncate":
        return rc.high
    return f"{rc.low if rc.low is not None else ICEPOP_NO_LOWER!r}_{rc.high!r}"


def _rs_threshold(rc) -> float | str:
    """|s| <= t as verl states it: 0.5 s^2 <= t^2 / 2 (seq_max_k2), exp(-t) <= exp(-s) <= exp(t) (k1 options)."""
    t = rc.reject_threshold
    if rc.reject == "max_abs":
        return t * t / 2
    return f"{math.exp(-t)!r}_{math.exp(t)!r}"


def _check_loss(cfg: TrainConfig) -> None:
    algo = cfg.algorithm
    if algo.loss_agg not in LOSS_AGG:
        raise ConfigError(f"algorithm.loss_agg: {algo.loss_agg!r} has no verl loss_agg_mode")
    if algo.kl_coef > 0 and algo.kl_estimator not in KL_TYPE:
        raise ConfigError(f"algorithm.kl_estimator: {algo.kl_estimator!r} has no verl kl_loss_type")
    if algo.advantage not in ADVANTAGE:
        raise ConfigError(f"algorithm.advantage: {algo.advantage!r} has no verl adv_estimator")


def _check_optim(cfg: TrainConfig) -> None:
    opt = cfg.optim
    if opt.eps != _DEFAULTS.optim.eps:
        raise ConfigError(f"optim.eps: verl's FSDP optimizer config has no epsilon field; only torch's default "
                          f"({_DEFAULTS.optim.eps}) is accepted")


def _check_model_and_run(cfg: TrainConfig) -> None:
    model, run = cfg.model, cfg.run
    if model.device == "cpu":
        raise ConfigError("model.device: verl's trainer needs GPUs (its resource pool and the vLLM/SGLang rollouts); "
                          "set model.device=cuda (the srpo parts it runs are tested on CPU, see docs/verl.md)")
    if model.path == "toy":
        raise ConfigError("model.path: verl loads a Hugging Face model directory; the embedded toy model is for the "
                          "native engine")
    if model.lora.enabled:
        raise ConfigError("model.lora.enabled: the verl recipe does not map LoRA; use the native or trl engine, or "
                          "keep it off and pass verl's own actor_rollout_ref.model.lora_rank through verl.overrides "
                          "(untested by srpo)")
    if model.prompt_template != "chat":
        raise ConfigError(f"model.prompt_template: verl renders prompts with the tokenizer's chat template; "
                          f"{model.prompt_template!r} is not mapped (use chat, with model.system_prompt if needed)")
    if run.max_rollouts is not None:
        raise ConfigError("run.max_rollouts: verl's trainer stops by steps only; set run.total_steps")
    if run.stop_at_step is not None:
        raise ConfigError("run.stop_at_step: verl's trainer has no early stop; set run.total_steps (verl resumes "
                          "from its latest checkpoint, trainer.resume_mode=auto)")
    if run.resume not in ("auto", "never") and "global_step_" not in Path(run.resume).name:
        raise ConfigError(f"run.resume: verl resumes from a 'global_step_N' folder, got {run.resume!r}")


def _warmup_in_steps(cfg: TrainConfig, plan: BatchPlan) -> int:
    """srpo counts warm-up in optimizer steps; verl's scheduler steps once per srpo step."""
    warm = cfg.optim.warmup_steps
    if warm % plan.updates_per_step:
        raise ConfigError(f"optim.warmup_steps: verl's LR scheduler steps once per training step ({plan.updates_per_step} "
                          f"optimizer steps here), so {warm} must be a multiple of {plan.updates_per_step}")
    return warm // plan.updates_per_step


def check_overrides(cfg: TrainConfig) -> None:
    """``verl.overrides`` may add verl settings, never change one srpo sets from the tree."""
    owned = {key.lstrip("+") for key, _ in _pairs(cfg, Layout.under("/x"))} | _OPTIONAL_KEYS
    for i, item in enumerate(cfg.verl.overrides):
        key = item.split("=", 1)[0].lstrip("+")
        if key in owned:
            raise ConfigError(f"verl.overrides[{i}]: {key} is set from srpo's config tree (see docs/verl.md), "
                              "not here")


# keys srpo sets only for some configs: refused in verl.overrides whatever this config says
_OPTIONAL_KEYS = {
    "actor_rollout_ref.actor.loss_scale_factor", "actor_rollout_ref.actor.ppo_max_token_len_per_gpu",
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu", "actor_rollout_ref.actor.use_dynamic_bsz",
    "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu",
    "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu", "reward.reward_kwargs.max_resp_len",
    "reward.reward_kwargs.overlong_buffer_cfg", "reward.reward_kwargs.overlong_buffer_cfg.enable",
    "reward.reward_kwargs.overlong_buffer_cfg.len", "reward.reward_kwargs.overlong_buffer_cfg.penalty_factor",
    "trainer.resume_from_path", "trainer.v1.colocate_async.num_warmup_batches",
}


def verl_overrides(cfg: TrainConfig, layout: Layout) -> list[str]:
    """Hydra overrides for ``python -m verl.trainer.main_ppo`` (after `check_config`), ``verl.overrides`` last."""
    return [f"{key}={_value(value)}" for key, value in _pairs(cfg, layout)] + list(cfg.verl.overrides)


def _pairs(cfg: TrainConfig, layout: Layout) -> list[tuple[str, Any]]:
    plan = batch_plan(cfg)
    return (_data(cfg, layout) + _actor(cfg, plan) + _rollout(cfg, plan) + _rollout_correction(cfg)
            + _reward(cfg, layout) + _trainer(cfg, layout))


def _data(cfg: TrainConfig, layout: Layout) -> list[tuple[str, Any]]:
    return [
        ("data.train_files", layout.train), ("data.val_files", layout.heldout),
        ("data.prompt_key", "prompt"), ("data.train_batch_size", cfg.rollout.prompts_per_step),
        ("data.max_prompt_length", cfg.verl.max_prompt_length),
        ("data.max_response_length", cfg.rollout.max_new_tokens),
        ("data.filter_overlong_prompts", True), ("data.truncation", "error"),
        # the stream is srpo's: verl's loader reads it in order, in the trainer process, one pass
        ("data.shuffle", False), ("data.dataloader_num_workers", 0), ("data.seed", cfg.run.seed),
        ("data.custom_cls.path", DATASET[0]), ("data.custom_cls.name", DATASET[1]),
        ("+data.srpo_config", layout.config),
    ]


def _actor(cfg: TrainConfig, plan: BatchPlan) -> list[tuple[str, Any]]:
    algo, opt, v = cfg.algorithm, cfg.optim, cfg.verl
    a = "actor_rollout_ref.actor."
    estimator, by_std = ADVANTAGE[algo.advantage]
    pairs: list[tuple[str, Any]] = [
        ("algorithm.adv_estimator", estimator), ("algorithm.norm_adv_by_std_in_grpo", by_std),
        ("algorithm.use_kl_in_reward", False),
        ("actor_rollout_ref.model.path", cfg.model.path),
        ("actor_rollout_ref.model.enable_gradient_checkpointing", cfg.model.gradient_checkpointing),
        ("actor_rollout_ref.model.use_remove_padding", True),
        (a + "strategy", v.strategy),
        (a + "optim.lr", opt.lr), (a + "optim.betas", list(opt.betas)), (a + "optim.weight_decay", opt.weight_decay),
        (a + "optim.clip_grad", opt.max_grad_norm), (a + "optim.lr_warmup_steps", _warmup_in_steps(cfg, plan)),
        (a + "optim.lr_scheduler_type", opt.schedule),
        (a + "optim.min_lr_ratio", opt.min_lr_ratio if opt.schedule == "cosine" else 0.0),
        (a + "ppo_mini_batch_size", plan.mini_prompts), (a + "ppo_epochs", algo.ppo_epochs),
        *_clip_pairs(a, algo),
        (a + "clip_ratio_c", algo.dual_clip if algo.dual_clip is not None else DUAL_CLIP_OFF),
        (a + "policy_loss.loss_mode", LOSS_MODES[algo.policy_loss]),
        (a + "tau_pos", algo.sapo_tau_pos), (a + "tau_neg", algo.sapo_tau_neg),
        (a + "loss_agg_mode", LOSS_AGG[algo.loss_agg]),
        (a + "use_kl_loss", algo.kl_coef > 0), (a + "kl_loss_coef", algo.kl_coef),
        (a + "kl_loss_type", KL_TYPE.get(algo.kl_estimator, "low_var_kl")),
        (a + "entropy_coeff", algo.entropy_coef),
        (a + "ulysses_sequence_parallel_size", v.sequence_parallel),
        (a + "fsdp_config.param_offload", v.param_offload), (a + "fsdp_config.optimizer_offload", v.optimizer_offload),
    ]
    if algo.loss_agg == "seq_mean_token_sum_norm":
        pairs.append((a + "loss_scale_factor", algo.norm_len or cfg.rollout.max_new_tokens))
    pairs += _micro_batches(cfg, plan)
    return pairs


def _micro_batches(cfg: TrainConfig, plan: BatchPlan) -> list[tuple[str, Any]]:
    tokens = cfg.verl.max_tokens_per_gpu
    if tokens is not None:
        return [("actor_rollout_ref.actor.use_dynamic_bsz", True),
                ("actor_rollout_ref.actor.ppo_max_token_len_per_gpu", tokens)]
    return [("actor_rollout_ref.actor.use_dynamic_bsz", False),
            ("actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu", plan.micro_per_gpu),
            ("actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu", plan.micro_per_gpu),
            ("actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu", plan.micro_per_gpu)]


def _rollout(cfg: TrainConfig, plan: BatchPlan) -> list[tuple[str, Any]]:
    ro, v, ev = cfg.rollout, cfg.verl, cfg.resolved_eval()
    r = "actor_rollout_ref.rollout."
    return [
        (r + "name", v.rollout), (r + "n", ro.group_size), (r + "temperature", ro.temperature),
        (r + "top_p", ro.top_p), (r + "top_k", -1),  # sample from temperature and top_p alone, as srpo does
        (r + "tensor_model_parallel_size", v.rollout_tp), (r + "gpu_memory_utilization", v.gpu_memory_utilization),
        (r + "val_kwargs.n", ev.samples), (r + "val_kwargs.temperature", ev.temperature),
        (r + "val_kwargs.top_p", ev.top_p), (r + "val_kwargs.top_k", -1), (r + "val_kwargs.do_sample", True),
    ]


def _reward(cfg: TrainConfig, layout: Layout) -> list[tuple[str, Any]]:
    algo = cfg.algorithm
    pairs: list[tuple[str, Any]] = [
        ("reward.num_workers", cfg.verl.reward_workers),
        ("reward.custom_reward_function.path", REWARD[0]), ("reward.custom_reward_function.name", REWARD[1]),
        ("+reward.custom_reward_function.reward_kwargs.srpo_config", layout.config),
    ]
    if algo.penalizes_overlong:  # DAPO's soft overlong penalty: verl's dapo reward manager adds it to the score
        pairs += [("reward.reward_manager.name", "dapo"),
                  ("+reward.reward_kwargs.max_resp_len", cfg.rollout.max_new_tokens),
                  ("+reward.reward_kwargs.overlong_buffer_cfg.enable", True),
                  ("+reward.reward_kwargs.overlong_buffer_cfg.len", algo.overlong_window),
                  ("+reward.reward_kwargs.overlong_buffer_cfg.penalty_factor", algo.overlong_penalty_factor),
                  ("+reward.reward_kwargs.overlong_buffer_cfg.log", True)]
    else:
        pairs.append(("reward.reward_manager.name", "naive"))
    return pairs


def _trainer(cfg: TrainConfig, layout: Layout) -> list[tuple[str, Any]]:
    run, v = cfg.run, cfg.verl
    t = "trainer."
    eval_every = run.eval_every or run.total_steps  # srpo's 0: before and after training only
    backends = ["console"] + [b for b in cfg.logging.backends if b in ("tensorboard", "wandb")]
    mode, warmup = trainer_mode(cfg)
    pairs: list[tuple[str, Any]] = [
        (t + "use_v1", True), (t + "v1.trainer_mode", TRAINER_MODES[mode]),
        (t + "nnodes", v.nnodes), (t + "n_gpus_per_node", v.n_gpus_per_node), (t + "device", "cuda"),
        (t + "total_epochs", 1), (t + "total_training_steps", run.total_steps),
        (t + "save_freq", run.save_every or run.total_steps),
        (t + "max_actor_ckpt_to_keep", run.keep_checkpoints),
        (t + "test_freq", eval_every if layout.has_heldout else -1),
        (t + "val_before_train", layout.has_heldout),
        (t + "project_name", v.project_name), (t + "experiment_name", run.name),
        (t + "default_local_dir", str(Path(run.output_dir).absolute() / "checkpoints")),
        (t + "logger", backends),
        ("+ray_kwargs.ray_init.runtime_env.worker_process_setup_hook", SETUP_HOOK),
    ]
    if mode == "colocate_async":
        pairs.append((t + "v1.colocate_async.num_warmup_batches", warmup))
    if run.resume == "auto":
        pairs.append((t + "resume_mode", "auto"))
    elif run.resume == "never":
        pairs.append((t + "resume_mode", "disable"))
    else:
        pairs += [(t + "resume_mode", "resume_path"), (t + "resume_from_path", str(Path(run.resume).absolute()))]
    return pairs


def trainer_mode(cfg: TrainConfig) -> tuple[str, int]:
    """(verl.trainer_mode, warm-up batches) as the run uses them: ``rollout.max_staleness = k > 0`` is
    ``colocate_async`` with k warm-up batches (generation runs k batches ahead of training), else verl.*'s own."""
    if cfg.rollout.max_staleness > 0:
        return "colocate_async", cfg.rollout.max_staleness
    return cfg.verl.trainer_mode, cfg.verl.num_warmup_batches


def lookahead(cfg: TrainConfig) -> int:
    """srpo steps verl may draw beyond the last one whose verdicts are in (`set_lookahead`'s bound).

    sync: 0 (step s draws its prompts, trains them, and the hook records them before step s + 1 draws).
    colocate_async: the warm-up window plus the step being trained, whose refills draw ahead as groups finish.
    """
    mode, warmup = trainer_mode(cfg)
    return 0 if mode == "sync" else warmup + 1


def differences(cfg: TrainConfig) -> list[str]:
    """Accepted settings whose verl numerics differ from the native engine's (printed by the recipe)."""
    out = []
    if cfg.algorithm.old_logprobs == "rollout":
        out.append("algorithm.old_logprobs rollout -> verl recomputes pi_old with the training engine every step")
    if cfg.algorithm.advantage in ("grpo", "dr_grpo"):
        out.append("group statistics in float32 (srpo: float64, so a constant group is exactly 0; with 0/1 rewards "
                   "both are exact)")
    if cfg.algorithm.kl_coef > 0 and cfg.algorithm.kl_estimator == "k3":
        out.append("algorithm.kl_estimator k3 -> verl's low_var_kl, which clamps the estimate to [-10, 10]")
    if batch_plan(cfg).updates_per_step > 1 and cfg.optim.schedule != "constant":
        out.append("the learning rate changes once per step on verl (srpo: once per optimizer step)")
    return out


_SAFE = re.compile(r"^[A-Za-z0-9_./:@+-]+$")
_NUMBERS = re.compile(r"^[0-9.eE+-]+_[0-9.eE+-]+$")  # 'low_high': Hydra could read 1_000-style digits as a number


def _value(value: Any) -> str:
    """A Hydra override value: numbers and booleans bare, lists in brackets, other strings quoted if needed."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_value(v) for v in value) + "]"
    text = str(value)
    if _SAFE.match(text) and text not in ("true", "false", "null") and not _NUMBERS.match(text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def launch_command(overrides: list[str], python: str = "python3") -> str:
    """The shell command (one override per line) that starts verl's trainer with `overrides`."""
    lines = [f"{python} -m verl.trainer.main_ppo"] + [shlex.quote(o) for o in overrides]
    return " \\\n    ".join(lines)
