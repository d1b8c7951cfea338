"""One `eval` section drives training's held-out evaluation, `srpo eval` and `srpo label-difficulty`; `srpo eval`
on a run's checkpoint formats prompts as the run did. Real toy model, tiny sizes."""

import json

import pytest

from srpo.cli import main
from srpo.config import load_config
from srpo.data import load_problems
from srpo.engines.hf_model import load_model_and_tokenizer
from srpo.engines.native.rollout import KVCacheEngine
from srpo.engines.native.setup import make_evaluator
from srpo.engines.native.trainer import Trainer
from srpo.rewards import RewardScorer

TEMPLATE = "Problem: {prompt} Answer:"
HELDOUT = "toy:math?n=3&levels=2&split=heldout"
MIXED = [HELDOUT, "toy:code?n=3&levels=1&split=heldout"]  # 3 math then 3 code: batches of 2 straddle domains
EVAL_KEYS = ["eval.samples=3", "eval.ks=[1,3]", "eval.temperature=0.5", "eval.max_new_tokens=5",
             "eval.batch_size=2"]


def record_engine_calls(monkeypatch):
    """Every KV-cache engine call as (prompt ids, sampling params, response texts)."""
    calls = []
    original = KVCacheEngine.generate

    def generate(self, prompt_ids, params):
        batch = original(self, prompt_ids, params)
        calls.append(([list(ids) for ids in prompt_ids], params, batch.texts))
        return batch

    monkeypatch.setattr(KVCacheEngine, "generate", generate)
    return calls


def sampling_of(calls):
    """The distinct (n, temperature, top_p, max_new_tokens) and the largest prompt batch of the calls."""
    params = {(p.n, p.temperature, p.top_p, p.max_new_tokens) for _, p, _ in calls}
    return params, max(len(ids) for ids, _, _ in calls)


