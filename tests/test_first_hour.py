"""What a new user meets in the first hour (issue 21): the device a preset trains on, install hints that can
work, ``python -m srpo``, discoverable options, config errors that name their file, the demo's summary."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
import yaml

from srpo.cli import main
from srpo.config import load_config, preset_names
from srpo.core.configlib import ConfigError
from srpo.core.extras import extra_requirements, install_hint
from srpo.engines.hf_model import resolve_device
from srpo.report.headline import format_summary, summarize_run
from srpo.report.summary import TAIL

SRC = Path(__file__).resolve().parents[1] / "src" / "srpo"


# ------------------------------------------------------------------------------------------- the device
@pytest.mark.parametrize("preset", sorted(set(preset_names()) - {"srpo-32b"}))
def test_every_preset_uses_the_gpu_when_there_is_one(preset):
    assert load_config(preset).model.device == "auto"


def test_auto_picks_cuda_when_available_and_an_explicit_cpu_warns(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"
    with pytest.warns(UserWarning, match="model.device=cpu.*CUDA is available"):
        assert resolve_device("cpu").type == "cpu"


def test_no_warning_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_device("auto").type == "cpu" and resolve_device("cpu").type == "cpu"


def test_trl_runs_on_the_cpu_when_auto_finds_no_gpu(monkeypatch):
    pytest.importorskip("trl")
    from srpo.engines.trl.setup import check_config, grpo_args

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = load_config("srpo", ["engine=trl"])
    assert grpo_args(cfg, check_config(cfg))["use_cpu"] is True


# ------------------------------------------------------------------------------------------- installing
def test_install_hints_name_requirements_that_install():
    assert extra_requirements("trl") == ["trl>=1.16"]
    assert install_hint("trl") == "pip install 'trl>=1.16' (srpo's trl extra)"
    assert install_hint("no-such-extra").startswith("pip install -e '.[no-such-extra]'")


def test_no_message_offers_an_install_from_a_package_index():
    """srpo is not on a package index: ``pip install 'srpo[x]'`` cannot work anywhere."""
    offenders = [f"{p.relative_to(SRC)}:{n}" for p in SRC.rglob("*.py") if p.name != "extras.py"
                 for n, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"pip install '?srpo\[", line)]
    assert offenders == []


def test_python_dash_m_srpo_runs_the_cli():
    env = {**os.environ, "PYTHONPATH": str(SRC.parent)}
    out = subprocess.run([sys.executable, "-m", "srpo", "presets"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "srpo" in out.stdout.split()


# ------------------------------------------------------------------------------------------- options
def test_srpo_config_shows_whole_docs_with_their_choices(capsys):
    assert main(["config", "srpo"]) == 0
    out = capsys.readouterr().out
    assert "``math_only``" in out and "``custom``" in out  # curriculum.preset's choices
    assert "``never`` refuses" in out  # run.resume's choices
    assert "``vllm``" in out  # rollout.engine's choices
    assert "…" not in out
    comments = [line for line in out.splitlines() if "# " in line]
    assert all(len(line) <= 112 for line in comments), max(comments, key=len)  # long values: doc above them


def test_srpo_config_brief_keeps_one_line_each(capsys):
    assert main(["config", "srpo", "--brief"]) == 0
    out = capsys.readouterr().out
    assert "  preset: staged" in out and "``math_only``" not in out


def test_srpo_config_refuses_what_training_would(capsys):
    assert main(["config", "srpo", "rollout.engine=foo"]) == 2
    assert "rollout.engine: unknown rollout engine 'foo'" in capsys.readouterr().err
    assert main(["config", "srpo", "engine=trl", "sampling.name=dynamic_sampling"]) == 2


def test_train_help_says_where_the_knobs_are(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "srpo config PRESET" in out
    for section in ("run", "model", "rollout", "algorithm", "sampling", "curriculum", "rewards", "sandbox"):
        assert re.search(rf"^  {section} +\S", out, flags=re.M), section


# ------------------------------------------------------------------------------------------- config errors
def test_an_error_in_a_yaml_file_names_the_file(tmp_path):
    path = tmp_path / "my_run.yaml"
    path.write_text(yaml.safe_dump({"base": "srpo", "algorithm": {"clip_high": 0.1}, "rollout": {"group_size": 4}}))
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: algorithm.clip_high: must be >= clip_low"):
        load_config(str(path))
    typo = tmp_path / "typo.yaml"
    typo.write_text(yaml.safe_dump({"base": str(path), "rollout": {"group_sise": 4}}))
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(typo))}: rollout.group_sise: unknown field"):
        load_config(str(typo), ["algorithm.clip_high=0.3"])


def test_an_error_in_an_override_names_no_file(tmp_path):
    path = tmp_path / "my_run.yaml"
    path.write_text(yaml.safe_dump({"base": "srpo"}))
    with pytest.raises(ConfigError, match=r"^algorithm.clip_high: must be >= clip_low \(0.2\), got 0.1"):
        load_config(str(path), ["algorithm.clip_high=0.1"])


def test_an_error_in_a_file_overridden_on_the_command_line_is_the_override(tmp_path):
    path = tmp_path / "my_run.yaml"
    path.write_text(yaml.safe_dump({"base": "srpo", "algorithm": {"clip_high": 0.1}}))
    assert load_config(str(path), ["algorithm.clip_high=0.3"]).algorithm.clip_high == 0.3


# ------------------------------------------------------------------------------------------- the summary
def test_the_demo_summary_uses_the_reports_window_and_counts_as_integers(tmp_path):
    rows = [{"step": s, "all/reward_mean": float(s), "math/reward_mean": float(s), "timing/step_s": 1.0,
             "sampler/rollouts_total": 64.0 * s} for s in range(1, 41)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = summarize_run(tmp_path)
    assert summary["all/reward_end"] == sum(range(41 - TAIL, 41)) / TAIL
    assert summary["all/reward_start"] == sum(range(1, TAIL + 1)) / TAIL
    text = format_summary(summary)
    assert "rollouts: 2560" in text and "2560.000" not in text
    assert f"first / last {TAIL} steps" in text
