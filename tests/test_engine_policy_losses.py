"""How the trl and verl engines map (or refuse) gspo, cispo and sapo."""

import pytest

from srpo.config import load_config
from srpo.core.configlib import ConfigError
from srpo.engines.trl import setup as trl_setup
from srpo.engines.verl import setup as verl_setup


def _trl(*overrides):
    cfg = load_config("srpo", ["engine=trl", *overrides])
    return trl_setup.grpo_args(cfg, trl_setup.check_config(cfg))


@pytest.mark.parametrize("overrides,want", [
    ([], dict(loss_type="dapo", importance_sampling_level="token", epsilon=0.2, epsilon_high=0.28)),
    (["algorithm.policy_loss=gspo", "algorithm.loss_agg=seq_mean_token_mean"],
     dict(loss_type="grpo", importance_sampling_level="sequence", epsilon=3e-4, epsilon_high=4e-4)),
    (["algorithm.policy_loss=cispo"], dict(loss_type="cispo", importance_sampling_level="token", epsilon_high=5.0)),
    (["algorithm.policy_loss=sapo", "algorithm.loss_agg=seq_mean_token_mean", "algorithm.sapo_tau_neg=2"],
     dict(loss_type="sapo", sapo_temperature_pos=1.0, sapo_temperature_neg=2.0))])
def test_trl_maps_policy_losses(overrides, want):
    args = _trl(*overrides)
    assert {k: args[k] for k in want} == pytest.approx(want)


@pytest.mark.parametrize("overrides,message", [
    (["algorithm.policy_loss=cispo", "algorithm.loss_agg=seq_mean_token_mean"], "cispo aggregates as token_mean"),
    (["algorithm.policy_loss=sapo"], "sapo aggregates as seq_mean_token_mean")])
def test_trl_refuses_aggregations_its_losses_do_not_use(overrides, message):
    with pytest.raises(ConfigError, match=f"algorithm.loss_agg: GRPOTrainer's {message}"):
        _trl(*overrides)


def _verl(tmp_path, *overrides):
    return load_config("srpo", ["engine=verl", "model.device=cuda", f"model.path={tmp_path}",
                                "verl.n_gpus_per_node=1", *overrides])


def test_verl_maps_gspo(tmp_path):
    cfg = _verl(tmp_path, "algorithm.policy_loss=gspo", "algorithm.loss_agg=seq_mean_token_mean")
    verl_setup.check_config(cfg)
    pairs = dict(verl_setup._clip_pairs("a.", cfg.algorithm))
    assert pairs == {"a.clip_ratio_low": 3e-4, "a.clip_ratio_high": 4e-4}


def _verl_settings(cfg, tmp_path) -> dict:
    verl_setup.check_config(cfg)
    overrides = verl_setup.verl_overrides(cfg, verl_setup.Layout.under(tmp_path))
    return dict(o.lstrip("+").split("=", 1) for o in overrides)


@pytest.mark.parametrize("overrides,want", [
    (["algorithm.policy_loss=cispo"], {"loss_mode": "cispo", "clip_ratio_low": "1.0", "clip_ratio_high": "4.0"}),
    (["algorithm.policy_loss=cispo", "algorithm.cispo_clip_high=2"], {"clip_ratio_high": "2.0"}),
    (["algorithm.policy_loss=sapo", "algorithm.loss_agg=seq_mean_token_mean", "algorithm.sapo_tau_neg=2"],
     {"loss_mode": "sapo", "tau_pos": "1.0", "tau_neg": "2.0"})])
def test_verl_maps_cispo_and_sapo(tmp_path, overrides, want):
    got = _verl_settings(_verl(tmp_path, *overrides), tmp_path)
    a = "actor_rollout_ref.actor."
    assert {k: got[a + ("policy_loss." if k == "loss_mode" else "") + k] for k in want} == want


def test_verl_refuses_sapo_with_another_aggregation(tmp_path):
    with pytest.raises(ConfigError, match="algorithm.loss_agg: verl's sapo always aggregates"):
        verl_setup.check_config(_verl(tmp_path, "algorithm.policy_loss=sapo"))
