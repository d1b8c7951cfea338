"""The prompt-selection rules beside uniform / HR / dynamic sampling: HR's patience for all-wrong prompts and
prime-rl's difficulty pools (issue 26). Each: hand cases, exact resume, and the contract with the loop."""

import pytest

from sampling_helpers import json_roundtrip, make_problems, outcome, uids
from srpo.core.configlib import ConfigError
from srpo.core.problem import Problem
from srpo.sampling import SAMPLERS, DifficultyPoolSampler, HistoryResamplingSampler, SamplingConfig
from srpo.sampling.difficulty_pool import draw_from_pools, pool_quota
from srpo.sampling.history import update_streaks

import numpy as np


def loop(sampler, steps, n, grader):
    out = []
    for step in range(steps):
        batch = sampler.next_batch(n)
        for p in batch:
            sampler.record(p.uid, grader(p.uid, step))
        out.append((uids(batch), sampler.stats()))
    return out


# ---- HR patience -----------------------------------------------------------------------------------

def never_solved(uid, step):
    """p000, p001 never solved, p002 always solved, the rest mixed."""
    k = int(uid[-3:])
    return [False] * 4 if k < 2 else [True] * 4 if k == 2 else [True, False, True, False]


def test_patience_off_keeps_all_wrong_prompts_forever():
    h = HistoryResamplingSampler(make_problems(8), 0, SamplingConfig(name="history_resampling"))
    loop(h, 16, 4, never_solved)  # 8 epochs of 8 prompts (then 7 after p002 leaves)
    assert {"p000", "p001"} <= set(h.active_uids)
    assert h.dropped_uids == ["p002"] and h.stats()["set_aside"] == 0.0


def test_patience_sets_aside_after_p_all_wrong_epochs_and_returns_after_q():
    cfg = SamplingConfig(name="history_resampling", hr_wrong_patience=2, hr_wrong_return=3)
    h = HistoryResamplingSampler(make_problems(8), 0, cfg)
    seen_out = {}
    for step in range(40):
        for p in h.next_batch(2):
            h.record(p.uid, never_solved(p.uid, step))
        seen_out[h.epoch] = (h.set_aside_uids, h.active_uids)
    # epoch 0 and epoch 1 all wrong -> set aside at the end of epoch 1, so absent from epoch 2's active set
    assert seen_out[2][0] == ["p000", "p001"] and "p000" not in seen_out[2][1]
    # set aside at epoch 1's boundary, back after 3 epochs: at the end of epoch 4, active again in epoch 5
    assert seen_out[4][0] == ["p000", "p001"]
    assert seen_out[5][0] == [] and {"p000", "p001"} <= set(seen_out[5][1])
    stats = h.stats()
    assert stats["set_aside_total"] >= 4 and stats["returned_total"] >= 2


def test_patience_respects_the_floor_and_readmits_when_the_pool_runs_dry():
    """Four prompts, batches of 2: after p002 leaves the pool, only one prompt may be set aside; when
    drops would go below the floor (readmit mode) every dropped and set-aside prompt comes back."""
    cfg = SamplingConfig(name="history_resampling", hr_wrong_patience=1)
    h = HistoryResamplingSampler(make_problems(4), 0, cfg)
    for step in range(6):
        for p in h.next_batch(2):
            h.record(p.uid, never_solved(p.uid, step))
        assert h.active_size >= 2
    assert len(h.set_aside_uids) <= 1


def test_patience_leaves_the_published_hr_stream_unchanged_when_off():
    ps = make_problems(14)
    base = loop(HistoryResamplingSampler(ps, 3, SamplingConfig(name="history_resampling")), 20, 3, outcome)
    off = loop(HistoryResamplingSampler(ps, 3, SamplingConfig(name="history_resampling", hr_wrong_return=4)),
               20, 3, outcome)
    assert [b for b, _ in base] == [b for b, _ in off]


def test_update_streaks_counts_only_served_epochs():
    assert update_streaks({}, {"a": [0, 2]}) == {"a": 1}
    assert update_streaks({"a": 1}, {"b": [1, 2]}) == {"a": 1}
    assert update_streaks({"a": 5}, {"a": [1, 8]}) == {}


def test_patience_options_are_checked():
    with pytest.raises(ConfigError, match="hr_wrong_patience"):
        SamplingConfig(name="history_resampling", hr_wrong_patience=-1).validate()


