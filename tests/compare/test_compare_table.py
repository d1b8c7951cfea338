"""The comparison table's math against hand-computed cases and independent references."""

import json
import math

import numpy as np
import pytest

from srpo.report.compare import (
    RunData, group_split, halves, load_compared_run, markdown, rollouts_to_target, summarize_compared_run, t_interval,
    table_rows, wilson,
)

Z = 1.959963984540054


def test_t_interval_hand_cases():
    mean, half = t_interval([0.2, 0.3, 0.4])  # s = 0.1, t_{0.975,2} = 4.303
    assert mean == pytest.approx(0.3) and half == pytest.approx(4.303 * 0.1 / math.sqrt(3))
    assert t_interval([0.3, 0.5]) == (pytest.approx(0.4), pytest.approx(12.706 * math.sqrt(0.02) / math.sqrt(2)))
    assert t_interval([0.7]) == (0.7, None)
    values = [0.1 * (i % 5) for i in range(40)]  # df 39 > 30: the normal quantile
    s = np.std(values, ddof=1)
    assert t_interval(values)[1] == pytest.approx(Z * s / math.sqrt(40))


def _wilson_roots(k, n):
    """Float64 reference: the two roots in p of (p_hat - p)^2 = z^2 p (1 - p) / n."""
    ph, a = k / n, 1 + Z * Z / n
    b, c = -(2 * ph + Z * Z / n), ph * ph
    disc = math.sqrt(b * b - 4 * a * c)
    return (-b - disc) / (2 * a), (-b + disc) / (2 * a)


@pytest.mark.parametrize("k,n", [(0, 10), (5, 10), (10, 10), (37, 400), (399, 400), (1, 3)])
def test_wilson_matches_the_quadratic_roots(k, n):
    lo, hi = wilson(k, n)
    ref_lo, ref_hi = _wilson_roots(k, n)
    assert lo == pytest.approx(max(0.0, ref_lo), abs=1e-12) and hi == pytest.approx(min(1.0, ref_hi), abs=1e-12)


def test_wilson_hand_case_and_error():
    assert wilson(0, 10)[1] == pytest.approx(Z * Z / (10 + Z * Z))  # k = 0: upper bound z^2 / (n + z^2)
    with pytest.raises(ValueError, match="n > 0"):
        wilson(0, 0)


def test_rollouts_to_target():
    evals = [(0, 0.2), (640, 0.29), (1280, 0.31), (1920, 0.28)]
    assert rollouts_to_target(evals, 0.3) == 1280  # the first crossing counts even if it falls back
    assert rollouts_to_target(evals, 0.2) == 0
    assert rollouts_to_target(evals, 0.5) is None


def test_halves_split_by_step_and_skip_the_initial_eval():
    rows = [{"step": s} for s in range(0, 6)]
    early, late = halves(rows)
    assert [r["step"] for r in early] == [1, 2] and [r["step"] for r in late] == [3, 4, 5]
    assert halves([{"step": 0}]) == ([], [])


def test_group_split_counts_dynamic_sampling_discards_as_generated():
    uniform = {"groups/count": 8, "groups/zero_adv_frac": 0.75, "groups/all_correct_frac": 0.5,
               "groups/all_wrong_frac": 0.25}
    ds = {"groups/count": 8, "groups/zero_adv_frac": 0.0, "groups/all_correct_frac": 0.0,
          "groups/all_wrong_frac": 0.0, "dynamic/groups_generated": 24, "dynamic/groups_filtered": 14,
          "dynamic/filtered_all_correct": 10, "dynamic/filtered_all_wrong": 4}
    assert group_split([uniform]) == {"zero": 0.75, "all_correct": 0.5, "all_wrong": 0.25, "effective": 0.25}
    got = group_split([ds])
    assert got == pytest.approx({"zero": 14 / 24, "all_correct": 10 / 24, "all_wrong": 4 / 24, "effective": 1.0})
    both = group_split([uniform, ds])  # ratios of sums: (6 + 14) / (8 + 24) zero, 6 / 16 of trained zero
    assert both == pytest.approx({"zero": 20 / 32, "all_correct": 14 / 32, "all_wrong": 6 / 32,
                                  "effective": 1 - 6 / 16})
    assert group_split([])["zero"] is None


