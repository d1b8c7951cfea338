import doctest

import pytest

import srpo.analysis.code_detect
import srpo.analysis.reflection
import srpo.analysis.rollout
import srpo.analysis.samples
from srpo.analysis import AnalysisConfig, contains_code, detect_reflection, rollout_metrics
from srpo.core.configlib import ConfigError, build


@pytest.mark.parametrize(
    "module",
    [srpo.analysis.reflection, srpo.analysis.code_detect, srpo.analysis.rollout, srpo.analysis.samples],
)
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    "text, family, expected",
    [
        ("Wait. WAIT! wait?", "hesitation", 3),
        ("The result was awaited; waiting is fine; await it.", "hesitation", 0),
        ("Let me\n  check the sum again.", "recheck", 1),
        ("letme check", "recheck", 0),
        ("I should double check, then double-check, then doublecheck.", "recheck", 3),
        ("Re-examine and reexamine and re examine", "recheck", 3),
        ("Alternatively, consider another approach.", "exploration", 2),
        ("Hmm, perhaps maybe.", "hesitation", 3),
        ("The rechecked value", "recheck", 0),
    ],
)
def test_default_families_match_whole_words(text, family, expected):
    assert detect_reflection(text)[family] == expected


def test_longest_keyword_wins_within_family_but_families_are_independent():
    cfg = AnalysisConfig(families={"a": ["wait", "but wait"], "b": ["wait"]})
    assert detect_reflection("but wait, wait", cfg) == {"a": 2, "b": 2}


def test_keywords_with_regex_characters_are_literal():
    cfg = AnalysisConfig(families={"q": ["why?", "a.b"]})
    assert detect_reflection("why? aXb a.b", cfg) == {"q": 2}


def test_config_loads_and_validates_families():
    cfg = build(AnalysisConfig, {"families": {"doubt": ["hmm"]}})
    assert cfg.families == {"doubt": ["hmm"]}
    with pytest.raises(ConfigError, match="families.any"):
        build(AnalysisConfig, {"families": {"any": ["x"]}})
    with pytest.raises(ConfigError, match="families.bad/name"):
        build(AnalysisConfig, {"families": {"bad/name": ["x"]}})
    with pytest.raises(ConfigError, match="families.empty"):
        build(AnalysisConfig, {"families": {"empty": []}})
    assert AnalysisConfig().families is not AnalysisConfig().families  # no shared mutable default


@pytest.mark.parametrize(
    "text",
    [
        "```python\nprint(1)\n```",
        "Check:\n  ```\n  x = 1\n  ```",
        "def solve(a, b) -> int:\n    return a + b",
        "import math\nmath.sqrt(2)",
        "from itertools import permutations",
        "then print (x)",
    ],
)
def test_contains_code_positive(text):
    assert contains_code(text)


@pytest.mark.parametrize(
    "text",
    [
        "By def. 3, f(x) = x^2 so f(2) = 4.",
        "We print the answer: \\boxed{4}",
        "The fingerprint(s) match.",
        "Important: imports are taxed.",
        "Use `x` inline code only.",
        "define f(x): the square",
    ],
)
def test_contains_code_negative(text):
    assert not contains_code(text)


def test_rollout_metrics_per_domain_and_all():
    responses = [
        "Wait, let me check. 4",                # math, hesitation + recheck
        "```python\nprint(2+2)\n```\n4",       # math, code, no reflection
        "Alternatively we loop.",              # code, exploration
        "def f(x):\n    return x",             # code, no reflection
    ]
    m = rollout_metrics(responses, ["math", "math", "code", "code"], [10, 20, 30, 40])
    assert m["reflect/math/hesitation_frac"] == 0.5
    assert m["reflect/math/recheck_count_mean"] == 0.5
    assert m["reflect/math/exploration_frac"] == 0.0
    assert m["reflect/code/exploration_frac"] == 0.5
    assert m["reflect/all/any_frac"] == 0.5
    assert (m["reflect/math/len_with"], m["reflect/math/len_without"]) == (10.0, 20.0)
    assert (m["reflect/all/len_with"], m["reflect/all/len_without"]) == (20.0, 30.0)
    assert m["code_in_math/frac"] == 0.5  # code responses never count towards code-in-math


def test_rollout_metrics_omits_undefined_values():
    m = rollout_metrics(["plain", "also plain"], ["code", "code"], [3, 5])
    assert "reflect/code/len_with" not in m and m["reflect/code/len_without"] == 4.0
    assert "code_in_math/frac" not in m
    assert all(v == v for v in m.values())  # no NaN
    assert rollout_metrics([], [], []) == {}
    assert rollout_metrics(["wait"], ["math"], [1], AnalysisConfig(enabled=False)) == {}


def test_rollout_metrics_rejects_misaligned_lists():
    with pytest.raises(ValueError, match="lengths"):
        rollout_metrics(["a", "b"], ["math", "math"], [1])
