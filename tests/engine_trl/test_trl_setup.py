"""The TRL engine's config mapping and refusals (TRL imported, nothing trained)."""

import pytest

pytest.importorskip("trl")

from srpo.config import load_config  # noqa: E402
from srpo.core.configlib import ConfigError  # noqa: E402
from srpo.engines.trl.setup import batch_plan, check_config, grpo_args  # noqa: E402


def cfg(*overrides, base="srpo"):
    return load_config(base, ["engine=trl", *overrides])


def test_srpo_preset_maps_onto_grpo_config():
    c = cfg("rollout.prompts_per_step=8", "rollout.group_size=8", "algorithm.micro_batch_size=16",
            "run.total_steps=50", "run.save_every=10")
    plan = check_config(c, processes=2)
    args = grpo_args(c, plan)
    assert (plan.per_device, plan.grad_accum, plan.steps_per_generation, plan.updates_per_step) == (16, 2, 2, 1)
    assert args["loss_type"] == "dapo" and args["scale_rewards"] == "group"
    assert args["epsilon"] == 0.2 and args["epsilon_high"] == 0.28 and args["beta"] == 0.0
    assert args["max_steps"] == 50 and args["save_steps"] == 10 and args["num_generations"] == 8
    assert args["ignore_data_skip"] and not args["shuffle_dataset"] and args["max_completion_length"] == 1024

    from trl import GRPOConfig

    GRPOConfig(**{**args, "use_cpu": True, "bf16": False, "output_dir": "/tmp/unused"})  # TRL accepts them all


def test_mini_batches_and_epochs_become_optimizer_steps():
    c = cfg("rollout.prompts_per_step=4", "rollout.group_size=4", "algorithm.mini_batch_size=8",
            "algorithm.micro_batch_size=2", "algorithm.ppo_epochs=2", "algorithm.old_logprobs=recompute")
    plan = batch_plan(c, processes=2)
    assert (plan.per_device, plan.grad_accum, plan.steps_per_generation, plan.iterations) == (2, 2, 4, 2)
    assert plan.updates_per_step == c.updates_per_step() == 4 and plan.repeat_count == 8
    assert grpo_args(c, plan)["max_steps"] == 4 * c.run.total_steps


@pytest.mark.parametrize("override, field", [
    ("sampling.name=dynamic_sampling", "sampling.name"),
    ("algorithm.advantage=rloo", "algorithm.advantage"),
    ("algorithm.std_unbiased=false", "algorithm.std_unbiased"),
    ("algorithm.adv_eps=0.01", "algorithm.adv_eps"),
    ("algorithm.dual_clip=3.0", "algorithm.dual_clip"),
    ("algorithm.log_ratio_clamp=5.0", "algorithm.log_ratio_clamp"),
    ("algorithm.loss_agg=seq_mean_token_sum", "algorithm.loss_agg"),
    ("algorithm.entropy_coef=0.01", "algorithm.entropy_coef"),
    ("algorithm.mini_batch_size=24", "algorithm.mini_batch_size"),
    ("trl.grpo_args={learning_rate: 0.1}", "trl.grpo_args.learning_rate"),
    ("trl.grpo_args={no_such_field: 1}", "trl.grpo_args.no_such_field"),
])
def test_refused_with_the_field_and_why(override, field):
    with pytest.raises(ConfigError, match=f"^{field}: .+"):
        check_config(cfg(override))


def test_kl_needs_k3_and_dr_grpo_needs_the_length_normaliser():
    with pytest.raises(ConfigError, match="algorithm.kl_estimator"):
        check_config(cfg("algorithm.kl_coef=0.01", "algorithm.kl_estimator=k1"))
    assert grpo_args(c := cfg("algorithm.kl_coef=0.01"), check_config(c))["beta"] == 0.01
    with pytest.raises(ConfigError, match="algorithm.norm_len"):
        check_config(cfg("algorithm.loss_agg=seq_mean_token_sum_norm", "algorithm.norm_len=100"))
    c = cfg("algorithm.loss_agg=seq_mean_token_sum_norm", "algorithm.advantage=dr_grpo")
    args = grpo_args(c, check_config(c))
    assert args["loss_type"] == "dr_grpo" and args["scale_rewards"] == "none"


def test_extra_grpo_args_pass_through_and_native_refuses_engine_trl():
    c = cfg("trl.grpo_args={logging_first_step: true, ddp_timeout: 600}")
    check_config(c)
    from srpo.engines.native.setup import check_config as native_check

    with pytest.raises(ConfigError, match="^engine: 'trl'"):
        native_check(c)


def test_truncation_and_schedule():
    c = cfg("algorithm.truncation=mask", "optim.schedule=cosine", "optim.warmup_steps=5", "optim.min_lr_ratio=0.2")
    args = grpo_args(c, check_config(c))
    assert args["mask_truncated_completions"] and args["lr_scheduler_type"] == "cosine_with_min_lr"
    assert args["lr_scheduler_kwargs"] == {"min_lr_rate": 0.2} and args["warmup_steps"] == 5


def test_fsdp_refuses_held_out_evaluation(monkeypatch):
    c = cfg('data.heldout=["toy:math?n=4"]')
    check_config(c)
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    with pytest.raises(ConfigError, match="^data.heldout: .*FSDP"):
        check_config(c)
    check_config(cfg())  # no held-out set: fine under FSDP
