import numpy as np
import pytest

from sampling_helpers import make_problems, run, uids
from srpo.sampling import HistoryResamplingSampler, SamplingConfig, select_drops


def hr(n, seed=0, **kw):
    return HistoryResamplingSampler(make_problems(n), seed, SamplingConfig(name="history_resampling", **kw))


def by_table(table):
    """Grader from a {uid: corrects} table (default: mixed)."""
    return lambda uid, step: table.get(uid, [True, False])


def test_drops_exactly_all_correct_at_boundary_lazily():
    s = hr(12)
    solved = {f"p{i:03d}" for i in range(0, 12, 3)}  # 4 all-correct
    table = {u: [True] * 4 for u in solved} | {f"p{i:03d}": [False] * 4 for i in range(1, 12, 3)}
    run(s, 3, 4, grader=by_table(table))  # exactly one epoch
    assert s.active_size == 12 and s.stats()["dropped_total"] == 0  # not decided before the next call
    nxt = uids(s.next_batch(4))
    assert s.active_size == 8 and set(s.dropped_uids) == solved
    assert not solved & set(nxt)
    st = s.stats()
    assert st["epoch_dropped"] == 4 and st["epoch_frac_all_correct"] == pytest.approx(1 / 3)
    assert st["epoch_frac_all_wrong"] == pytest.approx(1 / 3) and st["epoch_frac_mixed"] == pytest.approx(1 / 3)


def test_threshold_below_one_drops_at_or_above():
    s = hr(4, hr_drop_threshold=0.75)
    table = {"p000": [True] * 4, "p001": [True, True, True, False], "p002": [True, True, False, False],
             "p003": [False] * 4}
    run(s, 2, 2, grader=by_table(table))  # batch 2: floor 2 leaves room for 2 drops
    s.next_batch(2)
    assert s.dropped_uids == ["p000", "p001"] and s.active_uids == ["p002", "p003"]


def test_removals_accumulate_and_dropped_never_served_again():
    s = hr(16)
    # epoch 0 solves p000..p003, epoch 1 additionally p004..p007
    grader = lambda uid, step: [int(uid[1:]) < (4 if step < 4 else 8)] * 2  # noqa: E731
    served = run(s, 4, 4, grader=grader)  # epoch 0
    s.next_batch(0)
    seen_e1 = run(s, 3, 4, start=4, grader=grader)  # epoch 1 (12 active, batch 4: aligned)
    assert all(int(u[1:]) >= 4 for b in seen_e1 for u in b)
    assert sorted(u for b in seen_e1 for u in b) == [f"p{i:03d}" for i in range(4, 16)]
    later = run(s, 6, 4, start=7, grader=grader)
    assert s.dropped_uids == [f"p{i:03d}" for i in range(8)]
    assert all(int(u[1:]) >= 8 for b in later for u in b)
    assert s.stats()["dropped_total"] == 8 and len(served) == 4


def test_unrecorded_and_mixed_prompts_stay():
    s = hr(8)
    for _ in range(4):
        for p in s.next_batch(2):
            if p.uid != "p000":  # the trainer never reported p000 (e.g. generation failed)
                s.record(p.uid, [True, True] if p.uid <= "p003" else [True, False])
    first = s.next_batch(2)
    assert s.dropped_uids == ["p001", "p002", "p003"]
    assert s.active_uids == ["p000", "p004", "p005", "p006", "p007"]
    # the forgotten serve of epoch 0 must not swallow p000's epoch-1 record
    batches = [first, s.next_batch(2), s.next_batch(1)]  # exactly epoch 1 (5 prompts)
    assert sorted(uids(batches[0] + batches[1] + batches[2])) == s.active_uids
    for p in (p for b in batches for p in b):
        s.record(p.uid, [True, True] if p.uid == "p000" else [True, False])
    s.next_batch(1)
    assert s.dropped_uids == ["p001", "p002", "p003", "p000"] and s.stats()["unmatched_records"] == 0


def test_readmission_probability_one_and_zero():
    solved = lambda uid, step: [uid < "p004"] * 2  # noqa: E731
    s = hr(8, hr_readmit_prob=1.0)
    run(s, 4, 2, grader=solved)
    s.next_batch(0)
    s.next_batch(2)  # epoch-0 boundary: drop p000..p003
    assert s.active_size == 4
    run(s, 1, 2, grader=solved)  # finish epoch 1 (4 active prompts)
    s.next_batch(2)  # epoch-1 boundary: all four come back
    assert s.active_size == 8 and s.stats()["readmitted_total"] == 4
    s0 = hr(8, hr_readmit_prob=0.0)
    run(s0, 6, 2, grader=solved)
    s0.next_batch(2)
    assert s0.active_size == 4 and s0.stats()["readmitted_total"] == 0


