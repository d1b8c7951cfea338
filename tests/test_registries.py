"""Every choice made by name goes through one `Registry`: an unknown name is refused with the known names,
and every by-name config field is checked against its registry with the dotted field name."""

import pytest

from srpo.algo import ADVANTAGE_ESTIMATORS, KL_ESTIMATORS, LOSS_AGGREGATIONS, POLICY_LOSSES
from srpo.cli import main
from srpo.config import load_config
from srpo.core.configlib import ConfigError
from srpo.core.registry import Registry, UnknownNameError
from srpo.data.formats import FORMATS
from srpo.data.sources import DATA_SOURCES
from srpo.engines.native.rollout import ROLLOUT_ENGINES
from srpo.engines.native.trainer import Trainer
from srpo.rewards import REWARDS
from srpo.sampling import SAMPLERS
from srpo.tracking import LOGGING_BACKENDS

BUILT_IN = [
    (ADVANTAGE_ESTIMATORS, {"grpo", "dr_grpo", "rloo"}),
    (POLICY_LOSSES, {"ppo_clip"}),
    (LOSS_AGGREGATIONS, {"token_mean", "seq_mean_token_mean", "seq_mean_token_sum", "seq_mean_token_sum_norm"}),
    (KL_ESTIMATORS, {"k1", "k2", "k3"}),
    (SAMPLERS, {"uniform", "history_resampling", "dynamic_sampling", "difficulty_pool"}),
    (REWARDS, {"math_accuracy", "code_accuracy", "format", "language"}),
    (DATA_SOURCES, {"humaneval", "gym", "toy"}),
    (FORMATS, {"srpo", "trl", "verl", "gsm8k", "math", "humaneval", "mbpp", "apps", "livecodebench", "codecontests"}),
    (ROLLOUT_ENGINES, {"kv_cache", "hf", "vllm"}),
    (LOGGING_BACKENDS, {"tensorboard", "wandb"}),
]


def _known(registry: Registry) -> str:
    return ", ".join(registry.names())


@pytest.mark.parametrize("registry, built_in", BUILT_IN, ids=[r.kind for r, _ in BUILT_IN])
def test_unknown_name_lists_the_known_names(registry, built_in):
    assert isinstance(registry, Registry) and built_in <= set(registry.names())
    with pytest.raises(UnknownNameError) as err:
        registry.get("no_such_name")
    assert str(err.value) == f"unknown {registry.kind} 'no_such_name' (known: {_known(registry)})"


@pytest.mark.parametrize("field, value, registry", [
    ("algorithm.advantage", "x", ADVANTAGE_ESTIMATORS),
    ("algorithm.policy_loss", "x", POLICY_LOSSES),
    ("algorithm.loss_agg", "x", LOSS_AGGREGATIONS),
    ("algorithm.kl_estimator", "x", KL_ESTIMATORS),
    ("sampling.name", "x", SAMPLERS),
    ("logging.backends[1]", "[tensorboard, x]", LOGGING_BACKENDS),
    ("rewards.math[1].name", "[{name: math_accuracy}, {name: x}]", REWARDS),
])
def test_by_name_fields_are_checked_at_load(field, value, registry):
    key = field.split("[")[0]
    with pytest.raises(ConfigError) as err:
        load_config(None, ["data.train=[toy:math]", f"{key}={value}"])
    assert str(err.value) == f"{field}: unknown {registry.kind} 'x' (known: {_known(registry)})"


def test_the_native_engine_refuses_an_unknown_rollout_engine_before_writing(tmp_path):
    cfg = load_config("demo", ["rollout.engine=x", f"run.output_dir={tmp_path / 'run'}"])
    with pytest.raises(ConfigError, match=r"^rollout.engine: unknown rollout engine 'x' \(known: hf, kv_cache, vllm\)$"):
        Trainer(cfg)
    assert not (tmp_path / "run").exists()


def test_srpo_train_exits_2_on_an_unknown_rollout_engine(tmp_path, capsys):
    assert main(["train", "demo", "rollout.engine=x", f"run.output_dir={tmp_path / 'run'}"]) == 2
    assert capsys.readouterr().err.strip() == \
        "srpo: rollout.engine: unknown rollout engine 'x' (known: hf, kv_cache, vllm)"
    assert not (tmp_path / "run").exists()