def write_run(path, evals, steps=4, zero=0.5, length=20.0, marker=True):
    """A run directory: `evals` = {step: pass@1}; every step has 8 groups with the given zero share."""
    path.mkdir(parents=True)
    rows = []
    for step in range(steps + 1):
        row = {"step": step}
        if step:
            row.update({"groups/count": 8, "groups/zero_adv_frac": zero, "groups/all_correct_frac": zero,
                        "groups/all_wrong_frac": 0.0, "sampler/rollouts_total": 64.0 * step,
                        "math/response_len_mean": length + step, "reflect/math/any_frac": 0.1 * step})
        if step in evals:
            row["eval/math/pass@1"] = evals[step]
        rows.append(row)
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if marker:
        (path / "compare.json").write_text(json.dumps({"heldout_problems": {"math": 100}, "eval_samples": 4}))
    return path


def test_summarize_run_and_table(tmp_path):
    a = load_compared_run("hr", write_run(tmp_path / "a", {0: 0.2, 2: 0.4, 4: 0.5}))
    b = load_compared_run("hr", write_run(tmp_path / "b", {0: 0.2, 2: 0.3, 4: 0.3}, zero=0.25))
    sa = summarize_compared_run(a, ["math"], ("math", 0.4))
    assert sa["math/pass@1"] == 0.5 and sa["math/pass@1_start"] == 0.2 and sa["to_target"] == 128.0
    lo, hi = wilson(200, 400)  # 100 problems x 4 samples, pass@1 0.5
    assert sa["math/wilson_half"] == pytest.approx((hi - lo) / 2)
    assert sa["math/len_early"] == pytest.approx(21.5) and sa["math/len_late"] == pytest.approx(23.5)
    assert sa["late"]["zero"] == 0.5 and sa["steps"] == 4 and sa["rollouts"] == 256.0
    sb = summarize_compared_run(b, ["math"], ("math", 0.4))
    assert sb["to_target"] is None
    header, rows = table_rows({"hr": [sa, sb]}, ["math"], ("math", 0.4), ["math"], ["math"])
    row = dict(zip(header, rows[0]))
    half = 12.706 * np.std([0.5, 0.3], ddof=1) / math.sqrt(2)
    assert row["math pass@1 start → final (± t95 over seeds) [run Wilson ±]"].startswith(f"0.200 → 0.400 ± {half:.3f}")
    assert row["rollouts to math pass@1 ≥ 0.4"] == "128 (1/2 seeds)"
    assert row["zero-adv early → late"] == "0.38 → 0.38" and row["effective ratio late (trained)"].startswith("0.62 ±")
    assert markdown(header, rows).count("\n") == 3


def test_a_run_without_marker_has_no_binomial_interval(tmp_path):
    run = load_compared_run("u", write_run(tmp_path / "u", {0: 0.2, 4: 0.3}, marker=False))
    assert "math/wilson_half" not in summarize_compared_run(run, ["math"], None)
    with pytest.raises(FileNotFoundError, match="no metrics.jsonl"):
        load_compared_run("u", tmp_path / "missing")
    assert isinstance(run, RunData)


def test_switch_dip_reads_around_the_first_stage_change():
    from srpo.report.compare import switch_dip

    rewards = [0.4] * 10 + [0.2] * 5 + [0.5] * 10  # stage 2 from step 11: a dip to 0.2, then 0.5
    rows = [{"step": 0}] + [{"step": i + 1, "stage": 1 + (i >= 10), "r": v} for i, v in enumerate(rewards)]
    before, low, end = switch_dip(rows, "r", window=5)
    assert (before, low, end) == (pytest.approx(0.4), pytest.approx(0.2), pytest.approx(0.5))
    assert switch_dip([{"step": 1, "stage": 1, "r": 0.1}], "r") is None
