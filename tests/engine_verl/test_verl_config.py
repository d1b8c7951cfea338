"""The recipe's overrides against verl's real config: Hydra composes them and verl's own checks pass."""

from __future__ import annotations

import pytest

pytest.importorskip("verl")

from srpo.config import load_config  # noqa: E402
from srpo.engines.verl.setup import Layout, verl_overrides  # noqa: E402
from conftest import compose_verl  # noqa: E402


def _validate(config):
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    validate_config(config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))


def test_the_toy_recipe_composes_and_validates(recipe):
    cfg, rec = recipe
    config = compose_verl(rec.overrides)
    _validate(config)
    assert config.trainer.v1.trainer_mode == "srpo_sync"
    assert config.reward.custom_reward_function.reward_kwargs.srpo_config == str(rec.folder / "srpo.yaml")
    assert config.ray_kwargs.ray_init.runtime_env.worker_process_setup_hook == "srpo.engines.verl.hook.register"
    assert config.data.srpo_config == str(rec.folder / "srpo.yaml") and config.data.shuffle is False


@pytest.mark.parametrize("extra", [[], ["verl.nnodes=1", "verl.param_offload=true", "verl.optimizer_offload=true"],
                                   ["verl.trainer_mode=colocate_async", "algorithm.truncation=soft_penalty",
                                    "algorithm.overlong_window=4096", "algorithm.kl_coef=0.001",
                                    "verl.max_tokens_per_gpu=null", "algorithm.micro_batch_size=4"]])
def test_the_32b_recipes_compose_and_validate(verl_model_dir, extra):
    cfg = load_config("srpo-32b", [f"model.path={verl_model_dir}", *extra])
    config = compose_verl(verl_overrides(cfg, Layout.under("/data/srpo-32b")))
    _validate(config)
    actor = config.actor_rollout_ref.actor
    assert (actor.optim.lr, list(actor.optim.betas), actor.loss_agg_mode) == (1e-6, [0.9, 0.95], "token-mean")
    assert (actor.clip_ratio_high, actor.entropy_coeff, config.data.train_batch_size) == (0.28, 0.0, 256)
    assert config.actor_rollout_ref.rollout.n == 32


def test_actor_config_builds_verls_dataclass(recipe):
    from verl.utils.config import omega_conf_to_dataclass

    cfg, rec = recipe
    actor = omega_conf_to_dataclass(compose_verl(rec.overrides).actor_rollout_ref.actor)
    assert actor.clip_ratio_c == 1e9 and actor.ppo_mini_batch_size == cfg.rollout.prompts_per_step
