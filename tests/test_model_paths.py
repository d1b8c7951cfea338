"""model.path and --model: a run directory, its checkpoints/ or its `latest` pointer resolve to the latest
checkpoint; a directory that is not a model is refused with one line; `~` and $VARS are expanded."""

import shutil

import pytest

from srpo.cli import main
from srpo.config import load_config
from srpo.core.configlib import ConfigError
from srpo.engines.checkpoint_layout import STATE_FILE
from srpo.engines.hf_model import resolve_model_path


@pytest.fixture
def run_dir(tmp_path, tiny_model_dir):
    """A run directory with two checkpoints; `latest` names the second."""
    run = tmp_path / "run"
    for name in ("step_000001", "step_000002"):
        shutil.copytree(tiny_model_dir, run / "checkpoints" / name)
        (run / "checkpoints" / name / STATE_FILE).write_bytes(b"")
    (run / "checkpoints" / "latest").write_text("step_000002")
    (run / "config.yaml").write_text("run:\n  name: r\n")
    return run


@pytest.mark.parametrize("given", ["", "checkpoints", "checkpoints/latest", "checkpoints/step_000002"])
def test_a_run_its_checkpoints_and_its_latest_pointer_name_the_latest_checkpoint(run_dir, given):
    assert resolve_model_path(str(run_dir / given)) == run_dir / "checkpoints" / "step_000002"


def test_a_directory_that_is_not_a_model_is_refused_with_one_line(tmp_path):
    (tmp_path / "notes").mkdir()
    with pytest.raises(ConfigError, match=r"^model.path: .*notes is not a Hugging Face model directory "
                                          r"\(no config.json\); give a directory written by save_pretrained"):
        resolve_model_path(str(tmp_path / "notes"))


def test_a_run_without_a_complete_checkpoint_says_so(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("{}\n")
    with pytest.raises(ConfigError, match="has no complete checkpoint yet"):
        resolve_model_path(str(tmp_path / "run"))


def test_a_directory_transformers_cannot_read_is_one_line(tmp_path, capsys):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    assert main(["eval", "--model", str(tmp_path / "broken"), "toy:math?n=2", "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"srpo: model.path: {tmp_path / 'broken'}: transformers cannot load it")


def test_path_fields_expand_home_and_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SRPO_TEST_DATA", str(tmp_path / "data"))
    (tmp_path / "model").mkdir()
    cfg = load_config("grpo", ["run.output_dir=~/runs/x", "model.path=~/model",
                               "data.train=[$SRPO_TEST_DATA/a.jsonl, toy:math]"])
    assert cfg.run.output_dir == str(tmp_path / "runs" / "x")
    assert cfg.model.path == str(tmp_path / "model")
    assert cfg.data.train == [str(tmp_path / "data" / "a.jsonl"), "toy:math"]
    assert load_config("grpo", ["run.name=~x"]).run.name == "~x"  # only fields that name paths
    sandbox = load_config("grpo", ["sandbox.python=~/py", "sandbox.extra_ro_binds=[$SRPO_TEST_DATA]"]).sandbox
    assert sandbox.python == str(tmp_path / "py") and sandbox.extra_ro_binds == [str(tmp_path / "data")]
