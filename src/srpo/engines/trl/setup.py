"""From srpo's config tree to ``trl.GRPOConfig``: what maps, what is fixed, and what TRL cannot honour.

`check_config` refuses, with the dotted field and the reason, every option TRL's `GRPOTrainer` would
silently do differently; `grpo_args` builds the ``GRPOConfig`` keyword arguments. The table in docs/trl.md
is this module in prose; `CAPABILITIES` (next to `check_config`) is the per-option table docs/engines.md is
rendered from. Batch arithmetic (P prompts x G responses per step, M responses per optimizer step, u responses
per forward per process, N processes)::

    num_generations             = G
    per_device_train_batch_size = u = min(algorithm.micro_batch_size, M / N)
    gradient_accumulation_steps = M / (N u)          one optimizer step sees M responses
    steps_per_generation        = P G / (N u)        one generation batch is one srpo step
    num_iterations              = algorithm.ppo_epochs
    optimizer steps per srpo step U = (P G / M) * ppo_epochs   (== TrainConfig.updates_per_step())
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

from srpo.config import TrainConfig
from srpo.core.configlib import ConfigError
from srpo.engines.batching import split_step
from srpo.engines.capabilities import HONOURED, IGNORED, MAPPED, REFUSED, Capability
from srpo.engines.hf_model import resolve_device

log = logging.getLogger(__name__)

LOSS_TYPES = {"token_mean": "dapo", "seq_mean_token_mean": "grpo", "seq_mean_token_sum_norm": "dr_grpo"}
SCALE_REWARDS = {"grpo": "group", "dr_grpo": "none"}
TRL_ADV_EPS = 1e-4  # TRL adds this to the group std (hard-coded in GRPOTrainer)
_DEFAULTS = TrainConfig()


@dataclasses.dataclass(frozen=True)
class BatchPlan:
    """How one srpo step (P prompts x G responses) is cut into TRL's batches on N processes."""

    prompts: int
    group: int
    processes: int
    per_device: int
    grad_accum: int
    steps_per_generation: int
    iterations: int

    @property
    def updates_per_step(self) -> int:
        """Optimizer steps (TRL's global_step increments) per srpo step."""
        return self.steps_per_generation * self.iterations // self.grad_accum

    @property
    def repeat_count(self) -> int:
        """Times TRL's dataloader reads each generation batch (RepeatSampler's repeat_count)."""
        return self.iterations * self.steps_per_generation


