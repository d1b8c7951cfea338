import json
import re

import pytest

from srpo.core.configlib import ConfigError, build
from srpo.data import Problem, iter_problems, load_problems
from srpo.data.curate import CurateConfig, curate, format_report, write_outputs
from srpo.data.dedup import NearDuplicateIndex
from srpo.rewards import RewardResult


def fake_score_fn(responses, problems):
    """Trusted fixtures only: run function-kind cases in-process; stdio problems pass."""
    results = []
    for response, problem in zip(responses, problems, strict=True):
        code = re.search(r"```python\n([\s\S]*?)```", response).group(1)
        if problem.tests["kind"] != "function":
            results.append(RewardResult(1.0, True, {}))
            continue
        env: dict = {}
        exec(code, env)
        fn = env[problem.tests["entry_point"]]
        ok = all(fn(*case["input"]) == case["output"] for case in problem.tests["cases"])
        results.append(RewardResult(float(ok), ok, {"passed": ok}))
    return results


def expected_reason(uid: str) -> str:
    return uid.removeprefix("drop_")


def check_fixture_outcome(result):
    kept = {p.uid for p in result.kept}
    assert all(uid.startswith("keep_") for uid in kept), kept
    for d in result.dropped:
        assert d.problem.uid.startswith("drop_"), (d.problem.uid, d.reason, d.detail)
        assert expected_reason(d.problem.uid).startswith(d.reason), (d.problem.uid, d.reason, d.detail)


def test_math_filters_keep_and_drop_what_they_should(fixtures):
    problems = load_problems(fixtures / "math_filters.jsonl")
    result = curate(problems, CurateConfig())
    check_fixture_outcome(result)
    assert {p.uid for p in result.kept} == {p.uid for p in problems if p.uid.startswith("keep_")}
    assert len(result.kept) + len(result.dropped) == len(problems)
    near = next(d for d in result.dropped if d.reason == "near_duplicate")
    assert "keep_plain" in near.detail


def test_code_filters_keep_and_drop_what_they_should(fixtures):
    problems = load_problems(fixtures / "code_filters.jsonl")
    result = curate(problems, CurateConfig(), fake_score_fn)
    check_fixture_outcome(result)
    assert {p.uid for p in result.kept} == {p.uid for p in problems if p.uid.startswith("keep_")}
    assert result.notes == {"code_kept_without_reference": 1, "code_reference_verified": 3}


@pytest.mark.parametrize("switch,uid", [
    ("noise", "drop_noise_url"), ("multi_part", "drop_multi_part"), ("proof", "drop_proof"),
    ("figure", "drop_needs_figure"), ("single_answer", "drop_not_single_answer_or"),
    ("gold_parse", "drop_gold_unparseable"), ("exact_dedup,near_dedup", "drop_exact_duplicate"),
    ("near_dedup", "drop_near_duplicate"), ("incomplete", "drop_incomplete_short"),
])
def test_each_math_filter_can_be_switched_off(fixtures, switch, uid):
    problems = load_problems(fixtures / "math_filters.jsonl")
    on = curate(problems, CurateConfig())
    off = curate(problems, CurateConfig(**{name: False for name in switch.split(",")}))
    assert uid not in {p.uid for p in on.kept}
    assert uid in {p.uid for p in off.kept}


@pytest.mark.parametrize("switch,uid", [("runtime", "drop_runtime_non_stdlib"),
                                        ("reference_check", "drop_reference_fails")])
def test_each_code_filter_can_be_switched_off(fixtures, switch, uid):
    problems = load_problems(fixtures / "code_filters.jsonl")
    off = curate(problems, CurateConfig(**{"reference_check": False, switch: False}))
    assert uid in {p.uid for p in off.kept}


