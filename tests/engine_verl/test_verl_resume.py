"""`srpo verl-recipe` records the run directory as every srpo engine does (config.yaml, data.json,
resumes.jsonl) and refuses a recipe that would resume a verl checkpoint under changed settings or data (no verl
needed: the recipe path imports none)."""

from __future__ import annotations

import json

import pytest
from srpo.config import load_config
from srpo.core.configlib import ConfigError
from srpo.engines.data import data_fingerprint, load_run_data
from srpo.engines.verl.recipe import resume_checkpoint, write_recipe

TRAIN = 'data.train=["toy:math?n=12&levels=1-2&seed=3", "toy:code?n=6&levels=1&seed=3"]'


@pytest.fixture
def model_dir(tmp_path):
    path = tmp_path / "Qwen2.5-7B"
    path.mkdir()
    return path


def config(model_dir, tmp_path, *extra):
    return load_config("srpo", [
        "engine=verl", "model.device=cuda", f"model.path={model_dir}", f"run.output_dir={tmp_path / 'run'}",
        "rollout.prompts_per_step=4", "rollout.group_size=4", "verl.n_gpus_per_node=2",
        "algorithm.micro_batch_size=2", TRAIN, 'data.heldout=["toy:math?n=4&levels=1&split=heldout"]', *extra])


def checkpoint(run, step):
    """What verl's trainer leaves after saving step `step`: the folder and the tracker naming it."""
    folder = run / "checkpoints" / f"global_step_{step}"
    (folder / "actor").mkdir(parents=True)
    (run / "checkpoints" / "latest_checkpointed_iteration.txt").write_text(str(step))
    return folder


def snapshot(run):
    return {p.relative_to(run): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_a_fresh_recipe_records_config_and_data_fingerprint(model_dir, tmp_path):
    cfg = config(model_dir, tmp_path)
    recipe = write_recipe(cfg)
    run = tmp_path / "run"
    assert recipe.resume is None and not (run / "resumes.jsonl").exists()
    assert load_config(str(run / "config.yaml")) == cfg
    assert json.loads((run / "data.json").read_text()) == data_fingerprint(*load_run_data(cfg))
    assert json.loads((run / "data.json").read_text())["train"]["problems"] == 18


def test_a_recipe_may_be_rewritten_freely_before_verl_saved_a_checkpoint(model_dir, tmp_path):
    write_recipe(config(model_dir, tmp_path))
    cfg = config(model_dir, tmp_path, "optim.lr=3e-6", 'data.train=["toy:math?n=8&levels=1"]')
    assert write_recipe(cfg).resume is None
    assert load_config(str(tmp_path / "run" / "config.yaml")) == cfg
    assert json.loads((tmp_path / "run" / "data.json").read_text())["train"]["problems"] == 8


@pytest.mark.parametrize("override, field", [
    ("optim.lr=3e-6", "optim.lr"),
    ("rollout.group_size=8", "rollout.group_size"),
    ("verl.trainer_mode=colocate_async", "verl.trainer_mode"),
    ('data.train=["toy:math?n=10&levels=1-2&seed=3", "toy:code?n=6&levels=1&seed=3"]', "data.train"),
])
def test_resuming_under_other_settings_is_refused_and_writes_nothing(model_dir, tmp_path, override, field):
    write_recipe(config(model_dir, tmp_path))
    run = tmp_path / "run"
    checkpoint(run, 3)
    before = snapshot(run)
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        write_recipe(config(model_dir, tmp_path, override))
    assert snapshot(run) == before


@pytest.mark.parametrize("split, field, words", [("train", "data.train", "training"),
                                                  ("heldout", "data.heldout", "held-out")])
def test_resuming_on_other_problems_under_the_same_file_name_is_refused(model_dir, tmp_path, split, field, words):
    """The config is unchanged (same file names), the problems in the files are not: the fingerprint catches it."""
    from srpo.core.problem import Problem
    from srpo.data.loaders import export_jsonl

    def problems(n, split):
        sign = 1 if split == "train" else -1  # sums to train on, differences held out: the pools never overlap
        return [Problem.create("math", f"Q: {a}{'+' if sign > 0 else '-'}{b}=?", str(a + sign * b), source="t")
                for a in range(n) for b in range(3)]

    export_jsonl(problems(4, "train"), tmp_path / "train.jsonl")
    export_jsonl(problems(2, "heldout"), tmp_path / "heldout.jsonl")
    files = [f"data.train=[{tmp_path / 'train.jsonl'}]", f"data.heldout=[{tmp_path / 'heldout.jsonl'}]"]
    write_recipe(config(model_dir, tmp_path, *files))
    run = tmp_path / "run"
    checkpoint(run, 3)
    export_jsonl(problems(5 if split == "train" else 3, split)[1:], tmp_path / f"{split}.jsonl")
    before = snapshot(run)
    with pytest.raises(ConfigError, match=rf"^{field}: {run} was started on other {words} problems"):
        write_recipe(config(model_dir, tmp_path, *files))
    assert snapshot(run) == before


def test_a_resumable_change_is_taken_and_recorded_with_verls_checkpoint(model_dir, tmp_path, capsys):
    write_recipe(config(model_dir, tmp_path))
    run = tmp_path / "run"
    checkpoint(run, 2)
    folder = checkpoint(run, 4)
    cfg = config(model_dir, tmp_path, "run.total_steps=300", "eval.samples=2", "verl.param_offload=true")
    recipe = write_recipe(cfg)
    assert (recipe.resume.checkpoint, recipe.resume.step) == (folder, 4)
    rows = [json.loads(line) for line in (run / "resumes.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and (rows[0]["checkpoint"], rows[0]["step"]) == (str(folder), 4)
    assert set(rows[0]["changes"]) == {"run.total_steps", "eval.samples", "verl.param_offload"}
    assert rows[0]["changes"]["run.total_steps"][1] == 300
    assert load_config(str(run / "config.yaml")) == cfg
    assert f"resuming from {folder} (step 4)" in capsys.readouterr().out


def test_which_checkpoint_run_resume_picks(model_dir, tmp_path):
    run = tmp_path / "run"
    assert resume_checkpoint(config(model_dir, tmp_path)) is None  # auto, nothing saved yet
    two = checkpoint(run, 2)
    checkpoint(run, 5)
    assert resume_checkpoint(config(model_dir, tmp_path)) == run / "checkpoints" / "global_step_5"
    assert resume_checkpoint(config(model_dir, tmp_path, f"run.resume={two}")) == two
    with pytest.raises(ConfigError, match="run.resume"):
        resume_checkpoint(config(model_dir, tmp_path, f"run.resume={run / 'checkpoints' / 'global_step_9'}"))
    with pytest.raises(ConfigError, match="run.resume=never refuses"):
        write_recipe(config(model_dir, tmp_path, "run.resume=never"))
    (run / "checkpoints" / "latest_checkpointed_iteration.txt").write_text("7")  # tracker names a gone folder
    assert resume_checkpoint(config(model_dir, tmp_path)) is None  # verl starts from scratch too


def test_an_explicit_checkpoint_resumes_from_its_step(model_dir, tmp_path):
    write_recipe(config(model_dir, tmp_path))
    two = checkpoint(tmp_path / "run", 2)
    checkpoint(tmp_path / "run", 6)
    recipe = write_recipe(config(model_dir, tmp_path, f"run.resume={two}"))
    assert (recipe.resume.checkpoint, recipe.resume.step) == (two, 2)
