"""Each recognised format: detected from its columns, converted, and scorable by srpo's real scorer (a correct
reference passes, a wrong one fails; a gold answer scores, a wrong answer does not)."""

from __future__ import annotations

import pytest

from srpo.data import DataError, load_problems
from srpo.data.formats import FORMATS, io_tests
from srpo.data.loaders import read_source
from srpo.data.usable import unusable_reason
from srpo.rewards import RewardScorer
from srpo.sandbox import SandboxConfig

EXPECTED = {"trl.jsonl": "trl", "gsm8k.jsonl": "gsm8k", "math.jsonl": "math", "verl_math.jsonl": "verl",
            "verl_code.jsonl": "verl", "humaneval.jsonl": "humaneval", "mbpp.jsonl": "mbpp", "apps.jsonl": "apps",
            "livecodebench.jsonl": "livecodebench", "codecontests.jsonl": "codecontests"}


@pytest.fixture(scope="module")
def scorer():
    with RewardScorer(sandbox_cfg=SandboxConfig(timeout_s=5.0, workers=2)) as s:
        yield s


@pytest.fixture
def formats(fixtures):
    return fixtures / "formats"


def _load(formats, name):
    return load_problems(formats / name)


def _fence(code: str) -> str:
    return f"<think>done</think><answer>\n```python\n{code}\n```\n</answer>"


def _verdicts(scorer, responses, problems) -> list[bool]:
    return [r.correct for r in scorer.score(responses, problems)]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_format_detected_from_columns_and_said(formats, name):
    loaded = read_source(formats / name)
    assert loaded.format == EXPECTED[name] and loaded.assumed
    assert f"assumed format '{EXPECTED[name]}'" in loaded.note() and "data.format=" in loaded.note()
    assert all(unusable_reason(p) is None for _, p in loaded.items), "every fixture row is scorable"


def test_every_registered_format_has_a_fixture():
    assert set(FORMATS.names()) == set(EXPECTED.values()) | {"srpo"}


# ------------------------------------------------------------------------------------------------ math


@pytest.mark.parametrize("name, golds, wrong", [
    ("trl.jsonl", ["56", "32"], ["54", "25"]), ("gsm8k.jsonl", ["16", "1250"], ["36", "125"]),
    ("math.jsonl", ["\\frac{5}{6}", "2\\sqrt{2}"], ["\\frac{2}{5}", "\\sqrt{2}"]), ("verl_math.jsonl", ["14"], ["16"])])
def test_math_gold_scores_and_a_wrong_answer_does_not(formats, scorer, name, golds, wrong):
    problems = _load(formats, name)
    assert [p.answer for p in problems] == golds
    as_response = lambda answers: [f"<think>ok</think><answer>{a}</answer>" for a in answers]  # noqa: E731
    assert _verdicts(scorer, as_response(golds), problems) == [True] * len(golds)
    assert _verdicts(scorer, as_response(wrong), problems) == [False] * len(golds)


def test_worked_solutions_are_kept_beside_the_final_answer(formats):
    gsm = _load(formats, "gsm8k.jsonl")[0]
    assert gsm.answer == "16" and gsm.metadata["solution"].endswith("#### 16")
    math = _load(formats, "math.jsonl")[0]
    assert math.difficulty == "Level 1" and math.metadata["type"] == "Prealgebra"
    trl = _load(formats, "trl.jsonl")[1]
    assert trl.prompt == "What is 2 to the power 5?" and trl.metadata["system_prompt"] == "Answer briefly."


# ------------------------------------------------------------------------------------------------ code


def _reference_passes_and_broken_fails(scorer, problems, references, broken):
    assert _verdicts(scorer, [_fence(r) for r in references], problems) == [True] * len(problems)
    assert _verdicts(scorer, [_fence(b) for b in broken], problems) == [False] * len(problems)


def test_humaneval_rows(formats, scorer):
    [p] = _load(formats, "humaneval.jsonl")
    assert p.uid == "Mini/0" and p.tests["entry_point"] == "add_one"
    _reference_passes_and_broken_fails(scorer, [p], [p.metadata["solution"]],
                                       ["def add_one(xs):\n    return [x + 2 for x in xs]"])


def test_mbpp_rows(formats, scorer):
    problems = _load(formats, "mbpp.jsonl")
    assert [p.tests["entry_point"] for p in problems] == ["larger", "hypotenuse", "count_vowels"]
    assert "assert larger(1, 2) == 2" in problems[0].prompt  # the asserts name the function
    broken = ["def larger(a, b):\n    return a", "def hypotenuse(a, b):\n    return a + b",
              "def count_vowels(s):\n    return 0"]
    _reference_passes_and_broken_fails(scorer, problems, [p.metadata["solution"] for p in problems], broken)


