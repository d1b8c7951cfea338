"""Registry, config, and the batch scorer combining components per domain."""

from __future__ import annotations

import pytest

from srpo.core.configlib import ConfigError, build
from srpo.data import Problem
from srpo.rewards import REWARDS, RewardComponent, RewardResult, RewardScorer, RewardsConfig, register_reward
from srpo.sandbox import SandboxConfig

MATH = Problem.create("math", "(12+7)*3?", answer="57")
HALF = Problem.create("math", "1/2 as a decimal?", answer="\\frac{1}{2}")
CODE = Problem.create("code", "add", tests={"kind": "function", "entry_point": "add",
                                            "cases": [{"input": [1, 2], "output": 3}]})
GOOD_MATH = "<think>12+7=19, 19*3=57</think><answer>57</answer>"
GOOD_CODE = "```python\ndef add(a, b):\n    return a + b\n```"


@register_reward("test_length")
def length_reward(response: str, problem: Problem, *, per_char: float = 0.01) -> RewardResult:
    return RewardResult(per_char * len(response), True, {"chars": len(response)})


def test_registry():
    assert {"math_accuracy", "code_accuracy", "format", "language", "test_length"} <= set(REWARDS.names())
    assert REWARDS.get("test_length").fn is length_reward
    with pytest.raises(KeyError, match="unknown reward 'nope'"):
        REWARDS.get("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_reward("format")(lambda r, p: None)


def test_config_from_yaml_dict_and_errors():
    cfg = build(RewardsConfig, {"math": [{"name": "math_accuracy"}, {"name": "format", "weight": 0.1}],
                                "format_template": "<answer>{a}</answer>"}, "rewards")
    assert cfg.math[1].weight == 0.1 and cfg.deciding("math") == "math_accuracy"
    with pytest.raises(ConfigError, match=r"rewards.math\[1\].name: unknown reward 'fromat'"):
        build(RewardsConfig, {"math": [{"name": "math_accuracy"}, {"name": "fromat"}]}, "rewards")
    with pytest.raises(ConfigError, match="rewards.correct_from.code"):
        build(RewardsConfig, {"correct_from": {"code": "format"}}, "rewards")
    with pytest.raises(ConfigError, match="rewards.language_max_share"):
        build(RewardsConfig, {"language_max_share": 2}, "rewards")


@pytest.fixture(scope="module")
def scorer():
    cfg = RewardsConfig(
        math=[RewardComponent("math_accuracy", 1.0), RewardComponent("format", 0.5),
              RewardComponent("language", 1.0), RewardComponent("test_length", 0.0)],
        code=[RewardComponent("code_accuracy", 1.0, {"score": "fraction"}), RewardComponent("format", 0.0)])
    with RewardScorer(cfg, SandboxConfig(timeout_s=2.0, workers=4)) as s:
        yield s


def test_both_domains_in_one_batch(scorer):
    responses = [GOOD_MATH, "<answer>56</answer>", "<think>x</think><answer>0.5</answer>", GOOD_CODE,
                 "```python\ndef add(a, b):\n    return a - b\n```", "<think>so 答 is it</think><answer>57</answer>"]
    problems = [MATH, MATH, HALF, CODE, CODE, MATH]
    out = scorer.score(responses, problems)
    assert [r.correct for r in out] == [True, False, True, True, False, True]
    good = out[0]
    assert good.score == pytest.approx(1.5)  # accuracy 1 + 0.5 * format 1 + language 0 + 0 * length
    assert good.info["components"] == {"math_accuracy": 1.0, "format": 1.0, "language": 0.0,
                                       "test_length": pytest.approx(0.01 * len(GOOD_MATH))}
    assert good.info["accuracy"]["extracted"] == "57" and good.info["correct_from"] == "math_accuracy"
    assert out[1].score == 0.0 and out[1].info["components"]["format"] == 0.0
    assert out[2].info["accuracy"]["method"] == "math_verify"
    assert out[3].info["accuracy"]["tests"][0]["passed"] and out[3].info["components"]["code_accuracy"] == 1.0
    mixed = out[5]  # correct answer, shaped score lowered by the language penalty
    assert mixed.correct and mixed.score == pytest.approx(1.5 - 1 / 7)


def test_correct_comes_from_the_deciding_component_only():
    cfg = RewardsConfig(math=[RewardComponent("math_accuracy", 1.0), RewardComponent("format", 1.0)],
                        code=[], correct_from={"math": "format"})
    with RewardScorer(cfg) as s:
        assert s.sandbox is None  # no code component: no sandbox started
        res = s.score(["<answer>57</answer>"], [MATH])[0]
    assert res.score == 1.0 and not res.correct and res.info["correct_from"] == "format"


def test_malformed_problem_scores_zero_with_reason(scorer):
    broken = Problem(uid="bad1", domain="code", prompt="x", tests={"kind": "function", "cases": []})
    res = scorer.score([GOOD_CODE], [broken])[0]
    assert not res.correct and "problem bad1" in res.info["accuracy"]["error"]


def test_huge_numbers_are_verdicts_not_malformed_problems(scorer):
    big = Problem.create("math", "a big number", answer="9" * 5000)
    right, wrong = scorer.score([f"<answer>{'9' * 5000}.0</answer>", f"<answer>{'9' * 4999}8</answer>"], [big, big])
    assert right.correct and right.info["accuracy"]["method"] == "exact"
    assert not wrong.correct and wrong.info["accuracy"]["method"] == "exact"


def test_length_mismatch(scorer):
    with pytest.raises(ValueError, match="2 responses but 1 problems"):
        scorer.score(["a", "b"], [MATH])
