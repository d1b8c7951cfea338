import logging

import pytest

from sampling_helpers import make_problems
from srpo.sampling import UniformSampler, collect_dynamic_batch, is_mixed


class FakeGen:
    """Groups are (uid, corrects); `solve(uid)` gives the outcome. Counts what was generated."""

    def __init__(self, solve, g=4):
        self.solve, self.g, self.calls = solve, g, []

    def __call__(self, prompts):
        self.calls.append(len(prompts))
        return [(p.uid, self.solve(p.uid)) for p in prompts]


def collect(gen, solve_sampler, batch=4, rounds=5, oversample=2.0, refill="fixed"):
    return collect_dynamic_batch(solve_sampler.next_batch, gen, lambda g: is_mixed(g[1]), batch, rounds,
                                 oversample, group_corrects=lambda g: g[1], refill=refill)


def kind(uid):
    return int(uid[1:]) % 4  # 0 all correct, 1 all wrong, 2/3 mixed


def solve(uid):
    return {0: [True] * 4, 1: [False] * 4}.get(kind(uid), [True, False, True, True])


def test_fills_batch_with_informative_groups_only():
    gen = FakeGen(solve)
    groups, st = collect(gen, UniformSampler(make_problems(40), 0))
    assert len(groups) == 4 and all(is_mixed(c) for _, c in groups)
    assert st["cap_hit"] == 0 and st["shortfall"] == 0 and st["groups_kept"] == 4
    assert gen.calls == [8] * int(st["rounds"]) and st["groups_generated"] == 8 * st["rounds"]
    assert st["groups_informative"] + st["groups_filtered"] == st["groups_generated"]
    assert st["filtered_all_correct"] + st["filtered_all_wrong"] == st["groups_filtered"]
    assert st["groups_surplus"] == st["groups_informative"] - 4


def test_cap_hit_trains_on_survivors_and_logs(caplog):
    rare = lambda uid: [True, False] if uid == "p007" else [True, True]  # noqa: E731
    gen = FakeGen(rare)
    with caplog.at_level(logging.WARNING, logger="srpo.sampling"):
        groups, st = collect(gen, UniformSampler(make_problems(40), 0), batch=4, rounds=3)
    assert st["rounds"] == 3 and st["cap_hit"] == 1 and len(groups) == st["groups_kept"] <= 1
    assert st["shortfall"] == 4 - st["groups_kept"]
    assert "training on what survived" in caplog.text


def test_zero_survivors_returns_empty():
    gen = FakeGen(lambda uid: [True] * 4)
    groups, st = collect(gen, UniformSampler(make_problems(10), 0), batch=3, rounds=2, oversample=1.0)
    assert groups == [] and st["groups_kept"] == 0 and st["cap_hit"] == 1
    assert st["filtered_all_correct"] == st["groups_generated"] == 6 and st["keep_rate"] == 0


def test_need_refill_sizes_rounds_by_missing_groups():
    # first round: 1.5 * 4 = 6 prompts, 2 of them informative -> then ceil(1.5 * 2) = 3
    gen = FakeGen(lambda uid: [True, False] if uid in ("p000", "p001") else [False, False])
    problems = make_problems(6)
    stream = iter([problems, problems[3:], problems[:3]])
    groups, st = collect_dynamic_batch(lambda k: next(stream)[:k], gen, lambda g: is_mixed(g[1]), 4, 3, 1.5,
                                       refill="need")
    assert gen.calls == [6, 3, 3] and st["prompts_requested"] == 12
    assert len(groups) == 4 and st["cap_hit"] == 0 and "filtered_all_correct" not in st


def test_exhausted_stream_stops_without_cap():
    groups, st = collect_dynamic_batch(lambda k: [], FakeGen(solve), lambda g: True, 4, 10, 1.0)
    assert groups == [] and st["exhausted"] == 1 and st["rounds"] == 1 and st["cap_hit"] == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_rounds >= 1"):
        collect_dynamic_batch(lambda k: [], FakeGen(solve), lambda g: True, 4, 0, 1.0)