def test_apps_rows_stdio_call_based_and_leetcode_classes(formats, scorer):
    problems = _load(formats, "apps.jsonl")
    assert [p.tests["kind"] for p in problems] == ["stdio", "function", "function", "function"]
    assert problems[2].tests["cases"][0] == {"input": [2, 1], "output": [1, 2]}  # APPS' [[ret]] unwrapped
    assert "Solution()" in problems[3].tests["prelude"] and "Complete this code" in problems[3].prompt
    broken = ["print(0)", "def count_evens(xs):\n    return len(xs)", "def sorted_pair(a, b):\n    return [a, b]",
              "class Solution:\n    def biggest(self, nums):\n        return min(nums)"]
    _reference_passes_and_broken_fails(scorer, problems, [p.metadata["solution"] for p in problems], broken)


def test_livecodebench_rows_stdin_and_functional_with_packed_private_tests(formats, scorer):
    stdin, functional = _load(formats, "livecodebench.jsonl")
    assert len(stdin.tests["cases"]) == 2  # public + the unpacked private case
    assert functional.tests["cases"][0] == {"input": [[1, 5, 7], 4], "output": 2}
    references = ["n = int(input())\nprint(sum(map(int, input().split())))",
                  "class Solution:\n    def countGreater(self, nums: List[int], k: int) -> int:\n"
                  "        return sum(x > k for x in nums)"]
    broken = ["n = int(input())\nprint(n)",
              "class Solution:\n    def countGreater(self, nums, k):\n        return len(nums)"]
    _reference_passes_and_broken_fails(scorer, [stdin, functional], references, broken)


def test_codecontests_rows(formats, scorer):
    [p] = _load(formats, "codecontests.jsonl")
    assert len(p.tests["cases"]) == 3  # public + private; generated tests left out
    assert "incorrect_solutions" not in p.metadata and p.metadata["cf_rating"] == 800
    _reference_passes_and_broken_fails(scorer, [p], [p.metadata["solution"]], ["print(input())"])


def test_verl_code_ground_truth_becomes_tests(formats, scorer):
    problems = _load(formats, "verl_code.jsonl")
    assert [p.tests["kind"] for p in problems] == ["stdio", "function"] and all(p.answer is None for p in problems)
    references = ["a, b = map(int, input().split())\nprint(a * b)", "def square(x):\n    return x * x"]
    broken = ["a, b = map(int, input().split())\nprint(a + b)", "def square(x):\n    return 2 * x"]
    _reference_passes_and_broken_fails(scorer, problems, references, broken)


def test_apps_input_output_mapped_as_tests_in_srpo_format(formats):
    [p] = load_problems(formats / "apps.jsonl", mapping={"tests": "input_output"})[:1]
    assert p.tests == {"kind": "stdio", "cases": [{"input": "1 2\n", "output": "3\n"},
                                                  {"input": "10 -3\n", "output": "7\n"}]}
    assert unusable_reason(p) is None


# -------------------------------------------------------------------------------------- choosing a format


def test_format_can_be_forced_and_bad_choices_are_named(formats):
    [p] = load_problems(formats / "gsm8k.jsonl", format="srpo")[:1]
    assert p.answer.endswith("#### 16")  # the user asked for it
    with pytest.raises(DataError, match="format: unknown 'nope'"):
        load_problems(formats / "gsm8k.jsonl", format="nope")
    with pytest.raises(DataError, match="format 'apps' reads fixed columns"):
        load_problems(formats / "apps.jsonl", format="apps", mapping={"prompt": "question"})
    with pytest.raises(DataError, match="domain: format 'apps' gives code problems, not math"):
        load_problems(formats / "apps.jsonl", domain="math")


def test_rows_the_format_cannot_read_name_the_row(tmp_path):
    path = tmp_path / "g.jsonl"
    path.write_text('{"question": "q one?", "answer": "x\\n#### 3"}\n{"question": "q two?", "answer": "no marker"}\n')
    with pytest.raises(DataError, match=r"g.jsonl:line 2: answer has no '#### <final answer>' line"):
        load_problems(path)


def test_unknown_columns_suggest_the_mapping_and_the_format(tmp_path):
    path = tmp_path / "odd.jsonl"
    path.write_text('{"text": "What is 1 + 1?", "gold": "2"}\n')
    with pytest.raises(DataError, match=r"odd.jsonl:line 1: no known format .*data.column_mapping.prompt=<column>"):
        load_problems(path)
    [p] = load_problems(path, mapping={"prompt": "text"})
    assert (p.prompt, p.answer) == ("What is 1 + 1?", "2")


def test_io_tests_refuses_mismatched_lists():
    with pytest.raises(DataError, match="x: input_output needs 'inputs' and 'outputs' lists of the same length"):
        io_tests({"inputs": ["1"], "outputs": []}, "x", "input_output")
