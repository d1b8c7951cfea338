import json

import pytest

from srpo.core.configlib import ConfigError, build
from srpo.data import DataError, load_problems
from srpo.data.difficulty import DifficultyConfig, assign_label, label_difficulty
from srpo.eval.config import EvalConfig
from srpo.rewards import RewardResult


def scripted(correct_per_uid):
    """generate_fn answering 'right' for the first c samples of each problem, and a call log."""
    calls = []

    def generate(problems, n):
        calls.append([p.uid for p in problems])
        return [["right"] * correct_per_uid[p.uid] + ["wrong"] * (n - correct_per_uid[p.uid]) for p in problems]

    return generate, calls


def score(responses, problems):
    return [RewardResult(float(r == "right"), r == "right", {}) for r in responses]


def test_thresholds():
    cfg = DifficultyConfig(easy_min_pass_rate=0.75, hard_max_pass_rate=0.25)
    assert [assign_label(r, cfg) for r in (0, 0.25, 0.5, 0.75, 1)] == ["hard", "hard", "medium", "easy", "easy"]
    with pytest.raises(ConfigError, match="easy_min_pass_rate"):
        build(DifficultyConfig, {"easy_min_pass_rate": 0.2, "hard_max_pass_rate": 0.3})


def test_labels_written_back_with_stats(tmp_path):
    problems = load_problems("gym:chain_sum?size=3")
    generate, _ = scripted({problems[0].uid: 4, problems[1].uid: 2, problems[2].uid: 0})
    ev = EvalConfig(samples=4, ks=[1, 2])
    out = label_difficulty(problems, generate, score, ev, DifficultyConfig(), tmp_path / "l.jsonl", model="m",
                           progress=False)
    assert [p.difficulty for p in out] == ["easy", "medium", "hard"]
    stats = out[1].metadata["difficulty_stats"]
    assert stats == {"k": 4, "correct": 2, "pass_rate": 0.5, "model": "m", "pass@1": 0.5,
                     "pass@2": pytest.approx(1 - 1 / 6)}
    assert load_problems(tmp_path / "l.jsonl") == out


def test_resume_skips_finished_and_repairs_torn_line(tmp_path):
    problems = load_problems("gym:basic_arithmetic?size=5")
    counts = {p.uid: i % 3 for i, p in enumerate(problems)}
    ev = build(EvalConfig, {"samples": 2, "batch_size": 2})
    path = tmp_path / "l.jsonl"
    generate, calls = scripted(counts)
    label_difficulty(problems[:3], generate, score, ev, DifficultyConfig(), path, progress=False)
    with path.open("a") as fh:
        fh.write('{"uid": "torn')  # a crash in the middle of a write
    generate, calls = scripted(counts)
    out = label_difficulty(problems, generate, score, ev, DifficultyConfig(), path, progress=False)
    assert calls == [[problems[3].uid, problems[4].uid]]  # only the unfinished problems were sampled
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [row["uid"] for row in lines] == [p.uid for p in problems]
    assert [p.metadata["difficulty_stats"]["correct"] for p in out] == [counts[p.uid] for p in problems]


def test_resume_refuses_labels_of_another_k_or_model_and_applies_the_current_thresholds(tmp_path):
    problems = load_problems("gym:chain_sum?size=2")
    generate, _ = scripted({problems[0].uid: 2, problems[1].uid: 1})
    path = tmp_path / "l.jsonl"
    label_difficulty(problems, generate, score, EvalConfig(samples=4), DifficultyConfig(), path, model="m",
                     progress=False)
    for ev, model in ((EvalConfig(samples=8), "m"), (EvalConfig(samples=4), "other")):
        with pytest.raises(DataError, match=rf"l.jsonl: problem {problems[0].uid} was labelled with k=4 samples "
                                            r"of model 'm', this run asks for k=\d \(eval.samples\) of '\w+'; give "
                                            r"another --out, or delete .*l.jsonl to label again"):
            label_difficulty(problems, generate, score, ev, DifficultyConfig(), path, model=model, progress=False)
    stricter = DifficultyConfig(easy_min_pass_rate=0.5, hard_max_pass_rate=0.2)
    out = label_difficulty(problems, generate, score, EvalConfig(samples=4), stricter, path, model="m",
                           progress=False)
    assert [p.difficulty for p in out] == ["easy", "medium"]  # pass rates 0.5 and 0.25, read back, relabelled