def test_readmission_statistical_and_deterministic_per_seed():
    def readmitted(seed):
        n = 200
        s = hr(n + 4, seed=seed, hr_readmit_prob=0.3)
        solved = lambda uid, step: [int(uid[1:]) < n] * 2  # noqa: E731
        run(s, (n + 4) // 4, 4, grader=solved)  # one full epoch, aligned
        run(s, 1, 4, grader=lambda u, t: [False, True])  # decides epoch 0; serves epoch 1 (4 prompts)
        assert s.stats()["dropped_total"] == n
        s.next_batch(4)  # decides epoch 1: readmission draw
        return set(s.active_uids) - {f"p{i:03d}" for i in range(n, n + 4)}

    a, b, c = readmitted(1), readmitted(1), readmitted(2)
    assert a == b and a != c
    for r in (a, c):
        assert 34 <= len(r) <= 86  # Binomial(200, 0.3): mean 60, sd 6.5, +-4 sd


def test_epoch_modes():
    solved = lambda uid, step: [uid < "p004"] * 2  # noqa: E731
    active = hr(10, hr_epoch_mode="active_pass")
    fixed = hr(10, hr_epoch_mode="fixed_size")
    for s in (active, fixed):
        run(s, 5, 2, grader=solved)  # epoch 0 exactly
    e1_active = [u for b in run(active, 3, 2, start=5, grader=solved) for u in b]
    assert sorted(e1_active) == [f"p{i:03d}" for i in range(4, 10)] and active.epoch == 1
    e1_fixed = [u for b in run(fixed, 5, 2, start=5, grader=solved) for u in b]
    assert fixed.epoch == 1 and len(e1_fixed) == 10
    assert set(e1_fixed) == {f"p{i:03d}" for i in range(4, 10)}  # every active prompt, repeats allowed
    fixed.next_batch(1)
    assert fixed.epoch == 2 and active.epoch == 1


def test_floor_keeps_hardest_candidates():
    table = {"p000": [True] * 4, "p001": [True] * 4, "p002": [True, True, True, False],
             "p003": [True, True, True, False], "p004": [True, True, True, True], "p005": [True, False]}
    s = hr(6, hr_drop_threshold=0.7, hr_on_exhausted="floor")
    run(s, 3, 2, grader=by_table(table))
    s.next_batch(2)  # floor = max(1, 0, 2) = 2 -> room for 4 drops out of 5 candidates
    assert len(s.dropped_uids) == 4 and s.stats()["floor_hits"] == 1
    assert set(s.dropped_uids) == {"p000", "p001", "p004"} | (set(s.dropped_uids) & {"p002", "p003"})
    assert "p005" in s.active_uids
    s2 = hr(6, hr_min_active=5, hr_on_exhausted="floor")
    run(s2, 3, 2, grader=lambda u, t: [True, True])
    s2.next_batch(2)
    assert s2.active_size == 5 and s2.stats()["epoch_floor_hit"] == 1


def test_select_drops_floor_ties_are_seeded():
    tallies = {u: [2, 2] for u in "abcdef"}
    picks = {tuple(select_drops(list("abcdef"), tallies, 1.0, 3, np.random.default_rng(s))[0]) for s in range(20)}
    assert all(len(p) == 3 for p in picks) and len(picks) > 1


def test_crossing_batch_records_count_for_their_epoch():
    probe = hr(5, seed=4)
    order = uids(probe.next_batch(5))
    last = order[-1]  # served in the crossing batch below, recorded after the boundary was crossed
    s = hr(5, seed=4)
    grader = lambda uid, step: [uid == last] * 2 if uid == last else [True, False]  # noqa: E731
    run(s, 1, 4, grader=grader)
    crossing = s.next_batch(4)  # last of epoch 0 + 3 of epoch 1 (provisional)
    assert uids(crossing)[0] == last and s.epoch == 1
    for p in crossing:
        s.record(p.uid, grader(p.uid, 1))
    assert s.active_size == 5
    s.next_batch(0)
    assert s.active_size == 5  # n=0 does not settle anything
    nxt = s.next_batch(4)
    assert s.dropped_uids == [last] and s.active_size == 4  # epoch 0 decided with the late records
    for p in nxt:
        s.record(p.uid, grader(p.uid, 2))
    rest = uids(nxt) + [u for b in run(s, 4, 4, start=3, grader=grader) for u in b]
    assert last not in rest  # a dropped prompt can only reappear in the crossing batch itself
    # epoch 1 = the provisional head + the redrawn rest: every active prompt exactly once
    head = uids(crossing)[1:]
    kept_in_head = [u for u in head if u != last]
    e1 = kept_in_head + rest[:4 - len(kept_in_head)]
    assert sorted(e1) == sorted(set(order) - {last})


def test_small_active_set_batches_span_several_epochs():
    s = hr(3)
    batches = run(s, 3, 8, grader=lambda u, t: [True, True])
    assert all(len(b) == 8 for b in batches)
    assert s.active_size == 3 and s.stats()["floor_hits"] >= 1  # floor 8 > 3: nothing may be dropped
