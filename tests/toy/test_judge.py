"""The build script's own measuring judge."""

from srpo.data import Problem
from srpo.rewards import RewardResult
from srpo.toy import tasks
from srpo.toy.judge import extract_answer, extract_code, judge, judge_code, judge_math, run_function_cases
from srpo.toy.measure import format_table


def test_math_judge():
    p = tasks.math_problems(1, 2, 0)[0]
    assert judge_math(p, p.metadata["solution"])
    assert judge_math(p, f"<answer> {p.answer} </answer>")
    assert not judge_math(p, f"<answer>{int(p.answer) + 1}</answer>")
    assert not judge_math(p, f"{p.answer}")  # no answer tag
    assert not judge_math(p, f"<answer>{p.answer}.5</answer>")
    assert extract_answer("<answer>1</answer><answer>2</answer>") == "2"


def test_code_judge_runs_in_subprocess():
    p = tasks.code_problems(1, 1, 0)[0]
    assert judge_code(p, p.metadata["solution"]) and judge(p, p.metadata["solution"])
    wrong = p.metadata["solution"].replace("return ", "return 1+")
    assert not judge_code(p, wrong)
    assert not judge_code(p, "<answer>no code</answer>")
    assert extract_code("```python\na\n``` ```python\nb\n```") == "b\n"
    # a crash inside the candidate is a failure, not an exception here
    assert not judge_code(p, "```python\nimport os\nos._exit(3)\n```")
    # the candidate cannot touch this process: exiting there leaves us running
    assert not judge_code(p, "```python\nraise SystemExit(0)\n```")


def test_code_timeout():
    tests = {"kind": "function", "entry_point": "f", "cases": [{"input": [1], "output": 1}]}
    assert not run_function_cases("def f(x):\n    while True: pass\n", tests, timeout_s=0.5)
    assert run_function_cases("def f(x):\n    return x\n", tests)


def test_format_table():
    t = format_table({"math/1": {"n": 2, "pass@1": 0.25, "pass@8": 0.5}}, 8)
    assert "| math/1 | 2 | 0.250 | 0.500 |" in t


def test_measure_accepts_reward_results(tmp_path):
    """measure_pass_rates works with a judge returning RewardResult and aggregates per cell."""
    from srpo.toy.build import WarmStartConfig, train
    from srpo.toy.measure import measure_pass_rates
    from srpo.toy.model import ToyModelConfig

    cfg = WarmStartConfig(steps=0, model=ToyModelConfig(hidden_size=32, num_layers=1, num_heads=2,
                                                        intermediate_size=32))
    model_dir = train(cfg, tmp_path / "m")
    probs = tasks.heldout("math", 3, 1, 0) + tasks.heldout("code", 2, 1, 0)
    calls = []

    def first_math_only(problem: Problem, response: str) -> RewardResult:
        calls.append(problem.uid)
        ok = problem.uid == probs[0].uid
        return RewardResult(float(ok), ok)

    rates = measure_pass_rates(model_dir, probs, k=2, judge=first_math_only, max_new_tokens=4)
    assert rates["math/1"] == {"n": 3, "pass@1": 1 / 3, "pass@2": 1 / 3}
    assert rates["code/1"] == {"n": 2, "pass@1": 0.0, "pass@2": 0.0}
    assert rates["all"]["n"] == 5
    assert set(calls) == {p.uid for p in probs}
