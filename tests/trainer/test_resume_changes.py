"""A resumed run takes the settings that may change (recorded in resumes.jsonl, config.yaml rewritten), refuses
the others with the diff, refuses other data, and leaves a run directory as it was when it cannot start."""

import dataclasses
import json

import pytest
import yaml

from srpo.config import TrainConfig
from srpo.config.resume import RESUMABLE, config_changes, is_resumable
from srpo.core.configlib import ConfigError, to_dict
from srpo.core.errors import UserError
from srpo.data import Problem
from srpo.data.loaders import export_jsonl
from srpo.engines.native.trainer import Trainer
from srpo.tracking import read_jsonl
from test_trainer_smoke import DigitScorer, config, write_data


@pytest.fixture
def run(tmp_path, tiny_model_dir):
    """A 2-step run with a checkpoint at step 2; returns (tmp_path, model_dir)."""
    write_data(tmp_path)
    Trainer(config(tmp_path, tiny_model_dir, "run.total_steps=2"), scorer=DigitScorer()).train()
    return tmp_path, tiny_model_dir


def _saved(tmp_path) -> dict:
    return yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())


def test_a_resume_takes_a_longer_run_records_it_and_says_where_it_resumed(run, capsys):
    tmp_path, model_dir = run
    capsys.readouterr()
    Trainer(config(tmp_path, model_dir, "run.total_steps=4", "eval.samples=1"), scorer=DigitScorer()).train()
    out = capsys.readouterr().out
    checkpoint = tmp_path / "run" / "checkpoints" / "step_000002"
    assert (f"resuming from {checkpoint} (step 2); taking changed settings: eval.samples 2 -> 1, "
            "run.total_steps 2 -> 4") in out
    assert _saved(tmp_path)["run"]["total_steps"] == 4 and _saved(tmp_path)["eval"]["samples"] == 1
    [record] = read_jsonl(tmp_path / "run" / "resumes.jsonl")
    assert record["step"] == 2 and record["checkpoint"] == str(checkpoint)
    assert record["changes"] == {"eval.samples": [2, 1], "run.total_steps": [2, 4]}
    assert [r["step"] for r in read_jsonl(tmp_path / "run" / "metrics.jsonl")] == [0, 1, 2, 3, 4]


def test_a_resume_refuses_a_setting_that_may_not_change_with_the_diff(run):
    tmp_path, model_dir = run
    before = (tmp_path / "run" / "config.yaml").read_text()
    cfg = config(tmp_path, model_dir, "run.total_steps=4", "optim.lr=0.02", "rollout.group_size=2")
    with pytest.raises(ConfigError) as info:
        Trainer(cfg, scorer=DigitScorer())
    message = str(info.value)
    assert message.startswith(f"run.output_dir: {tmp_path / 'run'} holds a run made with other settings")
    assert "optim.lr 0.01 -> 0.02; rollout.group_size 4 -> 2." in message and "total_steps" not in message
    assert "another run.output_dir" in message and "\n" not in message
    assert (tmp_path / "run" / "config.yaml").read_text() == before
    assert not (tmp_path / "run" / "resumes.jsonl").exists()


def test_a_resume_on_other_problems_under_the_same_name_is_refused(run):
    tmp_path, model_dir = run
    other = [Problem.create("math", f"Q: {a}-{b}=?", str(a - b), source="t") for a in range(6) for b in range(4)]
    export_jsonl(other, tmp_path / "train.jsonl")
    with pytest.raises(ConfigError, match=r"^data.train: .* was started on other training problems \(24 then, uid hash "
                                          r"\w+; 24 now, uid hash \w+\); .* start a new run"):
        Trainer(config(tmp_path, model_dir, "run.total_steps=4"), scorer=DigitScorer())


def test_a_failed_start_writes_nothing(tmp_path, tiny_model_dir):
    write_data(tmp_path)
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(UserError, match="holds no rows"):
        Trainer(config(tmp_path, tiny_model_dir, f"data.train=[{tmp_path / 'empty.jsonl'}]"), scorer=DigitScorer())
    assert not (tmp_path / "run").exists()


def test_a_fresh_start_drops_the_logs_of_an_attempt_that_saved_nothing(tmp_path, tiny_model_dir):
    write_data(tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.jsonl").write_text('{"step": 0, "x": 1}\n{"step": 1, "x": 2}\n{"step": 2, "x"')
    Trainer(config(tmp_path, tiny_model_dir, "run.total_steps=1"), scorer=DigitScorer()).train()
    rows = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert [r["step"] for r in rows] == [0, 1] and "x" not in rows[0]


def test_tensorboard_shows_each_step_once_after_a_resume(tmp_path, tiny_model_dir):
    pytest.importorskip("tensorboard", reason="tensorboard extra not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    write_data(tmp_path)
    extra = ("run.total_steps=4", "logging.backends=[tensorboard]")
    Trainer(config(tmp_path, tiny_model_dir, *extra), scorer=DigitScorer()).train()
    step_2 = tmp_path / "run" / "checkpoints" / "step_000002"
    Trainer(config(tmp_path, tiny_model_dir, *extra, f"run.resume={step_2}"), scorer=DigitScorer()).train()
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("all/reward_mean")] == [1, 2, 3, 4]


def test_every_resumable_name_is_a_config_section_or_field():
    keys = set(_dotted(to_dict(TrainConfig())))
    for name in RESUMABLE:
        assert name in keys or any(k.startswith(name + ".") for k in keys), name


def test_config_changes_compare_dotted_keys_and_fill_fields_the_saved_config_lacks():
    cfg = TrainConfig()
    saved = to_dict(cfg)
    del saved["eval"]["seed"]  # a field added after the run was made counts at its default
    saved["optim"]["lr"] = 0.5
    new = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, total_steps=7))
    changes = config_changes(saved, new)
    assert [str(c) for c in changes] == ["optim.lr 0.5 -> 1e-05", "run.total_steps 100 -> 7"]
    assert [is_resumable(c.key) for c in changes] == [False, True]


def _dotted(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        yield prefix + key
        if isinstance(value, dict):
            yield from _dotted(value, f"{prefix}{key}.")
