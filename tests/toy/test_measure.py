"""Terse vs step-by-step classification and the per-mode accuracy table of `srpo toy-measure`."""

from srpo.toy import tasks
from srpo.toy.measure import cell_rates, mode_rates, response_mode


def test_response_mode_reads_the_think_against_both_references():
    p = tasks.heldout("math", 1, 4, seed=0)[0]       # four steps: a*b, then three ±d
    steps, terse = p.metadata["solution"], p.metadata["terse"]
    assert response_mode(steps, p) == "steps" and response_mode(terse, p) == "terse"
    two = " ".join(steps.split("<think>")[1].split("</think>")[0].split()[:2])
    assert response_mode(f"<think>{two}</think><answer>1</answer>", p) == "partial"
    assert response_mode("<answer>1</answer>", p) == "unformatted"
    one = tasks.heldout("math", 1, 1, seed=0)[0]
    assert response_mode(one.metadata["solution"], one) == "single"
    c = tasks.heldout("code", 1, 3, seed=0)[0]
    assert response_mode(c.metadata["solution"], c) == "steps" and response_mode(c.metadata["terse"], c) == "terse"


def test_mode_rates_count_share_accuracy_and_length():
    p, q = tasks.heldout("math", 2, 2, seed=0)
    responses = [[p.metadata["terse"], p.metadata["solution"], p.metadata["solution"]],
                 [q.metadata["terse"], "oops", q.metadata["solution"]]]
    corrects = [[False, True, True], [True, False, False]]
    rates = mode_rates([p, q], responses, corrects)["math/2"]
    assert rates["terse"]["n"] == 2 and rates["terse"]["accuracy"] == 0.5
    assert rates["unformatted"] == {"share": 1 / 6, "n": 1, "accuracy": 0.0, "chars": 4.0}
    assert rates["steps"]["n"] == 3 and rates["steps"]["accuracy"] == 2 / 3 and rates["steps"]["share"] == 0.5
    assert rates["steps"]["chars"] == (2 * len(p.metadata["solution"]) + len(q.metadata["solution"])) / 3
    assert abs(sum(r["share"] for r in rates.values()) - 1.0) < 1e-12


def test_cell_rates_use_the_unbiased_estimator():
    p, q = tasks.heldout("code", 2, 1, seed=0)
    rates = cell_rates([p, q], [[True, False, False, False], [False] * 4], k=2)
    # pass@2 with n=4, c=1: 1 - C(3,2)/C(4,2) = 0.5
    assert rates["code/1"] == {"n": 2, "pass@1": 0.125, "pass@2": 0.25}
    assert rates["all"]["n"] == 2
