"""The srpo config -> verl overrides mapping, its refusals, the data export and `srpo verl-recipe` (no verl needed)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest
from srpo.config import load_config
from srpo.core.configlib import ConfigError
from srpo.engines.verl.setup import (
    DUAL_CLIP_OFF,
    Layout,
    batch_plan,
    check_config,
    launch_command,
    lookahead,
    verl_overrides,
)


@pytest.fixture
def model_dir(tmp_path):
    path = tmp_path / "Qwen2.5-32B"
    path.mkdir()
    return path


def cfg_of(model_dir, *extra, preset="srpo-32b"):
    return load_config(preset, [f"model.path={model_dir}", *extra])


def as_dict(overrides):
    return dict(o.split("=", 1) for o in overrides)


def test_the_32b_preset_maps_to_the_papers_settings(model_dir):
    cfg = cfg_of(model_dir)
    plan = check_config(cfg)
    o = as_dict(verl_overrides(cfg, Layout.under("/data/run")))
    a = "actor_rollout_ref.actor."
    assert (o[a + "optim.lr"], o[a + "optim.betas"], o[a + "optim.lr_scheduler_type"]) == ("1e-06", "[0.9,0.95]",
                                                                                          "constant")
    assert (o[a + "loss_agg_mode"], o[a + "clip_ratio_low"], o[a + "clip_ratio_high"]) == ("token-mean", "0.2", "0.28")
    assert (o[a + "use_kl_loss"], o[a + "entropy_coeff"], o["algorithm.use_kl_in_reward"]) == ("false", "0.0", "false")
    assert (o["algorithm.adv_estimator"], o["algorithm.norm_adv_by_std_in_grpo"]) == ("grpo", "true")
    assert (o["data.train_batch_size"], o["actor_rollout_ref.rollout.n"]) == ("256", "32")
    # 1024 responses per optimizer step = 32 prompts (verl counts prompts), 8 updates per step, 16 dp ranks
    assert o[a + "ppo_mini_batch_size"] == "32" and (plan.updates_per_step, plan.ranks) == (8, 16)
    assert (o[a + "use_dynamic_bsz"], o[a + "ppo_max_token_len_per_gpu"]) == ("true", "24576")
    assert o[a + "clip_ratio_c"] == str(DUAL_CLIP_OFF)  # srpo has no dual clip; verl's bound made unreachable
    assert (o["trainer.nnodes"], o["trainer.n_gpus_per_node"], o["trainer.v1.trainer_mode"]) == ("8", "8", "srpo_sync")
    assert o["data.custom_cls.path"] == "pkg://srpo.engines.verl.dataset"
    assert o["reward.custom_reward_function.path"] == "pkg://srpo.engines.verl.reward"
    assert o["+reward.custom_reward_function.reward_kwargs.srpo_config"] == "/data/run/srpo.yaml"
    assert o["+ray_kwargs.ray_init.runtime_env.worker_process_setup_hook"] == "srpo.engines.verl.hook.register"
    assert (o["data.shuffle"], o["data.dataloader_num_workers"], o["trainer.total_epochs"]) == ("false", "0", "1")
    assert o["actor_rollout_ref.rollout.val_kwargs.n"] == "32" and o["reward.reward_manager.name"] == "naive"
    assert lookahead(cfg) == 0


def test_one_node_and_async_variants(model_dir):
    cfg = cfg_of(model_dir, "verl.nnodes=1", "verl.param_offload=true", "verl.optimizer_offload=true",
                 "verl.trainer_mode=colocate_async", "verl.num_warmup_batches=2")
    o = as_dict(verl_overrides(cfg, Layout.under("/d")))
    assert o["trainer.v1.trainer_mode"] == "srpo_colocate_async"
    assert o["trainer.v1.colocate_async.num_warmup_batches"] == "2"
    assert o["actor_rollout_ref.actor.fsdp_config.param_offload"] == "true"
    assert batch_plan(cfg).ranks == 2 and lookahead(cfg) == 3


def test_other_objectives_map(model_dir):
    o = as_dict(verl_overrides(cfg_of(model_dir, "algorithm.advantage=dr_grpo", "algorithm.dual_clip=3.0",
                                      "algorithm.loss_agg=seq_mean_token_sum_norm", "algorithm.kl_coef=0.01",
                                      "algorithm.kl_estimator=k3", "verl.max_tokens_per_gpu=null",
                                      "algorithm.micro_batch_size=4"), Layout.under("/d")))
    a = "actor_rollout_ref.actor."
    assert (o["algorithm.adv_estimator"], o["algorithm.norm_adv_by_std_in_grpo"]) == ("grpo", "false")
    assert (o[a + "clip_ratio_c"], o[a + "loss_agg_mode"], o[a + "loss_scale_factor"]) == (
        "3.0", "seq-mean-token-sum-norm", "16384")
    assert (o[a + "use_kl_loss"], o[a + "kl_loss_coef"], o[a + "kl_loss_type"]) == ("true", "0.01", "low_var_kl")
    assert (o[a + "use_dynamic_bsz"], o[a + "ppo_micro_batch_size_per_gpu"]) == ("false", "4")
    assert o["actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu"] == "4"
    rloo = as_dict(verl_overrides(cfg_of(model_dir, "algorithm.advantage=rloo"), Layout.under("/d")))
    assert rloo["algorithm.adv_estimator"] == "rloo"


def test_soft_overlong_penalty_goes_to_verls_dapo_reward_manager(model_dir):
    cfg = cfg_of(model_dir, "algorithm.truncation=soft_penalty", "algorithm.overlong_window=4096")
    o = as_dict(verl_overrides(cfg, Layout.under("/d")))
    assert o["reward.reward_manager.name"] == "dapo"
    assert (o["+reward.reward_kwargs.max_resp_len"], o["+reward.reward_kwargs.overlong_buffer_cfg.len"],
            o["+reward.reward_kwargs.overlong_buffer_cfg.penalty_factor"]) == ("16384", "4096", "1.0")


def test_run_settings_map(model_dir, tmp_path):
    cfg = cfg_of(model_dir, "run.eval_every=0", "run.total_steps=40", "run.save_every=10", "run.resume=never",
                 f"run.output_dir={tmp_path / 'run'}", "logging.backends=[tensorboard]", "optim.warmup_steps=16")
    o = as_dict(verl_overrides(cfg, Layout.under("/d")))
    assert (o["trainer.total_training_steps"], o["trainer.save_freq"], o["trainer.test_freq"]) == ("40", "10", "40")
    assert o["trainer.resume_mode"] == "disable" and o["trainer.logger"] == "[console,tensorboard]"
    assert o["trainer.default_local_dir"] == str(tmp_path / "run" / "checkpoints")
    assert o["actor_rollout_ref.actor.optim.lr_warmup_steps"] == "2"  # 16 optimizer steps = 2 verl steps of 8
    no_heldout = as_dict(verl_overrides(cfg, Layout.under("/d", has_heldout=False)))
    assert (no_heldout["trainer.test_freq"], no_heldout["trainer.val_before_train"]) == ("-1", "false")
    resume = as_dict(verl_overrides(cfg_of(model_dir, "run.resume=/ckpt/global_step_20"), Layout.under("/d")))
    assert (resume["trainer.resume_mode"], resume["trainer.resume_from_path"]) == ("resume_path",
                                                                                   "/ckpt/global_step_20")


@pytest.mark.parametrize("override, field", [
    ("sampling.name=dynamic_sampling", "sampling.name"),
    ("algorithm.std_unbiased=false", "algorithm.std_unbiased"),
    ("algorithm.adv_eps=1e-4", "algorithm.adv_eps"),
    ("algorithm.log_ratio_clamp=10", "algorithm.log_ratio_clamp"),
    ("algorithm.truncation=mask", "algorithm.truncation"),
    ("model.device=cpu", "model.device"),
    ("model.prompt_template=plain", "model.prompt_template"),
    ("run.max_rollouts=1000", "run.max_rollouts"),
    ("run.stop_at_step=5", "run.stop_at_step"),
    ("algorithm.mini_batch_size=1000", "algorithm.mini_batch_size"),  # not a multiple of 32 responses
    ("algorithm.mini_batch_size=1056", "algorithm.mini_batch_size"),  # 33 prompts: not over 16 ranks
    ("optim.warmup_steps=5", "optim.warmup_steps"),  # 8 optimizer steps per verl step
    ("optim.eps=1e-6", "optim.eps"),
    ("verl.sequence_parallel=3", "verl.sequence_parallel"),
    ("verl.overrides=[actor_rollout_ref.actor.optim.lr=1e-5]", "verl.overrides[0]"),
    ("verl.overrides=[+data.srpo_config=/x.yaml]", "verl.overrides[0]"),
    ("run.resume=/somewhere/else", "run.resume"),
])
def test_refusals_name_the_field(model_dir, override, field):
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        check_config(cfg_of(model_dir, override))


def test_refuses_the_toy_model_and_other_engines(model_dir):
    with pytest.raises(ConfigError, match="model.path"):
        check_config(load_config("srpo", ["engine=verl", "model.device=cuda"]))
    with pytest.raises(ConfigError, match="engine"):
        check_config(cfg_of(model_dir, "engine=native"))


def test_extra_overrides_pass_through_last(model_dir):
    extra = "actor_rollout_ref.rollout.max_num_batched_tokens=32768"
    overrides = verl_overrides(cfg_of(model_dir, f"verl.overrides=[{extra}]"), Layout.under("/d"))
    assert overrides[-1] == extra


def test_values_are_quoted_for_hydra_and_the_shell(model_dir, tmp_path):
    odd = tmp_path / "my models" / "Qwen 32B"
    odd.mkdir(parents=True)
    cfg = cfg_of(odd, "run.name=srpo run 1")
    overrides = verl_overrides(cfg, Layout.under(tmp_path / "data dir"))
    o = as_dict(overrides)
    assert o["actor_rollout_ref.model.path"] == f"'{odd}'" and o["trainer.experiment_name"] == "'srpo run 1'"
    command = launch_command(overrides)
    words = shlex.split(command.replace("\\\n", " "))
    assert words[:3] == ["python3", "-m", "verl.trainer.main_ppo"] and words[3:] == overrides


def test_verl_section_validates():
    with pytest.raises(ConfigError, match="verl.overrides"):
        load_config("srpo-32b", ["verl.overrides=[novalue]"])
    with pytest.raises(ConfigError, match="verl.rollout_tp"):
        load_config("srpo-32b", ["verl.rollout_tp=0"])


def toy_config(model_dir, tmp_path, *extra):
    return load_config("srpo", [
        "engine=verl", "model.device=cuda", f"model.path={model_dir}", f"run.output_dir={tmp_path / 'run'}",
        "rollout.prompts_per_step=4", "rollout.group_size=4", "verl.n_gpus_per_node=2", "algorithm.micro_batch_size=2",
        'data.train=["toy:math?n=12&levels=1-2&seed=3", "toy:code?n=6&levels=1&seed=3"]',
        'data.heldout=["toy:math?n=4&levels=1&split=heldout"]', "model.system_prompt=Think, then answer.", *extra])


def test_write_recipe_exports_data_config_and_command(model_dir, tmp_path):
    import pyarrow.parquet as pq

    from srpo.engines.verl.recipe import write_recipe

    cfg = toy_config(model_dir, tmp_path)
    recipe = write_recipe(cfg)
    folder = tmp_path / "run" / "verl"
    assert recipe.folder == folder and (recipe.train_rows, recipe.heldout_rows) == (18, 4)
    rows = pq.read_table(folder / "train.parquet").to_pylist()
    assert {r["extra_info"]["domain"] for r in rows} == {"math", "code"}
    assert all(r["prompt"][0] == {"role": "system", "content": "Think, then answer."} for r in rows)
    code = next(r for r in rows if r["ability"] == "code")
    assert json.loads(code["reward_model"]["ground_truth"])["kind"] == "function"
    assert load_config(str(folder / "srpo.yaml")) == cfg
    lines = (folder / "overrides.txt").read_text().split()
    assert lines == recipe.overrides and f"data.train_files={folder / 'train.parquet'}" in lines
    assert (folder / "run.sh").read_text().count("verl.trainer.main_ppo") == 1
    assert any("lookahead: 0" in n for n in recipe.notes)


def test_recipe_without_heldout_never_validates(model_dir, tmp_path):
    from srpo.engines.verl.recipe import write_recipe

    recipe = write_recipe(toy_config(model_dir, tmp_path, "data.heldout=[]"))
    o = as_dict(recipe.overrides)
    assert recipe.heldout_rows == 0 and o["trainer.test_freq"] == "-1"


def test_cli_writes_the_recipe_and_train_points_to_it(model_dir, tmp_path):
    from srpo.cli import main

    out = tmp_path / "run"
    args = ["verl-recipe", "srpo", "model.device=cuda", f"model.path={model_dir}", f"run.output_dir={out}",
            "rollout.prompts_per_step=4", "verl.n_gpus_per_node=2", "algorithm.micro_batch_size=2",
            'data.train=["toy:math?n=8&levels=1"]']
    assert main(args) == 0 and (out / "verl" / "run.sh").is_file()
    assert main(["verl-recipe", "srpo", "model.device=cpu", f"model.path={model_dir}"]) == 2  # refused, exit 2
    assert main(["train", "srpo", "engine=verl"]) == 2


def test_recipe_path_imports_no_verl():
    code = ("import sys; import srpo.cli.verl, srpo.engines.verl.recipe, srpo.engines.verl.reward, "
            "srpo.engines.verl.stream; from srpo.cli import build_parser; build_parser(); "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('verl', 'ray', 'transfer_queue')); "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
