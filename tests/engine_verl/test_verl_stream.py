"""srpo's prompt stream as verl's dataloader reads it: index -> prompt, feedback, lookahead, exact resume.

Pure srpo (no verl): the dataset and the trainer hook that wrap it are tested in .venv-verl
(test_verl_dataset.py, test_verl_trainer.py).
"""

from __future__ import annotations

import json

import pytest

from srpo.core.problem import Problem
from srpo.curriculum import Curriculum, CurriculumConfig
from srpo.engines.verl.metrics import step_metrics
from srpo.engines.verl.stream import SrpoStream, Verdict
from srpo.sampling import DomainMixture, SamplingConfig

P, G = 4, 2
EASY = {"m0", "m1", "c0"}  # always solved: history resampling drops them at their epoch's boundary


def problems():
    return ([Problem(uid=f"m{i}", domain="math", prompt=f"m{i}", answer="1") for i in range(8)]
            + [Problem(uid=f"c{i}", domain="code", prompt=f"c{i}", tests={"kind": "stdio"}) for i in range(4)])


def make_stream(lookahead=0, total_steps=12, curriculum=None):
    ps = problems()
    mixture = DomainMixture.from_problems(ps, 7, SamplingConfig(name="history_resampling"))
    cur = Curriculum(curriculum or CurriculumConfig(preset="staged", switch_step=4, plateau_window=None,
                                                    code_share=0.5), domain_sizes=mixture.domain_sizes())
    return SrpoStream(mixture, cur, ps, P, total_steps, lookahead)


def verdicts(stream, step, uids=None):
    """The G responses of every prompt of `step`, as verl's batch would hold them (one group per fetch)."""
    out = []
    uids = uids or [stream.prompt((step - 1) * P + pos).uid for pos in range(P)]
    for pos, uid in enumerate(uids):
        for j in range(G):
            ok = uid in EASY or j == 0
            out.append(Verdict(group=f"{step}-{pos}", uid=uid, correct=ok, reward=float(ok), length=5,
                               truncated=False, text="<think>wait</think><answer>1</answer>"))
    return out


def run(stream, steps, lag=0, start=1):
    """Draw and record like verl: step s draws its prompts, and its verdicts arrive `lag` steps later."""
    drawn = []
    for s in range(start, steps + 1):
        drawn.append([stream.prompt((s - 1) * P + i).uid for i in range(P)])
        if s - lag >= start:
            stream.record_step(s, verdicts(stream, s - lag, drawn[s - lag - start]))
    return drawn


def test_indices_are_stable_and_follow_the_curriculum():
    stream = make_stream()
    first = [stream.prompt(i).uid for i in range(P)]
    assert [stream.prompt(i).uid for i in reversed(range(P))] == first[::-1]  # re-reads give the same prompt
    assert len(stream) == (12 + 0 + 1) * P
    assert all(stream.by_uid[u].domain == "math" for u in first)  # stage 1: math only
    stream.record_step(1, verdicts(stream, 1))
    drawn = run(stream, 8, start=2)
    assert any(stream.by_uid[u].domain == "code" for step in drawn[3:] for u in step)  # stage 2 from step 4
    with pytest.raises(IndexError):
        stream.prompt(len(stream))


def test_history_resampling_drops_the_always_solved_prompts():
    stream = make_stream()
    run(stream, 12)
    stats = stream.mixture.stats()
    assert stats["math/dropped_total"] == 2 and stats["code/dropped_total"] == 1
    assert stats["math/forgotten_serves"] == 0 and stats["math/unmatched_records"] == 0
    assert set(stream.mixture.samplers["math"].dropped_uids) == {"m0", "m1"}
    assert stream.rollouts_total == 12 * P * G and stream.lookahead_seen == 0


@pytest.mark.parametrize("lag", [1, 2])
def test_drawing_ahead_loses_no_record_within_the_declared_lookahead(lag):
    stream = make_stream(lookahead=lag)
    run(stream, 12, lag=lag)
    stats = stream.mixture.stats()
    assert stats["math/forgotten_serves"] == 0 and stats["math/unmatched_records"] == 0
    assert stats["math/dropped_total"] == 2 and stream.lookahead_seen == lag


def test_an_undeclared_lookahead_forgets_records():
    stream = make_stream(lookahead=0)
    run(stream, 12, lag=2)
    assert stream.mixture.stats()["math/forgotten_serves"] > 0


def test_groups_never_recorded_expire_at_the_deadline():
    stream = make_stream(lookahead=1)
    for s in range(1, 8):
        [stream.prompt((s - 1) * P + i) for i in range(P)]
        rows = [v for v in verdicts(stream, s) if v.group != f"{s}-0"]  # verl dropped one group every step
        stream.record_step(s, rows)
    assert len(stream.drawn) <= 1 + 2 and stream.mixture.stats()["math/forgotten_serves"] > 0  # L + 2 at most


