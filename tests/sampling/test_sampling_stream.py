"""The engine-agnostic prompt stream (`srpo.sampling.stream.StepStream`): drawing with the curriculum's weights,
feedback to history resampling and the curriculum, the lookahead bound, JSON state round trip and its hash."""

from __future__ import annotations

import json

import pytest

from srpo.core.problem import Problem
from srpo.curriculum import Curriculum, CurriculumConfig
from srpo.sampling import DomainMixture, SamplingConfig
from srpo.sampling.stream import STATE_VERSION, StepStream

P, G = 3, 2
EASY = {"m00", "m01", "c00"}  # always solved: history resampling drops them at their epoch's boundary


def problems() -> list[Problem]:
    return ([Problem(uid=f"m{i:02d}", domain="math", prompt=f"m{i}", answer="1") for i in range(7)]
            + [Problem(uid=f"c{i:02d}", domain="code", prompt=f"c{i}") for i in range(4)])


def parts(curriculum: CurriculumConfig | None = None):
    ps = problems()
    mixture = DomainMixture.from_problems(ps, 5, SamplingConfig(name="history_resampling"))
    cfg = curriculum or CurriculumConfig(preset="staged", switch_step=4, plateau_window=None, code_share=0.5)
    return mixture, Curriculum(cfg, domain_sizes=mixture.domain_sizes()), ps


def make(lookahead: int = 1, total: int = 12, curriculum: CurriculumConfig | None = None) -> StepStream:
    mixture, cur, ps = parts(curriculum)
    return StepStream(mixture, cur, ps, P, total, lookahead)


def corrects(uid: str, step: int) -> list[bool]:
    return [uid in EASY or (j + step) % 2 == 0 for j in range(G)]


def score(s: StepStream, entry: dict) -> None:
    """An engine's feedback for one drawn step: each prompt's verdicts, then the step's rewards."""
    rewards = []
    for uid in entry["uids"]:
        ok = corrects(uid, entry["step"])
        s.record(uid, ok)
        rewards += [0.25 + 0.5 * c for c in ok]
    s.observe(entry["step"], rewards)


def run(s: StepStream, steps: int, lag: int) -> list[list[str]]:
    """Draw `steps` steps; the oldest pending step is scored once more than `lag` are pending."""
    drawn = []
    for _ in range(steps):
        entry = s.draw_step()
        drawn.append(list(entry["uids"]))
        while len(s.pending) > lag:
            score(s, s.pop_oldest())
    while s.pending:
        score(s, s.pop_oldest())
    return drawn


def test_a_step_is_the_mixtures_batch_with_the_curriculums_weights_of_that_step():
    s = make(lookahead=3)
    mixture, cur, _ = parts()  # a reference fed the same calls by hand
    for step in range(1, 6):
        entry = s.draw_step()
        expected = [p.uid for p in mixture.next_batch(P, cur.weights(step))]
        assert entry == {"step": step, "uids": expected, "weights": cur.weights(step)}
        assert s.drawn_through == step and list(s.pending) == list(range(max(1, step - 3), step + 1))
        if step >= 4:
            score(s, s.pop_oldest())
    assert s.pending[5]["weights"] == {"math": 0.5, "code": 0.5}  # the switch at step 4 (code_share 0.5)
    assert all(s.by_uid[u].domain == "math" for u in s.pending[3]["uids"])  # stage 1: math only


