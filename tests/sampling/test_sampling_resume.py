"""Exact resume: a JSON round trip of state_dict at any point continues the same stream."""

import pytest

from sampling_helpers import json_roundtrip, make_problems, outcome, uids
from srpo.sampling import SAMPLERS, DomainMixture, SamplingConfig

CONFIGS = [
    SamplingConfig(name="uniform"),
    SamplingConfig(name="history_resampling"),
    SamplingConfig(name="history_resampling", hr_epoch_mode="fixed_size", hr_readmit_prob=0.4),
    SamplingConfig(name="history_resampling", hr_drop_threshold=0.5, hr_readmit_prob=0.2),
    SamplingConfig(name="history_resampling", hr_wrong_patience=1, hr_wrong_return=2),
]
STEPS, N, SIZE = 24, 3, 14  # batches of 3 over 14 prompts: boundaries fall inside and at batch edges


def trace(sampler, start, stop):
    """(batch uids, stats) per step of the trainer loop."""
    out = []
    for step in range(start, stop):
        batch = sampler.next_batch(N)
        for p in batch:
            sampler.record(p.uid, outcome(p.uid, step))
        out.append((uids(batch), sampler.stats()))
    return out


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.name}-{c.hr_epoch_mode}-{c.hr_readmit_prob}-{c.hr_wrong_patience}")
def test_roundtrip_at_every_step_matches_uninterrupted(cfg):
    ps = make_problems(SIZE)
    full = trace(SAMPLERS.get(cfg.name)(ps, 11, cfg), 0, STEPS)
    last = full[-1][1]
    assert (last["dropped_total"] > 0) == (cfg.name != "uniform")
    assert (last["readmitted_total"] > 0) == (cfg.hr_readmit_prob > 0 or cfg.hr_wrong_return > 0)
    for cut in range(STEPS):
        first = SAMPLERS.get(cfg.name)(ps, 11, cfg)
        head = trace(first, 0, cut)
        resumed = SAMPLERS.get(cfg.name)(list(reversed(ps)), 999, cfg)  # the state's seed wins
        resumed.load_state_dict(json_roundtrip(first.state_dict()))
        assert head + trace(resumed, cut, STEPS) == full, f"diverged after a cut at step {cut}"


@pytest.mark.parametrize("cfg", CONFIGS[1:3], ids=["hr", "hr-fixed"])
def test_roundtrip_between_next_batch_and_record(cfg):
    """A checkpoint taken after generation but before the records keeps the pending serves."""
    ps = make_problems(SIZE)
    full = trace(SAMPLERS.get(cfg.name)(ps, 5, cfg), 0, STEPS)
    for cut in (4, 9, 14):
        s = SAMPLERS.get(cfg.name)(ps, 5, cfg)
        head = trace(s, 0, cut)
        batch = s.next_batch(N)
        r = SAMPLERS.get(cfg.name)(ps, 5, cfg)
        r.load_state_dict(json_roundtrip(s.state_dict()))
        for p in batch:
            r.record(p.uid, outcome(p.uid, cut))
        got = head + [(uids(batch), r.stats())] + trace(r, cut + 1, STEPS)
        assert got == full


def test_state_is_plain_json_and_guards_mismatches():
    ps = make_problems(6)
    hr = SAMPLERS.get("history_resampling")(ps, 0, SamplingConfig(name="history_resampling"))
    trace(hr, 0, 5)
    state = json_roundtrip(hr.state_dict())
    with pytest.raises(ValueError, match="belongs to a 'history_resampling' sampler, this one is 'uniform'"):
        SAMPLERS.get("uniform")(ps, 0).load_state_dict(state)
    with pytest.raises(ValueError, match="different problem set"):
        SAMPLERS.get("history_resampling")(make_problems(7), 0).load_state_dict(state)


def test_mixture_roundtrip():
    ps = make_problems(9, "math", "m") + make_problems(5, "code", "c")
    cfg = SamplingConfig(name="history_resampling")

    def go(mix, start, stop):
        out = []
        for step in range(start, stop):
            w = {"math": 1.0, "code": (step % 5) / 4}
            batch = mix.next_batch(4, w)
            for p in batch:
                mix.record(p, outcome(p.uid, step))
            out.append((uids(batch), mix.stats()))
        return out

    full = go(DomainMixture.from_problems(ps, 3, cfg), 0, 20)
    for cut in (0, 3, 7, 12, 19):
        a = DomainMixture.from_problems(ps, 3, cfg)
        head = go(a, 0, cut)
        b = DomainMixture.from_problems(ps, 3, cfg)
        b.load_state_dict(json_roundtrip(a.state_dict()))
        assert head + go(b, cut, 20) == full
