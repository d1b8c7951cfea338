"""The one checkpoint layout (`srpo.engines.checkpoint_layout`): every engine's run directory and checkpoints
resolve the same way for model paths, `srpo eval`, `srpo export`, `srpo report` and resume."""

import json
import os
import shutil

import pytest

from srpo.cli import main
from srpo.config import load_config, save_config
from srpo.core.configlib import ConfigError
from srpo.engines import checkpoint_layout as layout
from srpo.engines.hf_model import resolve_model_path
from srpo.engines.native import checkpoint as ckpt

MAX_NEW = 23  # the runs' rollout.max_new_tokens, not the default


def write_config(run, engine):
    cfg = load_config(None, [f"run.output_dir={run}", f"rollout.max_new_tokens={MAX_NEW}",
                             'data.heldout=["toy:math?n=2&levels=1-1&split=heldout"]', "eval.samples=1"])
    save_config(cfg, run / "config.yaml")
    text = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(text.replace("engine: native", f"engine: {engine}"))


def native_run(run, model_dir, steps=(1, 2)):
    for step in steps:
        shutil.copytree(model_dir, run / "checkpoints" / f"step_{step:06d}")
        (run / "checkpoints" / f"step_{step:06d}" / layout.STATE_FILE).write_bytes(b"")
    (run / "checkpoints" / "latest").write_text(f"step_{steps[-1]:06d}")  # the text form of runs written before
    write_config(run, "native")
    return run / "checkpoints" / f"step_{steps[-1]:06d}"


