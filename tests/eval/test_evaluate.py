import json

import pytest

from srpo.data import load_problems
from srpo.eval import evaluate, pass_at_k
from srpo.rewards import RewardResult


def make_fns(correct_per_uid):
    def generate(problems, n):
        return [[f"ok{j}" if j < correct_per_uid[p.uid] else f"no{j}" for j in range(n)] for p in problems]

    def score(responses, problems):
        return [RewardResult(1.0, r.startswith("ok"), {}) for r in responses]

    return generate, score


@pytest.fixture
def mixed(tmp_path):
    math = load_problems("gym:chain_sum?size=3")
    code = load_problems("humaneval?size=2")
    return math + code


def test_per_benchmark_and_domain(mixed):
    counts = dict(zip([p.uid for p in mixed], [4, 0, 2, 1, 3]))
    generate, score = make_fns(counts)
    res = evaluate(mixed, generate, score, n=4, ks=[1, 2], batch_size=2)
    assert res.by_domain["math"].metrics["pass@1"] == pytest.approx((4 + 0 + 2) / 12)
    assert res.by_domain["math"].metrics["avg@4"] == pytest.approx(0.5)
    assert res.by_benchmark["humaneval"].metrics["pass@2"] == pytest.approx(
        (pass_at_k(4, 1, 2) + pass_at_k(4, 3, 2)) / 2)
    assert res.overall.num_problems == 5 and res.overall.num_samples == 20
    flat = res.flat_metrics()
    assert flat["eval/math/pass@1"] == res.by_domain["math"].metrics["pass@1"]
    assert flat["eval/gym:chain_sum/pass@2"] == res.by_benchmark["gym:chain_sum"].metrics["pass@2"]
    assert flat["eval/all/avg@4"] == pytest.approx(10 / 20)
    assert json.loads(res.to_json())["by_benchmark"]["humaneval"]["num_problems"] == 2
    table = res.table()
    assert "domain:code" in table and "humaneval" in table and "pass@2" in table


def test_benchmark_named_like_a_domain_does_not_clobber(mixed):
    for p in mixed:
        p.source = "math"
    generate, score = make_fns({p.uid: 1 for p in mixed})
    flat = evaluate(mixed, generate, score, n=2).flat_metrics("ev")
    assert "ev/math_bench/pass@1" in flat and flat["ev/math/pass@1"] == 0.5


def test_bad_arguments_and_bad_generators(mixed):
    generate, score = make_fns({p.uid: 1 for p in mixed})
    with pytest.raises(ValueError, match="k <= n"):
        evaluate(mixed, generate, score, n=2, ks=[4])
    with pytest.raises(ValueError, match="must return 3 responses"):
        evaluate(mixed, lambda ps, n: [["x"]] * len(ps), score, n=3)


def test_aime_style_file_benchmark(fixtures_dir=None):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "aime_mini.jsonl"
    problems = load_problems(path)

    def generate(problems, n):
        return [[p.answer] * n for p in problems]

    def score(responses, problems):
        return [RewardResult(1.0, r == p.answer, {}) for r, p in zip(responses, problems)]

    res = evaluate(problems, generate, score, n=3)
    assert res.by_benchmark["aime_mini"].metrics == {"pass@1": 1.0, "avg@3": 1.0}
