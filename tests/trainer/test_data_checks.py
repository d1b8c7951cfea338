"""What a run says about its data before step 1, and about rewards that never leave zero."""

import json

import pytest

from srpo.config import load_config
from srpo.data import DataError, Problem
from srpo.data.loaders import export_jsonl
from srpo.engines.native.trainer import ZERO_REWARD_STEPS, Trainer
from srpo.rewards import RewardResult


class ZeroScorer:
    def score(self, texts, problems):
        return [RewardResult(0.0, False, {}) for _ in texts]


class OnceScorer:
    """Zero everywhere except the very first response."""

    def __init__(self):
        self.calls = 0

    def score(self, texts, problems):
        self.calls += 1
        return [RewardResult(float(self.calls == 1 and i == 0), False, {}) for i in range(len(texts))]


def _config(tmp_path, model_dir, train, *extra):
    return load_config("grpo", [
        f"model.path={model_dir}", "model.prompt_template=plain", f"data.train={json.dumps(train)}",
        f"run.output_dir={tmp_path / 'run'}", "run.save_every=0", "run.progress=false", "rollout.group_size=2",
        "rollout.prompts_per_step=2", "rollout.max_new_tokens=4", *extra])


def test_unscorable_training_rows_stop_the_run_before_it_starts(tmp_path, tiny_model_dir):
    path = tmp_path / "trl.jsonl"
    path.write_text(json.dumps({"prompt": "What is 2 + 2?", "solution": "4"}) + "\n"
                    + json.dumps({"prompt": "What is 3 + 3?", "solution": ""}) + "\n")
    with pytest.raises(DataError, match=r"trl.jsonl:line 2: math problem without a gold answer \(no_answer\)"):
        Trainer(_config(tmp_path, tiny_model_dir, str(path)), scorer=ZeroScorer())


def test_table_before_step_one_and_loud_zero_reward_warning(tmp_path, tiny_model_dir, capsys):
    problems = [Problem.create("math", f"Q{i}: {i}+1=?", str(i + 1)) for i in range(4)]
    export_jsonl(problems, tmp_path / "train.jsonl")
    cfg = _config(tmp_path, tiny_model_dir, str(tmp_path / "train.jsonl"), f"run.total_steps={ZERO_REWARD_STEPS}")
    Trainer(cfg, scorer=ZeroScorer()).train()
    out, err = capsys.readouterr()
    assert f"file {tmp_path / 'train.jsonl'}: assumed format 'srpo'" in out
    header, row = out.splitlines()[1:3]
    assert header.split() == ["split", "source", "format", "rows", "domain", "kept", "dropped"]
    assert row.split() == ["train", str(tmp_path / "train.jsonl"), "srpo", "4", "math", "4", "-"]
    assert f"WARNING: every reward of the first {ZERO_REWARD_STEPS} steps was exactly 0" in err
    cfg = _config(tmp_path, tiny_model_dir, str(tmp_path / "train.jsonl"), f"run.total_steps={ZERO_REWARD_STEPS}",
                  f"run.output_dir={tmp_path / 'run2'}")
    Trainer(cfg, scorer=OnceScorer()).train()
    assert "WARNING" not in capsys.readouterr().err