def trl_run(run, model_dir):
    for n in (2, 4, 6):
        shutil.copytree(model_dir, run / f"checkpoint-{n}")
    for n in (2, 4):  # checkpoint-6 has no srpo state: incomplete
        (run / f"checkpoint-{n}" / layout.TRL_STATE_FILE).write_text(json.dumps({"step": n // 2}))
    write_config(run, "trl")
    return run / "checkpoint-4"


def verl_run(run, model_dir, hf_weights=True):
    for step in (3, 5):
        actor = run / "checkpoints" / f"global_step_{step}" / "actor"
        actor.mkdir(parents=True)
        (actor / "model_world_size_1_rank_0.pt").write_bytes(b"")
        shutil.copytree(model_dir, actor / "huggingface")
        if not hf_weights:
            (actor / "huggingface" / "model.safetensors").unlink()
    (run / "checkpoints" / "latest_checkpointed_iteration.txt").write_text("5")
    write_config(run, "verl")
    return run / "checkpoints" / "global_step_5" / "actor" / "huggingface"


RUNS = {"native": native_run, "trl": trl_run, "verl": verl_run}


@pytest.mark.parametrize("engine", RUNS)
def test_a_run_directory_of_any_engine_names_its_latest_complete_checkpoint(engine, tmp_path, tiny_model_dir):
    run = tmp_path / "run"
    model = RUNS[engine](run, tiny_model_dir)
    assert resolve_model_path(str(run)) == model
    found = layout.checkpoint_named_by(run)
    assert (found.engine, found.run_dir) == (engine, run)
    assert layout.model_dir(found) == model
    assert layout.run_dir_of(found.path) == layout.run_dir_of(model) == run
    assert layout.run_config(model) == run / "config.yaml"


def test_a_trl_checkpoint_n_is_its_own_model_and_an_incomplete_one_is_refused(tmp_path, tiny_model_dir):
    run = tmp_path / "run"
    trl_run(run, tiny_model_dir)
    assert resolve_model_path(str(run / "checkpoint-2")) == run / "checkpoint-2"
    assert layout.latest_checkpoint(run, "trl") == run / "checkpoint-4"
    assert layout.latest_checkpoint(run, "native") is None
    with pytest.raises(ConfigError, match=r"checkpoint-6 is an incomplete trl checkpoint \(no srpo_state.json"):
        resolve_model_path(str(run / "checkpoint-6"))


def test_a_verl_checkpoint_without_huggingface_weights_is_refused_with_the_way_out(tmp_path, tiny_model_dir):
    run = tmp_path / "run"
    verl_run(run, tiny_model_dir, hf_weights=False)
    step = run / "checkpoints" / "global_step_5"
    for given in (run, step, step / "actor" / "huggingface"):
        with pytest.raises(ConfigError, match=rf"{step}: this verl checkpoint holds FSDP shards only .*"
                                              r"verl\.model_merger merge --backend fsdp --local_dir "):
            resolve_model_path(str(given))


def test_a_run_without_a_complete_checkpoint_names_the_layouts(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("{}\n")
    with pytest.raises(ConfigError, match=r"run .*run has no complete checkpoint yet \(looked for "
                                          r"checkpoints/step_N, checkpoint-N, checkpoints/global_step_N\)"):
        resolve_model_path(str(tmp_path / "run"))


def test_latest_is_a_relative_symlink_that_transformers_loads(tmp_path, tiny_policy):
    from transformers import AutoModelForCausalLM

    model, tokenizer = tiny_policy
    for step in (1, 2):
        ckpt.save_checkpoint(tmp_path, step, model, tokenizer, {"step": step}, keep=2)
    latest = tmp_path / "checkpoints" / "latest"
    assert latest.is_symlink() and os.readlink(latest) == "step_000002"
    assert layout.latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step_000002"
    loaded = AutoModelForCausalLM.from_pretrained(latest, local_files_only=True)
    assert loaded.lm_head.weight.equal(model.lm_head.weight)
    assert resolve_model_path(str(latest)) == tmp_path / "checkpoints" / "step_000002"
    assert sorted(p.name for p in latest.parent.iterdir()) == ["latest", "step_000001", "step_000002"]


def test_a_native_run_from_before_the_symlink_still_resolves_and_gets_one(tmp_path, tiny_policy, tiny_model_dir):
    native_run(tmp_path, tiny_model_dir, steps=(1,))
    assert layout.latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step_000001"
    model, tokenizer = tiny_policy
    ckpt.save_checkpoint(tmp_path, 2, model, tokenizer, {"step": 2}, keep=2)  # a resumed run rewrites it
    assert os.readlink(tmp_path / "checkpoints" / "latest") == "step_000002"


@pytest.mark.parametrize("engine", RUNS)
@pytest.mark.parametrize("by", ["run", "checkpoint"])
def test_eval_takes_the_runs_settings_by_run_or_checkpoint(engine, by, tmp_path, tiny_model_dir, monkeypatch, capsys):
    import srpo.engines.native.generation as generation

    run = tmp_path / "run"
    model = RUNS[engine](run, tiny_model_dir)
    seen = {}

    def fake_make_generate_fn(cfg):
        seen["cfg"] = cfg
        return lambda problems, n: [["x"] * n for _ in problems]

    monkeypatch.setattr(generation, "make_generate_fn", fake_make_generate_fn)
    given = run if by == "run" else model
    assert main(["eval", "--model", str(given), "--out", str(tmp_path / "e"), "--no-progress"]) == 0
    assert f"config: {run / 'config.yaml'} (+0 overrides)" in capsys.readouterr().out
    assert seen["cfg"].resolved_eval().max_new_tokens == MAX_NEW and seen["cfg"].model.path == str(model)


@pytest.mark.parametrize("engine", RUNS)
def test_export_opens_a_run_directory_of_any_engine(engine, tmp_path, tiny_model_dir):
    run = tmp_path / "run"
    RUNS[engine](run, tiny_model_dir)
    assert main(["export", str(run), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "config.json").is_file()
    assert not any((tmp_path / "out" / name).exists() for name in (layout.STATE_FILE, layout.TRL_STATE_FILE))


@pytest.mark.parametrize("engine", RUNS)
def test_report_opens_a_run_by_one_of_its_checkpoints(engine, tmp_path, tiny_model_dir, capsys):
    run = tmp_path / "run"
    model = RUNS[engine](run, tiny_model_dir)
    (run / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "all/reward_mean": s / 4}) + "\n"
                                               for s in (1, 2)))
    assert main(["report", str(model), "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "report.html").is_file()


def test_resume_finds_only_its_own_engines_checkpoints(tmp_path, tiny_model_dir):
    pytest.importorskip("trl")
    from srpo.engines.trl.trainer import resume_checkpoint

    run = tmp_path / "run"
    trl_run(run, tiny_model_dir)
    cfg = load_config(None, ["engine=trl", f"run.output_dir={run}"])
    assert resume_checkpoint(cfg) == str(run / "checkpoint-4")
    with pytest.raises(ConfigError, match=r"checkpoint-6 is not a complete trl-engine checkpoint"):
        resume_checkpoint(load_config(None, ["engine=trl", f"run.output_dir={run}",
                                             f"run.resume={run / 'checkpoint-6'}"]))