class Observed(Curriculum):
    """The real curriculum, remembering what the stream told it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[int, float, int | None]] = []

    def observe(self, step, reward_mean, drawn_through=None):
        self.calls.append((step, reward_mean, drawn_through))
        return super().observe(step, reward_mean, drawn_through=drawn_through)


def test_feedback_reaches_history_resampling_and_the_curriculum_with_the_step_mean():
    mixture, _, ps = parts()
    cur = Observed(CurriculumConfig(preset="staged", switch_step=4, plateau_window=None, code_share=0.5),
                   domain_sizes=mixture.domain_sizes())
    s = StepStream(mixture, cur, ps, P, 12, 1)
    ref_mixture, _, _ = parts()
    first, second = s.draw_step(), s.draw_step()
    ref_mixture.next_batch(P, {"math": 1.0}), ref_mixture.next_batch(P, {"math": 1.0})
    score(s, s.pop_oldest())
    for uid in first["uids"]:
        ref_mixture.record(s.by_uid[uid], corrects(uid, 1))
    assert mixture.state_dict() == ref_mixture.state_dict()
    rewards = [0.25 + 0.5 * c for uid in first["uids"] for c in corrects(uid, 1)]
    mean = sum(float(r) for r in rewards) / len(rewards)  # float64 reference; every reward is exact in binary
    assert cur.calls == [(1, mean, 2)]  # drawn_through: step 2 is already drawn
    assert s.rollouts_total == P * G and list(s.pending) == [second["step"]]
    s.observe(2, [])  # a step whose groups were all lost tells the curriculum nothing
    assert len(cur.calls) == 1 and s.rollouts_total == P * G


def test_history_resampling_drops_the_always_solved_prompts_within_the_lookahead():
    for lag in (0, 1, 2):
        s = make(lookahead=lag)
        run(s, 12, lag)
        stats = s.mixture.stats()
        assert stats["math/forgotten_serves"] == 0 and stats["math/unmatched_records"] == 0
        assert set(s.mixture.samplers["math"].dropped_uids) == {"m00", "m01"}
        assert s.lookahead_seen == lag and s.rollouts_total == 12 * P * G


def test_drawing_past_the_lookahead_is_an_error_naming_the_bound():
    s = make(lookahead=1)
    s.draw_step(), s.draw_step()
    with pytest.raises(RuntimeError, match="lookahead=1"):
        s.draw_step()
    assert s.drawn_through == 2  # nothing drawn by the refused call
    score(s, s.pop_oldest())
    assert s.draw_step()["step"] == 3


def test_pop_oldest_is_fifo_and_refuses_a_step_never_drawn():
    s = make(lookahead=2)
    with pytest.raises(RuntimeError, match="never drew"):
        s.pop_oldest()
    steps = [s.draw_step()["step"] for _ in range(3)]
    assert [s.pop_oldest()["step"] for _ in range(3)] == steps == [1, 2, 3]


@pytest.mark.parametrize("field,kwargs", [("prompts_per_step", {"prompts_per_step": 0}),
                                          ("lookahead", {"lookahead": -1})])
def test_bad_sizes_name_the_field(field, kwargs):
    mixture, cur, ps = parts()
    args = {"prompts_per_step": P, "total_steps": 4, "lookahead": 0, **kwargs}
    with pytest.raises(ValueError, match=field):
        StepStream(mixture, cur, ps, **args)


def test_a_plateau_switch_lands_at_the_first_step_not_yet_drawn():
    cfg = CurriculumConfig(preset="staged", switch_step=None, plateau_window=1, plateau_min_delta=0.5, code_share=0.5)
    s = make(lookahead=1, curriculum=cfg)
    run(s, 5, lag=1)
    switch = s.curriculum.switches[0]
    assert switch["reason"] == "plateau" and switch["step"] == 4  # decided at step 2's scores, step 3 drawn


@pytest.mark.parametrize("cut", [1, 4, 7])
@pytest.mark.parametrize("lag", [0, 1, 2])
def test_a_json_state_round_trip_continues_exactly(cut, lag):
    straight = make(lookahead=lag)
    expected = run(straight, 12, lag)
    first = make(lookahead=lag)
    head = []
    for _ in range(cut):  # stop with `lag` steps pending, as a checkpoint mid-run holds them
        head.append(list(first.draw_step()["uids"]))
        while len(first.pending) > lag:
            score(first, first.pop_oldest())
    state = json.loads(json.dumps(first.state_dict()))
    assert state["version"] == STATE_VERSION and [e["step"] for e in state["pending"]] == list(first.pending)
    resumed = make(lookahead=lag)
    resumed.load_state_dict(state)
    assert resumed.state_dict() == state and resumed.state_hash() == first.state_hash()
    tail = run(resumed, 12 - cut, lag)
    assert head + tail == expected
    assert resumed.state_dict() == straight.state_dict() and resumed.state_hash() == straight.state_hash()


def test_the_state_is_a_copy_and_the_hash_follows_every_field():
    s = make(lookahead=1)
    s.draw_step()
    state, digest = s.state_dict(), s.state_hash()
    state["pending"][0]["uids"].append("x")
    assert s.pending[1]["uids"][-1] != "x" and s.state_hash() == digest
    assert len(digest) == 16 and int(digest, 16) >= 0
    twin = make(lookahead=1)
    twin.draw_step()
    assert twin.state_hash() == digest  # same calls, same state, same digest
    twin.record(twin.pending[1]["uids"][0], [True, True])
    assert twin.state_hash() != digest  # a record not applied on one rank shows
    other = make(lookahead=1)
    other.draw_step()
    other.rollouts_total += 1
    assert other.state_hash() != digest


def test_foreign_or_unknown_states_fail_clearly():
    s = make()
    state = s.state_dict()
    with pytest.raises(ValueError, match="version 99"):
        s.load_state_dict({**state, "version": 99})
    with pytest.raises(ValueError, match="written by 'trl engine'"):
        s.load_state_dict({**state, "engine": "trl engine"})
    with pytest.raises(ValueError, match="version 1 is not 2"):
        s.load_state_dict({**state, "version": 1})


def test_a_step_drawn_in_rounds_is_the_mixtures_batches_with_that_steps_weights():
    """Dynamic sampling's rounds: `begin_step` then `draw_prompts(n)` per round; `draw_step` is one round of P."""
    s = make(lookahead=1)
    mixture, cur, _ = parts()  # a reference fed the same calls by hand
    first = s.draw_step()
    assert first["uids"] == [p.uid for p in mixture.next_batch(P, cur.weights(1))]
    entry = s.begin_step()
    assert entry == {"step": 2, "uids": [], "weights": cur.weights(2)} and s.drawn_through == 2
    rounds = [s.draw_prompts(n) for n in (5, 2, 1)]
    expected = [[p.uid for p in mixture.next_batch(n, cur.weights(2))] for n in (5, 2, 1)]
    assert [[p.uid for p in r] for r in rounds] == expected
    assert s.pending[2]["uids"] == [u for r in expected for u in r] and s.pending[1] == first
    assert s.mixture.state_dict() == mixture.state_dict()