def settings(out_dir):
    return json.loads((out_dir / "eval.json").read_text())["settings"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A 2-step toy run with a custom prompt template and system prompt, and its engine calls: held-out
    evaluation at step 0, a rollout per step, held-out evaluation after step 2."""
    run_dir = tmp_path_factory.mktemp("run") / "run"
    cfg = load_config(None, [
        f"run.output_dir={run_dir}", "run.total_steps=2", "run.save_every=1", "run.progress=false",
        f"model.prompt_template='{TEMPLATE}'", "model.system_prompt='Be brief.'",
        "rollout.prompts_per_step=2", "rollout.group_size=2", "rollout.max_new_tokens=8",
        "curriculum.preset=math_only", 'data.train=["toy:math?n=8&levels=2&seed=3"]', f'data.heldout=["{HELDOUT}"]',
        "eval.samples=2"])
    with pytest.MonkeyPatch.context() as mp:
        calls = record_engine_calls(mp)
        Trainer(cfg).train()
    return run_dir, calls


def test_eval_on_a_checkpoint_formats_prompts_as_the_run_did(trained_run, tmp_path, monkeypatch, capsys):
    run_dir, train_calls = trained_run
    heldout_ids, rollout_ids = train_calls[0][0], train_calls[1][0]
    _, tokenizer = load_model_and_tokenizer(load_config().model)
    prompts = [p.prompt for p in load_problems(HELDOUT)]
    assert [tokenizer.decode(ids) for ids in heldout_ids] == [TEMPLATE.format(prompt=p) for p in prompts]
    assert all(tokenizer.decode(ids).startswith("Problem: ") for ids in rollout_ids)
    checkpoint = run_dir / "checkpoints" / "step_000001"
    calls = record_engine_calls(monkeypatch)
    assert main(["eval", "--model", str(checkpoint), "--out", str(tmp_path / "a"), "--no-progress"]) == 0
    assert calls[0][0] == heldout_ids  # data.heldout, prompt text and ids exactly as in training
    assert sampling_of(calls)[0] == {(2, 1.0, 1.0, 8)}  # the run's eval.samples, rollout sampling
    assert f"config: {run_dir / 'config.yaml'} (+0 overrides)" in capsys.readouterr().out
    recorded = settings(tmp_path / "a")
    assert recorded["model"] == str(checkpoint) and recorded["config"] == str(run_dir / "config.yaml")
    assert (recorded["prompt_template"], recorded["system_prompt"]) == (TEMPLATE, "Be brief.")
    assert (recorded["samples"], recorded["ks"], recorded["max_new_tokens"]) == (2, [1], 8)

    calls.clear()
    assert main(["eval", "--model", str(checkpoint), HELDOUT, "--out", str(tmp_path / "b"), "--no-progress",
                 "--set", "model.prompt_template=plain"]) == 0
    assert [tokenizer.decode(ids) for ids in calls[0][0]] == prompts
    assert settings(tmp_path / "b")["prompt_template"] == "plain"


def test_a_run_directory_means_its_latest_checkpoint_and_reproduces_its_evaluation(trained_run, tmp_path,
                                                                                   monkeypatch):
    run_dir, train_calls = trained_run
    calls = record_engine_calls(monkeypatch)
    seed = 2  # what the trainer's evaluation after step 2 used: run.seed * 100003 + step
    assert main(["eval", "--model", str(run_dir), "--out", str(tmp_path), "--no-progress",
                 "--set", f"eval.seed={seed}"]) == 0
    assert settings(tmp_path)["model"] == str(run_dir / "checkpoints" / "step_000002")
    assert calls[0][0] == train_calls[-1][0] and calls[0][2] == train_calls[-1][2]  # same prompts, same samples


def test_a_run_checkpoint_refuses_another_base_config(trained_run, tmp_path, capsys):
    assert main(["eval", "--model", str(trained_run[0]), "--config", "demo", "--out", str(tmp_path)]) == 2
    assert "--config:" in capsys.readouterr().err


@pytest.mark.parametrize("command, key", [("eval", "eval.n=32"), ("eval", "sampling.temperature=0.7"),
                                          ("label-difficulty", "k=4"), ("curate", "near_dup_threshold=0.9")])
def test_old_or_bad_keys_name_the_field(command, key, tmp_path, capsys):
    model = [] if command == "curate" else ["--model", "toy"]
    assert main([command, HELDOUT, *model, "--out", str(tmp_path), "--set", key]) == 2
    assert f"{key.partition('=')[0]}: unknown field (known: " in capsys.readouterr().err


def test_the_same_eval_keys_drive_training_eval_and_both_commands(tmp_path, monkeypatch):
    calls = record_engine_calls(monkeypatch)
    cfg = load_config(None, ["rollout.top_p=0.9", *EVAL_KEYS])
    model, tokenizer = load_model_and_tokenizer(cfg.model)
    with RewardScorer(cfg.rewards, cfg.sandbox) as scorer:
        problems = [p for spec in MIXED for p in load_problems(spec)]
        metrics = make_evaluator(cfg, model, tokenizer, scorer)(problems, seed=cfg.eval.seed)
    assert {"eval/all/pass@1", "eval/all/pass@3", "eval/all/avg@3"} <= set(metrics)
    assert sampling_of(calls) == ({(3, 0.5, 0.9, 5)}, 2)  # top_p unset in eval: the rollout's
    trainer_calls = list(calls)

    sets = [arg for key in ["rollout.top_p=0.9", *EVAL_KEYS] for arg in ("--set", key)]
    calls.clear()
    assert main(["eval", *MIXED, "--out", str(tmp_path / "eval"), "--no-progress", *sets]) == 0
    assert calls == trainer_calls  # same prompts, sampling, batches and samples
    result = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert set(result["overall"]["metrics"]) == {"pass@1", "pass@3", "avg@3"}

    calls.clear()
    assert main(["label-difficulty", *MIXED, "--out", str(tmp_path / "lab"), "--no-progress", *sets]) == 0
    assert calls == trainer_calls
    first = json.loads((tmp_path / "lab" / "labelled.jsonl").read_text().splitlines()[0])
    stats = first["metadata"]["difficulty_stats"]
    assert stats["k"] == 3 and {"pass@1", "pass@3"} <= set(stats)
