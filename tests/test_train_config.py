"""Cross-section rules of `TrainConfig.validate`."""

import pytest

from srpo.config import load_config
from srpo.core.configlib import ConfigError

# 16 prompts x 8 responses: a step's batch is 128 responses.
BF16 = ["model.autocast_bf16=true", "rollout.group_size=8", "rollout.prompts_per_step=16"]


@pytest.mark.parametrize("several_updates", [["algorithm.ppo_epochs=2"], ["algorithm.mini_batch_size=32"]],
                         ids=["ppo_epochs", "mini_batches"])
def test_bf16_autocast_off_policy_updates_need_recomputed_old_logprobs(several_updates):
    with pytest.raises(ConfigError, match=r"algorithm\.old_logprobs: .*off-policy"):
        load_config("grpo", BF16 + several_updates)
    cfg = load_config("grpo", BF16 + several_updates + ["algorithm.old_logprobs=recompute"])
    assert cfg.algorithm.old_logprobs == "recompute"


def test_bf16_autocast_one_on_policy_update_may_use_rollout_logprobs():
    for one_update in ([], ["algorithm.mini_batch_size=128"]):
        assert load_config("grpo", BF16 + one_update).algorithm.old_logprobs == "rollout"


def test_rollout_correction_options_without_a_recomputed_pi_old_are_refused():
    """Native with old_logprobs=rollout: pi_old is mu, the correction is off, so its options are never read."""
    with pytest.raises(ConfigError, match=r"algorithm\.rollout_correction\.level: not read"):
        load_config("grpo", ["algorithm.rollout_correction.level=token"])
    cfg = load_config("grpo", ["algorithm.old_logprobs=recompute", "algorithm.rollout_correction.level=token"])
    assert cfg.algorithm.rollout_correction.level == "token"
