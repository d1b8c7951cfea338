"""History resampling when its pool runs dry: ``sampling.hr_on_exhausted`` = floor | readmit | stop."""

import logging

import pytest

from sampling_helpers import json_roundtrip, make_problems, run, uids
from srpo.core.configlib import ConfigError
from srpo.sampling import DomainMixture, HistoryResamplingSampler, SamplingConfig


def hr(n, mode, **kw):
    return HistoryResamplingSampler(make_problems(n), 0,
                                    SamplingConfig(name="history_resampling", hr_on_exhausted=mode, **kw))


MIXED = {"p000", "p001"}


def solved_but_two(uid, step):
    """p000 and p001 stay mixed; every other prompt is solved: 10 of 12 are drop candidates in epoch 0."""
    return [True, False] if uid in MIXED else [True, True]


def solved_later(uid, step):
    """Epoch 0 (steps 0-2): p008..p011 solved, the rest mixed; from step 3 on all but p000, p001 solved."""
    if step < 3:
        return [True, True] if int(uid[1:]) >= 8 else [True, False]
    return solved_but_two(uid, step)


def test_floor_keeps_one_batch_and_logs_once_per_dry_spell(caplog):
    s = hr(12, "floor")
    with caplog.at_level(logging.WARNING, logger="srpo.sampling"):
        run(s, 3, 4, grader=solved_but_two)  # epoch 0 exactly
        batch = s.next_batch(4)  # boundary: 10 candidates, 12 - 10 = 2 < floor 4
        assert s.active_size == 4 and MIXED <= set(s.active_uids)
        for p in batch:
            s.record(p.uid, solved_but_two(p.uid, 3))
        assert s.stats()["floor_hits"] == 1 and not s.exhausted
        for _ in range(3):  # every later boundary is dry too (the two solved ones in the floor set)
            for p in s.next_batch(4):
                s.record(p.uid, solved_but_two(p.uid, 9))
    assert s.stats()["floor_hits"] >= 3 and s.active_size == 4
    lines = [r.getMessage() for r in caplog.records if "pool dry" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "10 of 12 active prompts" in lines[0] and "leave 2 < floor 4" in lines[0]
    assert "hr_on_exhausted=floor" in lines[0]


def test_readmit_brings_every_dropped_prompt_back(caplog):
    s = hr(12, "readmit")
    run(s, 3, 4, grader=solved_later)  # epoch 0: p008..p011 all correct
    s.next_batch(0)
    batch = s.next_batch(4)  # boundary 0 drops 4 (12 - 4 = 8 >= 4): not dry
    assert s.dropped_uids == ["p008", "p009", "p010", "p011"] and s.stats()["floor_hits"] == 0
    for p in batch:
        s.record(p.uid, solved_later(p.uid, 3))
    with caplog.at_level(logging.WARNING, logger="srpo.sampling"):
        run(s, 1, 4, start=4, grader=solved_later)  # epoch 1 (8 prompts) is fully served and recorded
        nxt = s.next_batch(4)  # boundary 1: 6 of 8 candidates, 8 - 6 = 2 < 4: dry -> readmit all
    st = s.stats()
    assert s.active_size == 12 and s.dropped_uids == [] and st["floor_hits"] == 1
    assert st["readmitted_total"] == 4 and st["epoch_readmitted"] == 4 and st["epoch_dropped"] == 0
    assert not s.exhausted
    assert any("hr_on_exhausted=readmit" in r.getMessage() and "all 4 dropped" in r.getMessage()
               for r in caplog.records)
    epoch2 = uids(nxt) + [u for b in run(s, 2, 4, start=6, grader=solved_later) for u in b]
    assert sorted(epoch2) == [f"p{i:03d}" for i in range(12)]  # a fresh pass over the whole pool


def test_stop_applies_the_floor_then_asks_to_end_and_survives_a_checkpoint(caplog):
    s = hr(12, "stop")
    run(s, 3, 4, grader=solved_but_two)
    assert not s.exhausted
    with caplog.at_level(logging.WARNING, logger="srpo.sampling"):
        batch = s.next_batch(4)
    assert len(batch) == 4 and s.active_size == 4  # the batch being drawn is still served
    assert s.exhausted and s.stats()["exhausted"] == 1.0
    assert any("training ends after this step" in r.getMessage() for r in caplog.records)
    again = hr(12, "stop")
    again.load_state_dict(json_roundtrip(s.state_dict()))
    assert again.exhausted
    mix = DomainMixture({"math": s, "code": hr(4, "floor")}, seed=0)
    assert mix.exhausted


def test_not_dry_means_no_mode_matters():
    outcomes = {}
    for mode in ("floor", "readmit", "stop"):
        s = hr(12, mode)
        run(s, 3, 4, grader=solved_later)
        s.next_batch(4)
        outcomes[mode] = (s.active_uids, s.stats()["floor_hits"], s.exhausted)
    assert outcomes["floor"] == outcomes["readmit"] == outcomes["stop"]
    assert outcomes["floor"][1] == 0 and len(outcomes["floor"][0]) == 8


def test_bad_mode_is_refused_with_the_field_name():
    with pytest.raises(ConfigError, match="hr_on_exhausted"):
        SamplingConfig(name="history_resampling", hr_on_exhausted="refill").validate()
