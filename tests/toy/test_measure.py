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


def test_check_rates_split_accuracy_by_whether_the_response_checks():
    from srpo.toy.measure import check_rates, format_checks, has_check

    p, q = tasks.heldout("math", 2, 3, seed=0)
    assert response_mode(p.metadata["checked"], p) == "checked"
    assert has_check(p.metadata["checked"]) and not has_check(p.metadata["solution"])
    wrong_draft = p.metadata["checked"].replace(
        f"={p.answer} let me check", f"={int(p.answer) + 1} let me check", 1)
    responses = [[p.metadata["checked"], wrong_draft, p.metadata["terse"]],
                 [q.metadata["solution"], q.metadata["terse"], "oops"]]
    corrects = [[True, True, False], [True, False, False]]
    r = check_rates([p, q], responses, corrects)
    assert set(r) == {"math/3", "math", "all"}
    m = r["math/3"]
    assert m["n"] == 6 and m["n_with"] == 2 and m["share"] == 2 / 6
    assert m["acc_with"] == 1.0 and m["acc_without"] == 1 / 4
    assert m["draft_wrong"] >= 0.5 and m["corrected"] == 1.0
    assert "| math/3 | 6 |" in format_checks(r)
    none = check_rates([q], [[q.metadata["terse"]]], [[False]])["math/3"]
    assert none["acc_with"] is None and none["draft_wrong"] is None and none["corrected"] is None


def test_check_trend_reads_first_and_last_steps_of_a_sample_log(tmp_path):
    import json

    from srpo.toy.measure import check_trend

    p = tasks.heldout("math", 1, 2, seed=0)[0]
    rows = [{"step": 1, "domain": "math", "response": p.metadata["terse"], "correct": False},
            {"step": 1, "domain": "math", "response": p.metadata["checked"], "correct": True},
            {"step": 2, "domain": "code", "response": "let me check", "correct": True},
            {"step": 3, "domain": "math", "response": p.metadata["checked"], "correct": True},
            {"step": 3, "domain": "math", "response": p.metadata["checked"], "correct": False}]
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    t = check_trend(path, first=1, last=1)
    assert t["first"] == {"steps": "1-1", "n": 2, "share": 0.5, "acc_with": 1.0, "acc_without": 0.0, "acc": 0.5}
    assert t["last"] == {"steps": "3-3", "n": 2, "share": 1.0, "acc_with": 0.5, "acc_without": None, "acc": 0.5}
