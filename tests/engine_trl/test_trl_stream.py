"""srpo's prompt stream as TRL's dataloader reads it: RepeatSampler layout, draw-ahead, replay on resume.
Plain Python: no TRL import, no model."""

import json

import pytest

from srpo.core.problem import Problem
from srpo.curriculum import Curriculum, CurriculumConfig
from srpo.engines.records import Record
from srpo.engines.trl.feedback import PromptSampler, PromptStream
from srpo.sampling import DomainMixture, SamplingConfig

G = 2


def problems():
    return ([Problem(uid=f"m{i:02d}", domain="math", prompt=f"m{i}", answer="1") for i in range(6)]
            + [Problem(uid=f"c{i:02d}", domain="code", prompt=f"c{i}") for i in range(4)])


def stream(total=12, lookahead=1):
    ps = problems()
    mixture = DomainMixture.from_problems(ps, 0, SamplingConfig(name="history_resampling"))
    cur = Curriculum(CurriculumConfig(preset="staged", switch_step=4, plateau_window=None, code_share=0.5),
                     mixture.domain_sizes())
    return PromptStream(mixture, cur, ps, prompts_per_step=2, group_size=G, max_lookahead=lookahead,
                        total_steps=total)


def records(entry, solved=("m00", "m01", "m02")):
    return [Record(u, "math" if u[0] == "m" else "code", u in solved, float(u in solved), 5, False, 0.0, "x")
            for u in entry["uids"] for _ in range(G)]


def test_repeat_layout_matches_trl():
    s = stream(total=2)
    rows = {p.uid: i for i, p in enumerate(problems())}
    out = list(PromptSampler(s, rows, repeat_count=3))
    assert len(out) == len(PromptSampler(s, rows, 3)) == 2 * 2 * G * 3
    first = out[:12]  # step 1: its two prompts, each G times, the block read 3 times
    block = first[:4]
    assert block[0] == block[1] and block[2] == block[3] and first == block * 3


def consume(s, steps, lookahead, start_queue=()):
    """An engine that reads `lookahead` steps ahead: step k is scored after step k + lookahead is drawn."""
    pending = list(start_queue)
    drawn = []
    while len(drawn) < steps:
        entry = s.draw()
        if entry is None:
            break
        drawn.append(entry["uids"])
        pending.append(entry)
        while len(pending) > lookahead:
            s.on_scored(records(pending.pop(0)))
    for entry in pending:
        s.on_scored(records(entry))
    return drawn


def test_draw_ahead_feeds_hr_and_the_switch_lands_on_its_step():
    s = stream()
    drawn = consume(s, 12, lookahead=1)
    assert len(drawn) == 12 and s.draw() is None
    math = s.mixture.samplers["math"]
    assert set(math.dropped_uids) == {"m00", "m01", "m02"}
    assert math.stats()["forgotten_serves"] == 0 and math.stats()["unmatched_records"] == 0
    assert all(u[0] == "m" for b in drawn[:3] for u in b)  # stage 1: math only before step 4
    assert s.curriculum.switches[0]["step"] == 4 and any(u[0] == "c" for b in drawn[3:] for u in b)


def test_resume_replays_the_drawn_unscored_steps():
    straight = stream()
    full = consume(straight, 12, lookahead=1)
    a = stream()
    pending = []
    first = []
    for _ in range(6):  # draw 6, score 5: the checkpoint after step 5 holds step 6 in its queue
        entry = a.draw()
        first.append(entry["uids"])
        pending.append(entry)
        if len(pending) > 1:
            a.on_scored(records(pending.pop(0)))
    b = stream()
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    rest = consume(b, 7, lookahead=1)
    assert first[:5] + rest == full
    assert b.state_hash() == straight.state_hash()


def test_lookahead_beyond_the_bound_and_foreign_batches_fail():
    s = stream(lookahead=1)
    s.draw()
    s.draw()
    with pytest.raises(RuntimeError, match="max_lookahead=1"):
        s.draw()
    t = stream()
    entry = t.draw()
    bad = records(entry)[::-1]
    with pytest.raises(RuntimeError, match="dataloader layout"):
        t.on_scored(bad)


def test_a_state_of_the_verl_stream_is_refused():
    from srpo.engines.verl.stream import SrpoStream

    s = stream()
    verl = SrpoStream(s.mixture, s.curriculum, problems(), 2, 12, 1)
    with pytest.raises(ValueError, match="written by 'srpo stream'"):
        stream().load_state_dict(verl.state_dict())