@pytest.mark.parametrize("cut", [1, 3, 4, 7])
@pytest.mark.parametrize("lag", [0, 1])
def test_resume_from_a_json_state_continues_exactly(cut, lag):
    straight = make_stream(lookahead=lag)
    expected = run(straight, 12, lag=lag)
    first = make_stream(lookahead=lag)
    head = run(first, cut, lag=lag)
    state = json.loads(json.dumps(first.state_dict()))
    resumed = make_stream(lookahead=lag)
    resumed.load_state_dict(state)
    drawn = list(head)
    for s in range(cut + 1, 13):
        drawn.append([resumed.prompt((s - 1) * P + i).uid for i in range(P)])
        if s - lag >= 1:  # verdicts of steps drawn before the checkpoint arrive after it
            resumed.record_step(s, verdicts(resumed, s - lag, drawn[s - lag - 1]))
    tail = drawn[cut:]
    assert head + tail == expected
    assert resumed.mixture.state_dict() == straight.mixture.state_dict()
    assert resumed.curriculum.state_dict() == straight.curriculum.state_dict()


def test_a_group_with_two_problems_is_an_error():
    stream = make_stream()
    rows = verdicts(stream, 1)
    rows[1] = Verdict(group=rows[0].group, uid="m7", correct=True, reward=1.0, length=1, truncated=False)
    with pytest.raises(RuntimeError, match="several problems"):
        stream.record_step(1, rows)


def test_a_plateau_switch_lands_after_the_steps_already_drawn():
    cfg = CurriculumConfig(preset="staged", switch_step=None, plateau_window=1, plateau_min_delta=0.5, code_share=0.5)
    stream = make_stream(lookahead=1, curriculum=cfg)
    run(stream, 5, lag=1)
    switch = stream.curriculum.switches[0]
    assert switch["reason"] == "plateau" and switch["step"] == 4  # decided at step 2's verdicts, step 3 drawn


def test_step_metrics_have_the_native_names():
    from srpo.config import load_config

    stream = make_stream()
    [stream.prompt(i) for i in range(P)]
    summary = stream.record_step(1, verdicts(stream, 1))
    metrics, rows = step_metrics(load_config("srpo"), stream, 1, summary["groups"])
    for key in ("math/pass_rate", "all/reward_mean", "groups/zero_adv_frac", "groups/all_correct_frac",
                "groups/all_wrong_frac", "sampler/math/active_size", "curriculum/stage_index",
                "curriculum/weight_math", "sampler/rollouts_total", "stage"):
        assert key in metrics, key
    easy = sum(u in EASY for u in {v.uid for v in summary["verdicts"]})
    assert metrics["groups/all_correct_frac"] == easy / P and metrics["groups/all_wrong_frac"] == 0
    assert len(rows) <= P * G


def test_step_metrics_carry_the_overlong_penalty_and_every_curriculum_weight():
    """The penalty verl added is logged (as TRL and native log theirs), and stage 1 of the staged curriculum logs
    ``curriculum/weight_code`` 0, as the other engines do."""
    from srpo.config import load_config

    stream = make_stream()
    [stream.prompt(i) for i in range(P)]
    rows = verdicts(stream, 1)
    for i, v in enumerate(rows):
        v.penalty = -0.5 if i % 2 else 0.0
    summary = stream.record_step(1, rows)
    metrics, _ = step_metrics(load_config("srpo"), stream, 1, summary["groups"])
    assert metrics["all/length_penalty_mean"] == pytest.approx(-0.25)
    assert metrics["curriculum/weight_math"] == 1.0 and metrics["curriculum/weight_code"] == 0.0




def dropping_run(stream, start, end, drawn):
    """`run` with lag 1, where verl lost the first group of step 3 (it expires at the lookahead deadline)."""
    for s in range(start, end + 1):
        drawn.append([stream.prompt((s - 1) * P + i).uid for i in range(P)])
        if s - 1 >= 1:
            rows = [v for v in verdicts(stream, s - 1, drawn[s - 2]) if v.group != "3-0"]
            stream.record_step(s, rows)
    return drawn


def test_a_state_of_the_trl_stream_is_refused():
    from srpo.engines.trl.feedback import PromptStream

    s = make_stream()
    trl = PromptStream(s.mixture, s.curriculum, problems(), P, G, 0, 12)
    with pytest.raises(ValueError, match="written by 'trl engine'"):
        make_stream().load_state_dict(trl.state_dict())