def test_parameters_change_decisions(fixtures):
    problems = {p.uid: p for p in load_problems(fixtures / "math_filters.jsonl")}
    loose = curate([problems["drop_not_single_answer_prose"]], CurateConfig(max_answer_words=10, gold_parse=False))
    assert loose.kept
    strict = curate([problems["keep_plain"], problems["drop_near_duplicate"]], CurateConfig(near_dup_threshold=1.0))
    assert len(strict.kept) == 2
    code = load_problems(fixtures / "code_filters.jsonl")
    numpy_ok = curate(code, CurateConfig(allowed_imports=["numpy"], reference_check=False))
    assert "drop_runtime_non_stdlib" in {p.uid for p in numpy_ok.kept}
    required = curate(code, CurateConfig(require_reference=True), fake_score_fn)
    assert [d.problem.uid for d in required.dropped if d.reason == "no_reference"] == [
        p.uid for p in code if p.uid == "keep_no_reference"]


def test_reference_check_needs_a_scorer(fixtures):
    with pytest.raises(ValueError, match="no score_fn"):
        curate(load_problems(fixtures / "code_filters.jsonl"), CurateConfig())


def test_malformed_rows_are_dropped_with_their_line(fixtures):
    result = curate(iter_problems(fixtures / "malformed.jsonl"), CurateConfig())
    assert len(result.kept) == 2
    assert [d.reason for d in result.dropped] == ["malformed"] * 3
    assert result.dropped[0].detail.endswith("malformed.jsonl:line 2: invalid JSON (Expecting value at column 34)")
    with pytest.raises(ValueError, match="line 2"):
        curate(iter_problems(fixtures / "malformed.jsonl"), CurateConfig(malformed=False))


def test_real_data_survives_curation():
    problems = load_problems("humaneval") + load_problems("gym:chain_sum?size=40")
    result = curate(problems, CurateConfig(reference_check=False))
    assert len(result.kept) == len(problems) and not result.dropped


def test_outputs_and_report(tmp_path, fixtures):
    items = list(iter_problems(fixtures / "math_filters.jsonl")) + list(iter_problems(fixtures / "malformed.jsonl"))
    result = curate(items, CurateConfig())
    report = write_outputs(result, tmp_path)
    kept = (tmp_path / "kept.jsonl").read_text().splitlines()
    dropped = [json.loads(line) for line in (tmp_path / "dropped.jsonl").read_text().splitlines()]
    assert len(kept) == report["kept"] and len(dropped) == report["dropped"]
    assert report["total"] == len(items) == report["kept"] + report["dropped"]
    assert all(row["drop_reason"] and row["drop_detail"] for row in dropped)
    assert report["by_source"]["malformed"] == {"total": 5, "kept": 2, "dropped": 3, "by_reason": {"malformed": 3}}
    assert report["by_reason"]["proof"] == 1
    assert json.loads((tmp_path / "report.json").read_text()) == report
    table = format_report(report)
    assert "math_filters" in table and "near_duplicate" in table


def test_config_validation():
    with pytest.raises(ConfigError, match="near_dup_threshold"):
        build(CurateConfig, {"near_dup_threshold": 1.5})
    with pytest.raises(ConfigError, match="near_dup_bands"):
        build(CurateConfig, {"near_dup_bands": 5})


def test_near_duplicate_index_is_exact_about_the_threshold():
    index = NearDuplicateIndex(threshold=0.5, ngram=3)
    assert index.add("a", "the quick brown fox jumps over the lazy dog") is None
    assert index.add("b", "completely different sentence about cats") is None
    hit = index.add("c", "the quick brown fox jumps over the lazy cat")
    assert hit is not None and hit[0] == "a" and 0.5 <= hit[1] < 1.0


# ------------------------------------------------------------------- dedup keeps the best usable copy

def _code_row(uid, prompt, solution, *, entry="add"):
    return Problem(uid, "code", prompt, None, {"kind": "function", "entry_point": entry,
                                               "cases": [{"input": [1, 2], "output": 3}]},
                   source="dups", metadata={"solution": solution})