# ---- difficulty pools --------------------------------------------------------------------------------

def test_quota_follows_prime_rl_defaults():
    assert pool_quota(32, 0.1, 0.1) == {"easy": 3, "normal": 26, "hard": 3}
    assert pool_quota(5, 0.1, 0.1) == {"easy": 0, "normal": 5, "hard": 0}


def test_shortfalls_go_to_normal_then_to_whatever_is_left():
    rng = np.random.default_rng(0)
    members = {"easy": ["e0"], "normal": ["n0", "n1"], "hard": ["h0", "h1", "h2"]}
    out = draw_from_pools(members, {"easy": 2, "normal": 2, "hard": 2}, rng)
    assert len(out) == 6 and len(set(out)) == 6  # e0, both normals, then the shortfall from the hard pool
    tiny = draw_from_pools({"easy": [], "normal": ["n0"], "hard": []}, {"easy": 0, "normal": 3, "hard": 0}, rng)
    assert tiny == ["n0", "n0", "n0"]  # only with a data set smaller than the batch do prompts repeat


def test_prompts_move_between_pools_by_latest_pass_rate():
    s = DifficultyPoolSampler(make_problems(10), 0, SamplingConfig(name="difficulty_pool"))
    s.next_batch(10)
    s.record("p000", [True] * 5)            # 1.0 > 0.8: easy
    s.record("p001", [True] * 4 + [False])  # 0.8 is not > 0.8: normal
    s.record("p002", [False] * 5)           # 0.0 < 0.2: hard
    st = s.stats()
    assert (st["pool_easy"], st["pool_normal"], st["pool_hard"]) == (1.0, 8.0, 1.0)
    s.record("p000", [False] * 5)  # the latest group decides, not a history
    assert s.stats()["pool_hard"] == 2.0 and s.stats()["pool_moves"] == 3.0


def test_batches_mix_the_pools_by_fraction():
    cfg = SamplingConfig(name="difficulty_pool", pool_easy_fraction=0.25, pool_hard_fraction=0.25)
    s = DifficultyPoolSampler(make_problems(40), 1, cfg)
    for uid in [f"p{i:03d}" for i in range(10)]:
        s.record(uid, [True] * 4)
    for uid in [f"p{i:03d}" for i in range(10, 20)]:
        s.record(uid, [False] * 4)
    batch = uids(s.next_batch(8))
    assert sum(int(u[1:]) < 10 for u in batch) == 2 and sum(10 <= int(u[1:]) < 20 for u in batch) == 2
    assert len(set(batch)) == 8


def test_start_from_labels_uses_curated_difficulty():
    ps = [Problem(uid=f"u{i}", domain="math", prompt="q", answer="1", difficulty=d)
          for i, d in enumerate(["easy", "medium", "hard", None])]
    st = DifficultyPoolSampler(ps, 0, SamplingConfig(name="difficulty_pool", pool_start_from_labels=True)).stats()
    assert (st["pool_easy"], st["pool_normal"], st["pool_hard"]) == (1.0, 2.0, 1.0)


@pytest.mark.parametrize("cut", [0, 3, 7, 11])
def test_difficulty_pool_resumes_exactly(cut):
    ps = make_problems(14)
    cfg = SamplingConfig(name="difficulty_pool", pool_easy_fraction=0.2, pool_hard_fraction=0.3)
    full = loop(DifficultyPoolSampler(ps, 4, cfg), 16, 5, outcome)
    first = DifficultyPoolSampler(ps, 4, cfg)
    head = loop(first, cut, 5, outcome)
    resumed = DifficultyPoolSampler(list(reversed(ps)), 99, cfg)
    resumed.load_state_dict(json_roundtrip(first.state_dict()))
    tail = []
    for step in range(cut, 16):
        batch = resumed.next_batch(5)
        for p in batch:
            resumed.record(p.uid, outcome(p.uid, step))
        tail.append((uids(batch), resumed.stats()))
    assert head + tail == full


def test_difficulty_pool_state_guards_mismatches():
    s = SAMPLERS.get("difficulty_pool")(make_problems(6), 0, SamplingConfig(name="difficulty_pool"))
    state = s.state_dict()
    with pytest.raises(ValueError, match="different problem set"):
        DifficultyPoolSampler(make_problems(7), 0, SamplingConfig(name="difficulty_pool")).load_state_dict(state)
    with pytest.raises(ValueError, match="belongs to a 'difficulty_pool'"):
        HistoryResamplingSampler(make_problems(6), 0, SamplingConfig(name="history_resampling")).load_state_dict(state)


