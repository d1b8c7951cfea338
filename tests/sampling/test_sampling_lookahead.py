"""History resampling when the engine draws ahead: batch k+1 (and k+2) is drawn before batch k is recorded,
as TRL/accelerate's prefetch and verl's async modes do. An epoch must close only when every prompt served
in it has been recorded."""

from collections import deque

import pytest

from sampling_helpers import json_roundtrip, make_problems
from srpo.sampling import DomainMixture, HistoryResamplingSampler, SamplingConfig, UniformSampler

SOLVED = {f"p{i:03d}" for i in (0, 3, 5, 8, 11)}  # five prompts every rollout solves


def grade(uid: str) -> list[bool]:
    return [True] * 4 if uid in SOLVED else [True, False, False, True]


def run_ahead(sampler, steps: int, n: int, lookahead: int, on_decide=None) -> list[list[str]]:
    """An engine that keeps `lookahead` drawn batches unscored: batch k is recorded after batch k+L is drawn."""
    queue: deque = deque()
    served = []
    for _ in range(steps):
        before = sampler.stats()["epochs_completed"]
        batch = sampler.next_batch(n)
        if on_decide and sampler.stats()["epochs_completed"] > before:
            on_decide(sampler.stats())
        served.append([p.uid for p in batch])
        queue.append(batch)
        while len(queue) > lookahead:
            for p in queue.popleft():
                sampler.record(p.uid, grade(p.uid))
    return served


def hr(n=12, seed=0, **kw):
    return HistoryResamplingSampler(make_problems(n), seed, SamplingConfig(name="history_resampling", **kw))


@pytest.mark.parametrize("lookahead", [1, 2])
def test_epoch_closes_only_when_every_served_prompt_is_recorded(lookahead):
    s = hr()
    s.set_lookahead(lookahead)
    decided = []
    run_ahead(s, 12, 5, lookahead, on_decide=decided.append)  # boundaries fall inside batches
    first = decided[0]
    assert first["epoch_prompts_seen"] == 12 and first["epoch_dropped"] == 5  # all five, at the first boundary
    assert set(s.dropped_uids) == SOLVED
    # later epochs pass over the 7 prompts left (plus a solved prompt served provisionally before the decision)
    assert len(decided) >= 4 and all(7 <= d["epoch_prompts_seen"] <= 12 for d in decided[1:])
    st = s.stats()
    # every record met a pending serve (tagged with the epoch that served it) and none was decided without it
    assert st["forgotten_serves"] == 0 and st["unmatched_records"] == 0


def test_without_the_declaration_lookahead_loses_records():
    """The failure the declaration prevents (issue 10's simulation): deciding at the next draw under lookahead."""
    s = hr()
    decided = []
    run_ahead(s, 12, 5, 1, on_decide=decided.append)
    assert decided[0]["epoch_dropped"] < 5 and s.stats()["forgotten_serves"] > 0


@pytest.mark.parametrize("lookahead", [1, 2])
def test_a_dropped_prompt_is_served_at_most_once_after_its_boundary(lookahead):
    """Before its epoch is decided a solved prompt can be drawn provisionally (once, while the epoch is longer
    than the window: the crossing batch and the `lookahead` batches after it), never after."""
    s = hr(20)
    s.set_lookahead(lookahead)
    served = [u for b in run_ahead(s, 20, 3, lookahead) for u in b]
    later = served[20:]  # epoch 0 is the first 20 serves; it ends inside call 6, which serves one of epoch 1
    assert all(later.count(u) <= 1 for u in SOLVED)
    assert not SOLVED & set(served[21 + 3 * lookahead:])


@pytest.mark.parametrize("lookahead", [1, 2])
def test_lookahead_run_is_deterministic_and_resumes_exactly(lookahead):
    def fresh():
        s = hr(seed=3)
        s.set_lookahead(lookahead)
        return s

    straight = run_ahead(fresh(), 14, 5, lookahead)
    # cut after 6 batches: the state holds the unrecorded batches; the engine replays their records
    a = fresh()
    queue: deque = deque()
    first = []
    for _ in range(6):
        batch = a.next_batch(5)
        first.append([p.uid for p in batch])
        queue.append(batch)
        while len(queue) > lookahead:
            for p in queue.popleft():
                a.record(p.uid, grade(p.uid))
    b = fresh()
    b.load_state_dict(json_roundtrip(a.state_dict()))
    rest = []
    for _ in range(8):
        batch = b.next_batch(5)
        rest.append([p.uid for p in batch])
        queue.append(batch)
        while len(queue) > lookahead:
            for p in queue.popleft():
                b.record(p.uid, grade(p.uid))
    assert first + rest == straight
    assert b.state_dict() == run_ahead_state(fresh(), 14, 5, lookahead)


def run_ahead_state(s, steps, n, lookahead):
    run_ahead(s, steps, n, lookahead)
    return s.state_dict()


def test_missing_record_is_forgotten_at_the_deadline():
    """A serve never recorded (a failed generation) holds its epoch open only until the declared deadline."""
    s = hr(8)
    s.set_lookahead(1)
    easy = {"p001", "p002", "p003"}
    served = [p for _ in range(4) for p in s.next_batch(2)]  # calls 0-3: epoch 0
    missing = served[0].uid
    for p in served[1:]:
        s.record(p.uid, [True, True] if p.uid in easy else [True, False])
    s.next_batch(2)  # call 4: epoch 0 (last served in call 3) still waits for `missing`; deadline is call 5
    assert s.stats()["undecided_epochs"] == 1 and s.stats()["dropped_total"] == 0
    s.next_batch(2)  # call 5: decided without it; that prompt counts as unseen and stays
    st = s.stats()
    assert st["undecided_epochs"] == 0 and st["forgotten_serves"] == 1
    assert set(s.dropped_uids) == easy - {missing} and missing in s.active_uids


def test_uniform_stream_does_not_depend_on_lookahead():
    streams = []
    for lookahead in (0, 1, 2):
        s = UniformSampler(make_problems(7), 1)
        s.set_lookahead(lookahead)
        streams.append(run_ahead(s, 9, 3, lookahead))
    assert streams[0] == streams[1] == streams[2]


def test_mixture_forwards_the_lookahead():
    problems = make_problems(6) + make_problems(5, domain="code", prefix="c")
    m = DomainMixture.from_problems(problems, 0, SamplingConfig(name="history_resampling"))
    m.set_lookahead(2)
    assert all(s._lookahead == 2 for s in m.samplers.values())