BROKEN, GOOD = "def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a + b\n"
PROMPT = "Write a function add(a, b) returning the sum of a and b."


def counting(score_fn):
    calls = []

    def run(responses, problems):
        calls.extend(p.uid for p in problems)
        return score_fn(responses, problems)

    return run, calls


def test_a_good_duplicate_of_a_broken_row_is_kept():
    rows = [_code_row("broken", PROMPT, BROKEN), _code_row("good", PROMPT, GOOD),
            _code_row("again", PROMPT.upper(), GOOD)]
    result = curate(rows, CurateConfig(), fake_score_fn)
    assert [p.uid for p in result.kept] == ["good"]
    assert [(d.problem.uid, d.reason) for d in result.dropped] == [("broken", "reference_fails"),
                                                                   ("again", "exact_duplicate")]
    assert result.dropped[1].detail == "same prompt as good"
    assert result.notes == {"code_reference_verified": 1}


def test_a_good_near_duplicate_of_a_broken_row_is_kept():
    rows = [_code_row("broken", PROMPT, BROKEN), _code_row("good", PROMPT + " Use Python.", GOOD)]
    result = curate(rows, CurateConfig(near_dup_threshold=0.8), fake_score_fn)
    assert [p.uid for p in result.kept] == ["good"]
    assert [(d.problem.uid, d.reason) for d in result.dropped] == [("broken", "reference_fails")]


def test_duplicates_of_a_passing_row_never_run_their_reference():
    rows = [_code_row("good", PROMPT, GOOD), _code_row("dup1", PROMPT, BROKEN), _code_row("dup2", PROMPT, GOOD)]
    score_fn, calls = counting(fake_score_fn)
    result = curate(rows, CurateConfig(), score_fn)
    assert calls == ["good"] and [p.uid for p in result.kept] == ["good"]
    assert [d.reason for d in result.dropped] == ["exact_duplicate", "exact_duplicate"]


def test_a_chain_of_broken_copies_ends_at_the_first_good_one_and_is_deterministic():
    rows = [_code_row("b1", PROMPT, BROKEN), _code_row("b2", PROMPT, BROKEN), _code_row("g", PROMPT, GOOD),
            _code_row("d", PROMPT, GOOD)]
    first, second = curate(rows, CurateConfig(), fake_score_fn), curate(rows, CurateConfig(), fake_score_fn)
    assert [p.uid for p in first.kept] == ["g"]
    assert [(d.problem.uid, d.reason) for d in first.dropped] == [
        ("b1", "reference_fails"), ("b2", "reference_fails"), ("d", "exact_duplicate")]
    assert [d.to_dict() for d in first.dropped] == [d.to_dict() for d in second.dropped]


def test_require_reference_runs_before_dedup():
    rows = [Problem("bare", "code", PROMPT, None, _code_row("x", PROMPT, GOOD).tests, source="dups"),
            _code_row("good", PROMPT, GOOD)]
    result = curate(rows, CurateConfig(require_reference=True), fake_score_fn)
    assert [p.uid for p in result.kept] == ["good"]
    assert [(d.problem.uid, d.reason) for d in result.dropped] == [("bare", "no_reference")]


def test_reference_failure_detail_names_the_failing_test():
    from srpo.rewards import RewardScorer

    with RewardScorer() as scorer:
        result = curate([_code_row("broken", PROMPT, BROKEN)], CurateConfig(), scorer.score)
    assert result.dropped[0].detail == ("reference solution fails its tests: 0/1 tests pass; case 0: fail "
                                        "(expected 3, got -1)")


def test_toy_references_are_responses_and_pass_in_the_real_scorer():
    from srpo.rewards import RewardScorer

    problems = load_problems("toy:code?n=6&levels=1-3")
    with RewardScorer() as scorer:
        result = curate(problems, CurateConfig(), scorer.score)
    assert len(result.kept) == 6, [d.detail for d in result.dropped]
    assert result.notes == {"code_reference_verified": 6}
