"""srpo's reward as verl's custom reward function, called as verl calls it (no verl needed here; the same
function through verl's own reward managers is in test_verl_reward_managers.py)."""

from __future__ import annotations

import json
import multiprocessing

import numpy as np
import pytest

from srpo.data.loaders import load_problems
from srpo.engines.verl import reward
from srpo.engines.verl.recipe import verl_rows


@pytest.fixture(scope="module")
def rows():
    problems = load_problems("toy:math?n=3&levels=1&seed=1") + load_problems("toy:code?n=2&levels=1&seed=1")
    return problems, verl_rows(problems)


@pytest.fixture(autouse=True, scope="module")
def _close():
    yield
    reward.close_all()


def call(row, text, **kw):
    return reward.compute_score(row["data_source"], text, row["reward_model"]["ground_truth"], row["extra_info"], **kw)


def test_math_and_code_route_and_return_score_and_binary_acc(rows):
    problems, table = rows
    for problem, row in zip(problems, table):
        good = call(row, problem.metadata["solution"])
        bad = call(row, "<think>no idea</think><answer>-1</answer>")
        assert set(good) == set(bad) == {"score", "acc"}, problem.domain
        assert (good["acc"], bad["acc"]) == (1.0, 0.0), (problem.domain, good, bad)
        assert good["score"] == 1.0 and bad["score"] == 0.0


def test_the_config_weights_the_components(rows, tmp_path):
    from srpo.config import load_config, save_config

    problems, table = rows
    cfg = load_config("srpo", ["rewards.math=[{name: math_accuracy, weight: 1.0}, {name: format, weight: 0.5}]"])
    path = tmp_path / "srpo.yaml"
    save_config(cfg, path)
    out = call(table[0], problems[0].metadata["solution"], srpo_config=str(path))
    assert out == {"score": 1.5, "acc": 1.0}
    unformatted = call(table[0], problems[0].answer, srpo_config=str(path))  # right answer, no tags
    assert unformatted["acc"] == 0.0 or unformatted["score"] < 1.5
    assert reward.scorer(str(path)) is reward.scorer(str(path))  # one scorer per process and config


def test_rows_made_elsewhere_route_by_their_gold():
    """A verl data set without srpo's extra_info: a tests-shaped gold is code, anything else math."""
    apps = json.dumps({"inputs": ["2\n"], "outputs": ["4\n"]})
    code = reward.problem_from_verl("apps", apps, {"index": 3})
    math = reward.problem_from_verl("openai/gsm8k", "72", None)
    assert (code.domain, code.tests["kind"], math.domain, math.answer) == ("code", "stdio", "math", "72")
    solution = "<answer>```python\nprint(int(input()) * 2)\n```</answer>"
    assert reward.compute_score("apps", solution, apps, {"index": 3})["acc"] == 1.0
    assert reward.compute_score("openai/gsm8k", "<answer>72</answer>", np.str_("72"), {})["acc"] == 1.0


def _in_worker(args):
    row, text = args
    out = call(row, text)
    return out, len(reward._SCORERS)


def test_each_worker_process_builds_its_own_scorer(rows):
    problems, table = rows
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        results = pool.map(_in_worker, [(table[0], problems[0].metadata["solution"]),
                                        (table[-1], problems[-1].metadata["solution"])])
    assert [r[0]["acc"] for r in results] == [1.0, 1.0] and [r[1] for r in results] == [1, 1]
