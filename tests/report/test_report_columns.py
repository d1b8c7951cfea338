"""The summary table and captions show only what a run has: no column for a benchmark whose name holds a slash
(``toy/math`` logs ``eval/toy/math/pass@1``), no stage-switch line in a run without a switch."""

import json

from report_synth import make_run

from srpo.report.figures import length_figure
from srpo.report.runs import load_run
from srpo.report.summary import summarize, summary_domains


def test_a_benchmark_named_with_a_slash_gets_no_empty_column(tmp_path):
    run_dir = make_run(tmp_path / "r", "r", n_steps=3, regime="math-only", stage_switch=None)
    with (run_dir / "metrics.jsonl").open("a") as fh:
        fh.write(json.dumps({"step": 3, "eval/all/pass@1": 0.5, "eval/math/pass@1": 0.5,
                             "eval/toy/math/pass@1": 0.5, "eval/aime24/pass@1": 0.25}) + "\n")
    run = load_run(run_dir)
    _, evals = summary_domains([run])
    assert evals == ["math", "aime24", "all"]
    assert all(value is not None for value in summarize(run, [], evals).last_eval.values())


def test_the_stage_switch_is_mentioned_only_when_a_run_switches(tmp_path):
    mixed = load_run(make_run(tmp_path / "mixed", "mixed", n_steps=30, regime="mixed", stage_switch=None))
    staged = load_run(make_run(tmp_path / "staged", "staged", n_steps=30, stage_switch=10))
    assert "stage" not in length_figure([mixed]).caption
    assert "a dotted line marks a stage switch" in length_figure([mixed, staged]).caption