def test_drawing_prompts_needs_an_open_step():
    s = make(lookahead=0)
    with pytest.raises(RuntimeError, match="not open"):
        s.draw_prompts(2)
    score(s, s.draw_step())
    s.pop_oldest()
    with pytest.raises(RuntimeError, match="not open"):
        s.draw_prompts(2)  # step 1's verdicts are in: a later round belongs to a new step


def test_every_recorded_response_is_a_rollout_and_the_curriculum_hears_the_trained_ones():
    """A discarded group (dynamic sampling) still counts as rollouts and feeds HR; the curriculum's mean is over the
    rewards the engine passes, a Python float mean (the step's all/reward_mean)."""
    mixture, _, ps = parts()
    cur = Observed(CurriculumConfig(preset="staged", switch_step=2, plateau_window=None, code_share=0.5),
                   domain_sizes=mixture.domain_sizes())
    s = StepStream(mixture, cur, ps, P, 12, 0)
    s.begin_step()
    uids = [p.uid for p in s.draw_prompts(4)]
    for uid in uids:
        s.record(uid, [True, False, True])
    kept = [0.1, 0.2, 0.4]
    assert s.rollouts_total == 4 * 3
    assert s.observe(1, kept) is True  # switch_step 2: decided at step 1's feedback
    assert cur.calls == [(1, sum(kept) / len(kept), 1)]
    assert s.observe(2, []) is False and len(cur.calls) == 1