@pytest.mark.parametrize("field, value", [("pool_easy_border", 1.5), ("pool_hard_fraction", -0.1)])
def test_difficulty_pool_options_are_checked(field, value):
    with pytest.raises(ConfigError, match=field):
        SamplingConfig(name="difficulty_pool", **{field: value}).validate()
    with pytest.raises(ConfigError, match="pool_hard_border"):
        SamplingConfig(name="difficulty_pool", pool_easy_border=0.3, pool_hard_border=0.5).validate()


# ---- stage-start filtering (Skywork-OR1) -------------------------------------------------------------

def staged_stream(filter_on: bool, sampler: str = "uniform"):
    from srpo.curriculum import Curriculum, CurriculumConfig
    from srpo.sampling import DomainMixture
    from srpo.sampling.stream import StepStream

    ps = make_problems(12) + make_problems(4, domain="code", prefix="c")
    mixture = DomainMixture.from_problems(ps, 3, SamplingConfig(name=sampler))
    cfg = CurriculumConfig(preset="staged", switch_step=8, plateau_window=None, code_share=0.5,
                           filter_solved_at_stage_start=filter_on)
    return StepStream(mixture, Curriculum(cfg, domain_sizes=mixture.domain_sizes()), ps, 4, 20, 0)


SOLVED = {"p000", "p004", "p008"}  # always solved in stage 1; p001 is solved once, then missed


def stage_grader(uid, step):
    if uid in SOLVED:
        return [True] * 4
    return [True] * 4 if uid == "p001" and step % 2 else [False, True, False, True]


def drive(stream, steps):
    drawn = []
    for _ in range(steps):
        entry = stream.draw_step()
        drawn.append(list(entry["uids"]))
        for uid in entry["uids"]:
            stream.record(uid, stage_grader(uid, entry["step"]))
        stream.observe(entry["step"], [1.0])
        stream.pop_oldest()
    return drawn


@pytest.mark.parametrize("sampler", ["uniform", "history_resampling", "difficulty_pool"])
def test_stage_start_filter_retires_what_stage_one_always_solved(sampler):
    s = staged_stream(True, sampler)
    drawn = drive(s, 20)
    stage1, stage2 = drawn[:7], drawn[7:]  # stream steps count from 1: step 8 (drawn[7]) opens stage 2
    visits = {}
    for step, batch in enumerate(stage1, start=1):
        for uid in batch:
            visits.setdefault(uid, []).append(all(stage_grader(uid, step)))
    always = {u for u, oks in visits.items() if all(oks)}
    retired = set(s.mixture.samplers["math"].retired_uids)
    assert SOLVED & always and retired <= always
    if sampler != "history_resampling":  # HR has already dropped some of them at its own epoch boundaries
        assert retired == always
    assert not retired & {u for batch in stage2 for u in batch}
    assert s.stats()["sampler/stage_retired_total"] == len(retired)


def test_stage_start_filter_off_retires_nothing_and_the_state_round_trips():
    off = staged_stream(False)
    drive(off, 20)
    assert off.stats()["sampler/stage_retired_total"] == 0.0
    on = staged_stream(True)
    drive(on, 9)
    state = json_roundtrip(on.state_dict())
    resumed = staged_stream(True)
    resumed.load_state_dict(state)
    assert drive(resumed, 11) == drive(on, 11)


def test_retire_keeps_the_floor_and_no_readmission_brings_prompts_back():
    cfg = SamplingConfig(name="history_resampling", hr_readmit_prob=1.0)
    h = HistoryResamplingSampler(make_problems(6), 0, cfg)
    h.next_batch(2)
    assert h.retire([f"p{i:03d}" for i in range(6)]) == 4  # floor: the largest batch drawn (2)
    assert h.active_size == 2 and h.stats()["retired_total"] == 4.0
    loop(h, 12, 2, outcome)
    assert h.active_size <= 2
    pool = DifficultyPoolSampler(make_problems(3), 0, SamplingConfig(name="difficulty_pool"))
    assert pool.retire(["p000", "p001", "p002"]) == 2 and uids(pool.next_batch(2)) == ["p002", "p002"]