def batch_plan(cfg: TrainConfig, processes: int) -> BatchPlan:
    """The batch arithmetic of the module docstring; ConfigError when the numbers do not divide."""
    split = split_step(cfg, processes, "processes")
    return BatchPlan(cfg.rollout.prompts_per_step, cfg.rollout.group_size, processes, split.micro,
                     split.per_rank // split.micro, split.total // processes // split.micro, cfg.algorithm.ppo_epochs)


def _m(option: str, *to: str, note: str = "") -> Capability:
    return Capability(option, MAPPED, to, note)


def _r(option: str, note: str, *example: str) -> Capability:
    return Capability(option, REFUSED, note=note, example=example)


# What this engine does with the options it treats specially (docs/engines.md is rendered from it, and
# tests/test_engine_capabilities.py holds it to `check_config` and `grpo_args`).
CAPABILITIES: tuple[Capability, ...] = (
    _m("run.output_dir", "output_dir"),
    _m("run.seed", "seed", "data_seed"),
    _m("run.total_steps", "max_steps", note="x updates per step (TRL counts optimizer steps)"),
    _m("run.save_every", "save_steps", note="x updates per step"),
    _m("run.keep_checkpoints", "save_total_limit"),
    Capability("run.resume", HONOURED, note="srpo picks the checkpoint (only those with srpo_state.json) and "
               "passes it as resume_from_checkpoint; ignore_data_skip=True, srpo's sampler resumes from its state"),
    _m("run.progress", "disable_tqdm"),
    Capability("run.eval_every", HONOURED, note="srpo's callback (each rank samples a shard)"),
    Capability("run.max_rollouts", HONOURED, note="srpo's callback; the step that crosses it is the last"),
    Capability("run.stop_at_step", HONOURED, note="srpo's callback"),
    _m("model.dtype", "model_init_kwargs", note="GRPOTrainer loads model.path itself, on each process's device"),
    _m("model.autocast_bf16", "bf16", note="also on with model.dtype=bfloat16"),
    _m("model.device", "use_cpu"),
    Capability("model.prompt_template", HONOURED, note="srpo formats the dataset's prompt column"),
    _m("model.gradient_checkpointing", "gradient_checkpointing", note="activation_checkpointing on transformers "
       "that have it; TRL's default would be on"),
    _m("model.lora.enabled", "peft_config", note="GRPOTrainer(peft_config=LoraConfig(...)); with beta > 0 the "
       "reference is the model with adapters disabled"),
    Capability("rollout.engine", IGNORED, note="TRL generates with transformers.generate or vLLM (trl.use_vllm)"),
    Capability("rollout.vllm", IGNORED, note="TRL's vLLM settings are trl.vllm_*"),
    Capability("rollout.compile", IGNORED, note="native's generator only"),
    _r("rollout.max_staleness", "TRL's AsyncGRPOTrainer draws prompts outside srpo's stream (docs/async.md)",
       "rollout.max_staleness=1"),
    _m("rollout.group_size", "num_generations"),
    _m("rollout.prompts_per_step", "steps_per_generation", note="one generation batch is one srpo step"),
    _m("rollout.temperature", "temperature"),
    _m("rollout.top_p", "top_p", "top_k", "min_p", "repetition_penalty",
       note="top_k=0, min_p=None, repetition_penalty=1: sample only from what is recorded"),
    _r("rollout.sample_temperature", "GRPOTrainer samples at its one temperature; the deliberately off behaviour "
       "policy (experiments) is the native kv_cache engine's", "rollout.sample_temperature=1.5"),
    _m("rollout.max_new_tokens", "max_completion_length"),
    _m("algorithm.advantage", "scale_rewards", note="grpo -> group, dr_grpo -> none"),
    _r("algorithm.advantage=rloo", "no GRPOTrainer equivalent (TRL's RLOO is another trainer)"),
    _r("algorithm.advantage (a plugin's)", "no GRPOTrainer equivalent", "algorithm.advantage=plugin"),
    _r("algorithm.std_unbiased=false", "GRPOTrainer always uses the Bessel-corrected group std"),
    _r("algorithm.adv_eps", f"GRPOTrainer adds a fixed {TRL_ADV_EPS}; the default "
       f"({_DEFAULTS.algorithm.adv_eps}) is accepted and replaced (logged), other values are refused",
       "algorithm.adv_eps=0.01"),
    _m("algorithm.policy_loss", "loss_type", "importance_sampling_level", note="ppo_clip -> loss_type from "
       "loss_agg; gspo -> importance_sampling_level=sequence (loss_agg=seq_mean_token_mean); cispo -> cispo "
       "(loss_agg=token_mean); sapo -> sapo (loss_agg=seq_mean_token_mean)"),
    _r("algorithm.policy_loss (a plugin's)", "GRPOTrainer has ppo_clip, gspo, cispo and sapo only",
       "algorithm.policy_loss=plugin"),
    _m("algorithm.gspo_clip_low", "epsilon", note="with gspo"),
    _m("algorithm.gspo_clip_high", "epsilon_high", note="with gspo"),
    _m("algorithm.cispo_clip_high", "epsilon_high", note="with cispo: epsilon_high = 1 + cispo_clip_high (TRL caps "
       "the ratio at epsilon_high itself)"),
    _m("algorithm.sapo_tau_pos", "sapo_temperature_pos"),
    _m("algorithm.sapo_tau_neg", "sapo_temperature_neg"),
    _m("algorithm.clip_low", "epsilon"),
    _m("algorithm.clip_high", "epsilon_high"),
    _r("algorithm.dual_clip", "no dual-clip bound (TRL's delta is INTELLECT-2's two-sided clip, another objective)",
       "algorithm.dual_clip=3.0"),
    _r("algorithm.log_ratio_clamp", "GRPOTrainer does not clamp the log-ratio; only the default is accepted",
       "algorithm.log_ratio_clamp=5.0"),
    _m("algorithm.loss_agg", "loss_type", note="token_mean -> dapo, seq_mean_token_mean -> grpo, "
       "seq_mean_token_sum_norm -> dr_grpo"),
    _r("algorithm.loss_agg=seq_mean_token_sum", "no GRPOTrainer loss_type"),
    _r("algorithm.loss_agg (a plugin's)", "no GRPOTrainer loss_type", "algorithm.loss_agg=plugin"),
    _r("algorithm.norm_len", "with seq_mean_token_sum_norm: dr_grpo divides by max_completion_length, so unset or "
       "rollout.max_new_tokens only", "algorithm.loss_agg=seq_mean_token_sum_norm", "algorithm.norm_len=100"),
    _m("algorithm.kl_coef", "beta", "use_bias_correction_kl", note="use_bias_correction_kl=false: srpo's KL term "
       "is not multiplied by the (differentiable) ratio"),
    _r("algorithm.kl_estimator", "with kl_coef > 0: GRPOTrainer's KL term is k3 only",
       "algorithm.kl_coef=0.01", "algorithm.kl_estimator=k1"),
    _r("algorithm.entropy_coef", "no entropy bonus (entropy is logged only)", "algorithm.entropy_coef=0.01"),
    _m("algorithm.ppo_epochs", "num_iterations"),
    _m("algorithm.mini_batch_size", "gradient_accumulation_steps", note="M / (N u), docs/trl.md"),
    _r("algorithm.mini_batch_size (not dividing)", "must divide the step's responses, and divide over the "
       "processes", "algorithm.mini_batch_size=24"),
    _m("algorithm.micro_batch_size", "per_device_train_batch_size", note="u = min(micro_batch_size, M / N)"),
    _r("algorithm.micro_batch_size (not dividing)", "must divide each process's share of an optimizer step",
       "algorithm.micro_batch_size=24"),
    _r("algorithm.micro_batch_tokens", "token-budget micro-batches are the native engine's",
       "algorithm.micro_batch_tokens=100000"),
    Capability("algorithm.share_prompts", IGNORED, note="native's actor only"),
    Capability("algorithm.fused_head", IGNORED, note="native's actor only"),
    Capability("algorithm.old_logprobs", IGNORED, note="GRPOTrainer recomputes pi_old when a batch makes several "
               "updates or trl.use_vllm, else the ratio is exactly 1 (logged at start)"),
    _m("algorithm.rollout_correction.enabled", "vllm_importance_sampling_correction", note="null (auto) -> "
       "trl.use_vllm (TRL's own default: on with vLLM)"),
    _r("algorithm.rollout_correction.enabled (without vLLM)", "GRPOTrainer corrects vLLM rollouts only; without "
       "trl.use_vllm the policy samples itself", "algorithm.rollout_correction.enabled=true"),
    _m("algorithm.rollout_correction.level", "vllm_importance_sampling_mode", note="token / sequence"),
    _m("algorithm.rollout_correction.mode", "vllm_importance_sampling_mode", note="level_mode, e.g. sequence_mask"),
    _m("algorithm.rollout_correction.low", "vllm_importance_sampling_clip_min"),
    _m("algorithm.rollout_correction.high", "vllm_importance_sampling_clip_max"),
    _r("algorithm.rollout_correction.reject", "no sequence rejection in GRPOTrainer (off_policy_mask_threshold is "
       "DeepSeek-V3.2's mask of negative-advantage sequences, another rule)", "trl.use_vllm=true",
       "algorithm.rollout_correction.reject=max_abs", "algorithm.rollout_correction.reject_threshold=0.5"),
    _m("algorithm.truncation", "mask_truncated_completions", note="soft_penalty: an overlong_penalty reward "
       "function; correct is never shaped"),
    _m("optim.lr", "learning_rate"),
    _m("optim.betas", "adam_beta1", "adam_beta2"),
    _m("optim.eps", "adam_epsilon"),
    _m("optim.weight_decay", "weight_decay"),
    _m("optim.max_grad_norm", "max_grad_norm"),
    _m("optim.warmup_steps", "warmup_steps"),
    _m("optim.schedule", "lr_scheduler_type", note="constant(_with_warmup) / cosine_with_min_lr"),
    _m("optim.min_lr_ratio", "lr_scheduler_kwargs", note="min_lr_rate"),
    _r("data.heldout (under FSDP)", "srpo's held-out evaluation samples on each rank; under FSDP every forward is "
       "a collective (evaluate checkpoints with srpo eval)", "trl.grpo_args={fsdp: full_shard}",
       'data.heldout=["toy:math?n=4"]'),
    _r("sampling.name=dynamic_sampling", "GRPOTrainer generates exactly one batch per step and cannot refill"),
    Capability("logging.backends", HONOURED, note="srpo's tracker; TRL's own reporting is trl.report_to"),
    _m("trl.use_vllm", "use_vllm"),
    _m("trl.vllm_mode", "vllm_mode"),
    _m("trl.vllm_server_base_url", "vllm_server_base_url"),
    _m("trl.vllm_gpu_memory_utilization", "vllm_gpu_memory_utilization"),
    _m("trl.vllm_tensor_parallel_size", "vllm_tensor_parallel_size"),
    _m("trl.report_to", "report_to"),
    Capability("trl.grpo_args", HONOURED, note="passed to GRPOConfig as they are"),
    _r("trl.grpo_args (not a field)", "keys that are not trl.GRPOConfig fields", "trl.grpo_args={no_such_field: 1}"),
    _r("trl.grpo_args (set from the tree)", "keys srpo sets from the config tree",
       "trl.grpo_args={learning_rate: 0.1}"),
)


def check_config(cfg: TrainConfig, processes: int = 1) -> BatchPlan:
    """Refuse what TRL's GRPOTrainer cannot do as srpo's config says; return the batch plan."""
    algo = cfg.algorithm
    if cfg.engine != "trl":
        raise ConfigError(f"engine: this is the trl engine, the config says {cfg.engine!r}")
    if cfg.sampling.name == "dynamic_sampling":
        raise ConfigError("sampling.name: dynamic_sampling regenerates groups until a batch is full; GRPOTrainer "
                          "generates exactly one batch per step, so the trl engine cannot refill (use uniform or "
                          "history_resampling, or the native engine)")
    if cfg.rollout.max_staleness > 0:
        raise ConfigError(f"rollout.max_staleness: {cfg.rollout.max_staleness} asks for asynchronous rollouts; the "
                          "trl engine runs TRL's synchronous GRPOTrainer, and TRL's experimental AsyncGRPOTrainer "
                          "(its own max_staleness) draws prompts in a rollout worker fed by a vLLM server, outside "
                          "srpo's prompt stream (history resampling, curriculum): set rollout.max_staleness=0 or use "
                          "the native engine (docs/async.md)")
    if cfg.rollout.sample_temperature is not None:
        raise ConfigError("rollout.sample_temperature: GRPOTrainer samples at rollout.temperature only; sampling at "
                          "another temperature (an off behaviour policy, for experiments) is the native kv_cache "
                          "engine's")
    if algo.advantage not in SCALE_REWARDS:
        raise ConfigError(f"algorithm.advantage: {algo.advantage!r} has no GRPOTrainer equivalent (grpo -> "
                          "scale_rewards=group, dr_grpo -> scale_rewards=none; TRL's RLOO is another trainer)")
    if not algo.std_unbiased:
        raise ConfigError("algorithm.std_unbiased: GRPOTrainer always uses the Bessel-corrected group std")
    if algo.adv_eps not in (_DEFAULTS.algorithm.adv_eps, TRL_ADV_EPS):
        raise ConfigError(f"algorithm.adv_eps: GRPOTrainer adds a fixed {TRL_ADV_EPS} to the group std; the default "
                          f"({_DEFAULTS.algorithm.adv_eps}) is accepted and replaced, {algo.adv_eps} is not")
    _check_policy_loss(algo)
    if algo.dual_clip is not None:
        raise ConfigError("algorithm.dual_clip: GRPOTrainer has no dual-clip bound (its `delta` is the two-sided "
                          "clip of INTELLECT-2, a different objective)")
    if algo.log_ratio_clamp != _DEFAULTS.algorithm.log_ratio_clamp:
        raise ConfigError("algorithm.log_ratio_clamp: GRPOTrainer does not clamp the log-ratio; only the default "
                          f"({_DEFAULTS.algorithm.log_ratio_clamp}) is accepted")
    _check_loss(cfg)
    if algo.kl_coef > 0 and algo.kl_estimator != "k3":
        raise ConfigError(f"algorithm.kl_estimator: GRPOTrainer's KL term is the k3 estimator, not "
                          f"{algo.kl_estimator!r}")
    if algo.entropy_coef != 0:
        raise ConfigError("algorithm.entropy_coef: GRPOTrainer has no entropy bonus (entropy is logged only)")
    _check_rollout_correction(cfg)
    if cfg.run.max_rollouts is not None and cfg.run.max_rollouts % (cfg.rollout.prompts_per_step
                                                                    * cfg.rollout.group_size):
        log.info("run.max_rollouts is not a multiple of a step's responses: the crossing step is the last")
    plan = batch_plan(cfg, processes)
    _check_grpo_args(cfg)
    fsdp = bool(cfg.trl.grpo_args.get("fsdp")) or os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true"
    if fsdp and cfg.data.heldout:
        raise ConfigError("data.heldout: srpo's held-out evaluation samples on every rank independently, and under "
                          "FSDP every forward pass is a collective, so ranks would wait on each other; evaluate "
                          "checkpoints with `srpo eval` instead (or use DeepSpeed ZeRO-3, whose parameters are "
                          "gathered for generation)")
    return plan


def peft_config(cfg: TrainConfig):
    """``model.lora`` as GRPOTrainer's ``peft_config`` (None when off). GRPOTrainer then wraps the model with
    peft, trains the adapters alone and, with beta > 0, takes the reference log-probs with the adapters
    disabled instead of loading a reference copy, as the native engine does."""
    if not cfg.model.lora.enabled:
        return None
    from srpo.engines.lora import peft_lora_config

    return peft_lora_config(cfg.model.lora)


# srpo's policy loss -> (GRPOTrainer loss_type or None: from loss_agg, the loss_agg it needs, importance level)
TRL_POLICY_LOSSES = {"ppo_clip": (None, None, "token"), "gspo": (None, "seq_mean_token_mean", "sequence"),
                     "cispo": ("cispo", "token_mean", "token"), "sapo": ("sapo", "seq_mean_token_mean", "token")}


def _check_policy_loss(algo) -> None:
    if algo.policy_loss not in TRL_POLICY_LOSSES:
        raise ConfigError(f"algorithm.policy_loss: GRPOTrainer has no {algo.policy_loss!r} (mapped: "
                          f"{', '.join(TRL_POLICY_LOSSES)})")
    _, agg, _ = TRL_POLICY_LOSSES[algo.policy_loss]
    if agg is not None and algo.loss_agg != agg:
        raise ConfigError(f"algorithm.loss_agg: GRPOTrainer's {algo.policy_loss} aggregates as {agg}, the config "
                          f"says {algo.loss_agg}")


def _policy_loss_args(algo) -> dict[str, Any]:
    loss_type, _, level = TRL_POLICY_LOSSES[algo.policy_loss]
    eps = {"gspo": (algo.gspo_clip_low, algo.gspo_clip_high),
           "cispo": (algo.clip_low, 1.0 + algo.cispo_clip_high)}.get(algo.policy_loss, (algo.clip_low, algo.clip_high))
    return {"loss_type": loss_type or LOSS_TYPES[algo.loss_agg], "importance_sampling_level": level,
            "epsilon": eps[0], "epsilon_high": eps[1],
            "sapo_temperature_pos": algo.sapo_tau_pos, "sapo_temperature_neg": algo.sapo_tau_neg}


def _check_rollout_correction(cfg: TrainConfig) -> None:
    rc = cfg.algorithm.rollout_correction
    if rc.enabled and not cfg.trl.use_vllm:
        raise ConfigError("algorithm.rollout_correction.enabled: GRPOTrainer corrects vLLM rollouts only "
                          "(vllm_importance_sampling_correction needs trl.use_vllm=true); without vLLM the policy "
                          "samples itself and there is no behaviour log-prob to compare")
    if rc.active(recomputed=cfg.trl.use_vllm) and rc.reject is not None:
        raise ConfigError("algorithm.rollout_correction.reject: GRPOTrainer has no sequence rejection by a log-ratio "
                          "statistic (its off_policy_mask_threshold is DeepSeek-V3.2's off-policy mask, another rule)")


def _rollout_correction_args(cfg: TrainConfig) -> dict[str, Any]:
    """``vllm_importance_sampling_*``: the same weights as `srpo.algo.importance_weights` (docs/algo.md)."""
    rc = cfg.algorithm.rollout_correction
    return {"vllm_importance_sampling_correction": rc.active(recomputed=cfg.trl.use_vllm),
            "vllm_importance_sampling_mode": f"{rc.level}_{rc.mode}",
            "vllm_importance_sampling_clip_min": rc.low, "vllm_importance_sampling_clip_max": rc.high}


def _check_loss(cfg: TrainConfig) -> None:
    algo = cfg.algorithm
    if algo.loss_agg not in LOSS_TYPES:
        raise ConfigError(f"algorithm.loss_agg: {algo.loss_agg!r} has no GRPOTrainer loss_type (token_mean -> dapo, "
                          "seq_mean_token_mean -> grpo, seq_mean_token_sum_norm -> dr_grpo)")
    if algo.loss_agg == "seq_mean_token_sum_norm" and algo.norm_len not in (None, cfg.rollout.max_new_tokens):
        raise ConfigError("algorithm.norm_len: GRPOTrainer's dr_grpo divides by max_completion_length "
                          f"(rollout.max_new_tokens = {cfg.rollout.max_new_tokens}), not {algo.norm_len}")


def _check_grpo_args(cfg: TrainConfig) -> None:
    from trl import GRPOConfig

    known = {f.name for f in dataclasses.fields(GRPOConfig)}
    owned = set(_owned_keys())
    for key in cfg.trl.grpo_args:
        if key not in known:
            raise ConfigError(f"trl.grpo_args.{key}: not a trl.GRPOConfig field")
        if key in owned:
            raise ConfigError(f"trl.grpo_args.{key}: set from srpo's config tree (see docs/trl.md), not here")


def _owned_keys() -> list[str]:
    keys = list(grpo_args(TrainConfig(engine="trl"), batch_plan(TrainConfig(engine="trl"), 1)))
    return keys + ["activation_checkpointing", "reward_weights", "model_init_kwargs"]


def grpo_args(cfg: TrainConfig, plan: BatchPlan) -> dict[str, Any]:
    """``trl.GRPOConfig`` keyword arguments for `cfg` (after `check_config`), ``trl.grpo_args`` not included."""
    algo, ro, opt, run, model, trl = cfg.algorithm, cfg.rollout, cfg.optim, cfg.run, cfg.model, cfg.trl
    updates = plan.updates_per_step
    schedule = ("cosine_with_min_lr" if opt.schedule == "cosine"
                else "constant_with_warmup" if opt.warmup_steps else "constant")
    return {
        "output_dir": run.output_dir, "seed": run.seed, "data_seed": run.seed,
        "max_steps": run.total_steps * updates, "logging_steps": updates,
        "save_strategy": "steps", "save_steps": (run.save_every or run.total_steps) * updates,
        "save_total_limit": run.keep_checkpoints, "save_only_model": False,
        "ignore_data_skip": True,  # srpo's sampler resumes from its own state, never by skipping batches
        "disable_tqdm": not run.progress, "report_to": list(trl.report_to) or "none",
        "num_generations": ro.group_size, "per_device_train_batch_size": plan.per_device,
        "gradient_accumulation_steps": plan.grad_accum, "steps_per_generation": plan.steps_per_generation,
        "num_iterations": plan.iterations, "shuffle_dataset": False, "remove_unused_columns": False,
        "dataloader_num_workers": 0,
        "temperature": ro.temperature, "top_p": ro.top_p, "top_k": 0, "min_p": None, "repetition_penalty": 1.0,
        "max_completion_length": ro.max_new_tokens,
        **_policy_loss_args(algo), "scale_rewards": SCALE_REWARDS[algo.advantage], "beta": algo.kl_coef,
        "use_bias_correction_kl": False, **_rollout_correction_args(cfg),
        "mask_truncated_completions": algo.masks_truncated,
        "learning_rate": opt.lr, "adam_beta1": opt.betas[0], "adam_beta2": opt.betas[1], "adam_epsilon": opt.eps,
        "weight_decay": opt.weight_decay, "max_grad_norm": opt.max_grad_norm, "warmup_steps": opt.warmup_steps,
        "lr_scheduler_type": schedule,
        "lr_scheduler_kwargs": {"min_lr_rate": opt.min_lr_ratio} if opt.schedule == "cosine" else None,
        "use_cpu": resolve_device(model.device).type == "cpu", "bf16": model.autocast_bf16 or model.dtype == "bfloat16",
        "gradient_checkpointing": model.gradient_checkpointing,
        "use_vllm": trl.use_vllm, "vllm_mode": trl.vllm_mode, "vllm_server_base_url": trl.vllm_server_base_url,
        "vllm_gpu_memory_utilization": trl.vllm_gpu_memory_utilization,
        "vllm_tensor_parallel_size": trl.vllm_tensor_parallel_size,
        "log_completions": False,
    }


def differences(cfg: TrainConfig) -> list[str]:
    """Accepted settings whose TRL numerics differ from the native engine's (logged at start)."""
    out = []
    if cfg.algorithm.adv_eps != TRL_ADV_EPS:
        out.append(f"algorithm.adv_eps {cfg.algorithm.adv_eps} -> {TRL_ADV_EPS} (GRPOTrainer's fixed epsilon)")
    if cfg.algorithm.old_logprobs == "rollout":
        out.append("algorithm.old_logprobs rollout -> recomputed by GRPOTrainer when a batch makes several updates "
                   "(on-policy: the ratio is exactly 1)")
    return out
