import json

import numpy as np
import pytest

from srpo.report.runs import load_run, load_runs, stage_starts


def _write(run_dir, rows, config=None):
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if config is not None:
        (run_dir / "config.yaml").write_text(config)
    return run_dir


def test_series_skip_missing_and_null_values(tmp_path):
    run = load_run(_write(tmp_path / "r", [
        {"step": 1, "math/reward_mean": 0.1, "eval/math/pass@1": None},
        {"step": 2, "math/reward_mean": 0.2},
        {"step": 3, "math/reward_mean": 0.3, "eval/math/pass@1": 0.5, "note": "text"},
    ]))
    steps, values = run.get("eval/math/pass@1")
    assert steps.tolist() == [3] and values.tolist() == [0.5]
    assert run.get("math/reward_mean")[1].tolist() == [0.1, 0.2, 0.3]
    assert run.get("note") is None and run.last_step == 3


def test_lines_with_the_same_step_merge_later_wins(tmp_path):
    # A resume from step 2 re-logs step 3; evaluation arrives on its own line.
    run = load_run(_write(tmp_path / "r", [
        {"step": 1, "a": 1.0}, {"step": 2, "a": 2.0}, {"step": 3, "a": 99.0},
        {"step": 3, "a": 3.0}, {"step": 3, "eval/code/pass@1": 0.25}, {"step": 4, "a": 4.0},
    ]))
    assert run.get("a")[0].tolist() == [1, 2, 3, 4]
    assert run.get("a")[1].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert run.get("eval/code/pass@1")[0].tolist() == [3]


def test_malformed_line_names_file_and_line(tmp_path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text('{"step": 1, "a": 1}\n\n{"step": 2, "a": \n')
    with pytest.raises(ValueError, match=r"metrics.jsonl:3: not valid JSON"):
        load_run(run_dir)
    (run_dir / "metrics.jsonl").write_text('{"step": 1}\n{"a": 2}\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl:2: needs an integer 'step'"):
        load_run(run_dir)
    (run_dir / "metrics.jsonl").write_text('[1, 2]\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl:1: expected a JSON object"):
        load_run(run_dir)


def test_missing_directory_or_metrics(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no metrics.jsonl"):
        load_run(tmp_path / "empty")


def test_labels_from_config_or_directory(tmp_path):
    a = _write(tmp_path / "a", [{"step": 1}], "run:\n  name: staged\n")
    b = _write(tmp_path / "b", [{"step": 1}], "algorithm: {name: grpo}\n")
    c = _write(tmp_path / "c", [{"step": 1}], "run:\n  name: staged\n")
    runs = load_runs([a, b, c])
    assert runs[1].label == "b"
    assert runs[0].label != runs[2].label and runs[0].label.startswith("staged (")
    bad = _write(tmp_path / "bad", [{"step": 1}], "run: [unclosed\n")
    with pytest.raises(ValueError, match=r"bad/config.yaml: not valid YAML"):
        load_run(bad)


def test_stage_starts_from_stage_metric(tmp_path):
    run = load_run(_write(tmp_path / "r", [{"step": s, "stage": 1 if s < 5 else 2} for s in range(1, 9)]))
    assert run.stage_starts == [(5, 2)]
    assert stage_starts(None) == []
    assert stage_starts((np.array([1, 2, 3]), np.array([1.0, 2.0, 1.0]))) == [(2, 2), (3, 1)]
