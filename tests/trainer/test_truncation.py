"""Truncated responses (algorithm.truncation): config checks, what each treatment changes in a step, and
one end-to-end toy run per treatment."""

import math
from importlib import resources

import pytest
import torch
import yaml

from srpo.algo import ADVANTAGE_ESTIMATORS, soft_overlong_penalty
from srpo.config import load_config, preset_names
from srpo.core.configlib import ConfigError
from srpo.engines.native.trainer import Trainer
from srpo.tracking import read_jsonl
from test_trainer_smoke import DigitScorer, config, write_data

TREATMENTS = ["keep", "mask", "soft_penalty", "mask+soft_penalty"]


@pytest.mark.parametrize("overrides, field", [
    (["algorithm.truncation=drop"], "algorithm.truncation"),
    (["algorithm.truncation=soft_penalty"], "algorithm.overlong_window"),
    (["algorithm.truncation=soft_penalty", "algorithm.overlong_window=0"], "algorithm.overlong_window"),
    (["algorithm.truncation=mask+soft_penalty", "algorithm.overlong_window=65"], "algorithm.overlong_window"),
    (["algorithm.truncation=soft_penalty", "algorithm.overlong_window=8", "algorithm.overlong_penalty_factor=0"],
     "algorithm.overlong_penalty_factor"),
])
def test_bad_truncation_config_names_the_field(overrides, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_config("grpo", ["rollout.max_new_tokens=64", *overrides])


def test_window_bounds_are_inclusive_and_unused_window_is_not_checked():
    cfg = load_config("grpo", ["rollout.max_new_tokens=64", "algorithm.truncation=soft_penalty",
                               "algorithm.overlong_window=64"])
    assert cfg.algorithm.penalizes_overlong and not cfg.algorithm.masks_truncated
    # dapo's window (256) is larger than 64 tokens, but keep does not use it.
    assert load_config("dapo", ["rollout.max_new_tokens=64", "algorithm.truncation=keep"]).algorithm.truncation == "keep"


def test_every_preset_states_its_treatment():
    for name in preset_names():
        raw = yaml.safe_load((resources.files("srpo.config.presets") / f"{name}.yaml").read_text())
        assert "truncation" in raw.get("algorithm", {}), name
    assert load_config("demo").algorithm.truncation == "keep"
    assert load_config("grpo").algorithm.truncation == "keep"
    assert load_config("srpo").algorithm.truncation == "keep"
    dapo = load_config("dapo")
    assert (dapo.algorithm.truncation, dapo.algorithm.overlong_window, dapo.rollout.max_new_tokens) == \
        ("soft_penalty", 256, 1280)


def _collect(tmp_path, model_dir, name, *extra):
    cfg = config(tmp_path, model_dir, f"run.output_dir={tmp_path / name}", "rollout.max_new_tokens=48", *extra)
    trainer = Trainer(cfg, scorer=DigitScorer())
    trainer.stream.begin_step()
    exp, _ = trainer.collect()
    trainer.close()
    return exp, trainer.stream.mixture.state_dict()


def test_soft_penalty_shapes_rewards_and_advantages_never_corrects(tmp_path, tiny_model_dir):
    write_data(tmp_path)
    keep, keep_sampler = _collect(tmp_path, tiny_model_dir, "keep")
    soft, soft_sampler = _collect(tmp_path, tiny_model_dir, "soft", "algorithm.truncation=soft_penalty",
                                  "algorithm.overlong_window=48", "algorithm.overlong_penalty_factor=0.5")
    assert soft.texts == keep.texts and 0 < int(keep.truncated_b.sum()) < len(keep)
    assert torch.equal(soft.corrects_b, keep.corrects_b)
    assert soft_sampler == keep_sampler  # history resampling's record reads `correct` only
    penalty = soft_overlong_penalty(keep.response_lengths_b, max_len=48, window=48, factor=0.5)
    assert torch.equal(soft.length_penalty_b, penalty) and torch.equal(soft.rewards_b, keep.rewards_b + penalty)
    assert bool((soft.length_penalty_b[soft.truncated_b] == -0.5).all())
    grpo = ADVANTAGE_ESTIMATORS.get("grpo")
    assert not torch.allclose(grpo(soft.rewards_b, soft.group_ids_b), grpo(keep.rewards_b, keep.group_ids_b))
    assert bool(soft.in_loss_b.all())


@pytest.mark.parametrize("treatment", TREATMENTS)
def test_toy_run_with_each_treatment(tmp_path, treatment):
    """The embedded toy model with 8 new tokens: most responses are truncated."""
    cfg = load_config("grpo", [
        "model.path=toy", f"run.output_dir={tmp_path / 'run'}", "run.total_steps=2", "run.save_every=0",
        "run.eval_every=0", "run.progress=false", "rollout.prompts_per_step=2", "rollout.group_size=2",
        "rollout.max_new_tokens=8", 'data.train=["toy:math?n=6&levels=2&seed=1"]',
        f"algorithm.truncation={treatment}", "algorithm.overlong_window=4"])
    Trainer(cfg).train()
    rows = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2] and any(r["math/truncated_frac"] > 0 for r in rows)
    for row in rows:
        assert math.isfinite(row["train/loss"])
        truncated = round(row["math/truncated_frac"] * row["math/num_samples"])
        masked = row["math/masked_responses"]
        assert masked == (truncated if "mask" in treatment else 0)
        assert (row["math/masked_tokens"] == 8 * masked) and row["all/masked_responses"] == masked
        penalty = row["math/length_penalty_mean"]
        assert penalty <= -row["math/truncated_frac"] if "soft_penalty" in treatment else penalty == 0.0
