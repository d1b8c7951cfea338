"""The end of `srpo train`: a summary (steps, rollouts, held-out pass@1 per domain), where the checkpoint and metrics
are, and the HTML report in RUN/report/ as `srpo demo` writes it; a report that fails is a warning, exit 0. And
the one line that says when the curriculum switches stage, and why."""

import pytest

from srpo.cli import main
from srpo.curriculum import Curriculum, CurriculumConfig, StageConfig

ARGS = ["train", "grpo", "model.path=toy", 'data.train=["toy:math?n=8&levels=1-1&seed=3"]',
        'data.heldout=["toy:math?n=4&levels=1-1&split=heldout"]', "eval.samples=2", "run.total_steps=3",
        "run.progress=false", "rollout.group_size=2", "rollout.prompts_per_step=2", "rollout.max_new_tokens=16",
        "curriculum.preset=staged", "curriculum.switch_step=2", "curriculum.plateau_window=null",
        "curriculum.code_share=0"]  # stage 2 without code: no sandbox needed


def test_train_ends_with_a_summary_the_report_and_says_when_the_stage_switched(tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*ARGS, f"run.output_dir={run}"]) == 0
    out = capsys.readouterr().out
    assert out.count("srpo: curriculum: stage 2 (math+code) starts at step 2: curriculum.switch_step=2\n") == 1
    assert "math held-out pass@1" in out and "steps: 3 " in out and "rollouts: 12" in out
    assert f"checkpoint: {run / 'checkpoints' / 'step_000003'}\n" in out
    assert f"metrics: {run / 'metrics.jsonl'}\n" in out
    assert f"report: {run / 'report' / 'report.html'}\n" in out
    assert (run / "report" / "report.html").is_file()


def test_a_report_that_cannot_be_built_is_a_warning_and_the_run_stands(tmp_path, capsys, monkeypatch):
    import srpo.report.build

    def broken(run_dirs, out_dir):
        raise RuntimeError("no fonts")

    monkeypatch.setattr(srpo.report.build, "build_report", broken)
    run = tmp_path / "run"
    assert main([*ARGS, "run.total_steps=1", f"run.output_dir={run}"]) == 0
    captured = capsys.readouterr()
    assert (f"srpo: warning: the report could not be written (RuntimeError: no fonts); the run is complete, "
            f"`srpo report {run}` tries again") in captured.err
    assert f"checkpoint: {run / 'checkpoints' / 'step_000001'}" in captured.out


@pytest.mark.parametrize("cfg, switch, why", [
    (CurriculumConfig(preset="staged", switch_step=None, plateau_window=5, plateau_min_delta=0.01, code_share=0.5),
     {"stage": 1, "name": "math+code", "step": 11, "reason": "plateau"},
     "the reward plateaued (mean of the last 5 steps less than 0.01 above the 5 before)"),
    (CurriculumConfig(preset="custom", stages=[StageConfig("a", {"math": 1.0}, until_step=4),
                                               StageConfig("b", {"code": 1.0})]),
     {"stage": 1, "name": "b", "step": 4, "reason": "until_step"}, "curriculum.stages[0].until_step=4"),
])
def test_the_switch_line_says_which_stage_when_and_why(cfg, switch, why):
    line = Curriculum(cfg).describe_switch(switch)
    assert line == f"curriculum: stage 2 ({switch['name']}) starts at step {switch['step']}: {why}"


def test_no_report_skips_the_report(tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*ARGS, "run.total_steps=1", f"run.output_dir={run}", "--no-report"]) == 0
    assert "report:" not in capsys.readouterr().out and not (run / "report").exists()
