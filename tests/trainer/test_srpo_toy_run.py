"""SRPO end to end on the embedded toy model with the real verifiers: stage 1 math with history
resampling, stage 2 math + code through the sandbox, metrics per domain and stage, a report."""

import pytest

from srpo.config import load_config
from srpo.report import build_report
from srpo.report.headline import format_summary, summarize_run
from srpo.tracking import read_jsonl
from srpo.engines.native.trainer import Trainer


@pytest.mark.slow
def test_staged_run_switches_to_code_and_reports(tmp_path):
    run_dir = tmp_path / "run"
    cfg = load_config("demo", [
        f"run.output_dir={run_dir}", "run.total_steps=6", "run.save_every=0", "run.eval_every=0",
        "run.progress=false", "curriculum.switch_step=3", "curriculum.ramp_steps=0",
        "rollout.prompts_per_step=4", "rollout.group_size=4",
        'data.train=["toy:math?n=12&levels=2-3&seed=5", "toy:code?n=8&levels=1-2&seed=5"]',
        'data.heldout=["toy:math?n=6&levels=2&split=heldout", "toy:code?n=4&levels=1&split=heldout"]',
        "eval.samples=2"])
    Trainer(cfg).train()
    rows = read_jsonl(run_dir / "metrics.jsonl")
    train = [r for r in rows if r["step"] > 0]
    # switch_step=3: stage 2 (math + code) starts at step 3.
    assert [r["stage"] for r in train] == [1, 1, 2, 2, 2, 2]
    assert all("code/reward_mean" not in r for r in train[:2])
    assert all(r.get("math/num_samples", 0) + r.get("code/num_samples", 0) == 16 for r in train[2:])
    assert any(r.get("code/num_samples", 0) > 0 for r in train[2:])
    assert {"eval/math/pass@1", "eval/code/pass@1"} <= set(rows[0]) and "eval/code/pass@1" in rows[-1]
    assert rows[0]["eval/code/pass@1"] > 0, "the warm start solves some held-out code"
    summary = summarize_run(run_dir)
    assert [s["stage"] for s in summary["stages"]] == [1, 2] and "math" in summary["active_set"]
    assert "code held-out pass@1" in format_summary(summary)
    assert build_report([run_dir], tmp_path / "report").exists()
