import json

import pytest

from srpo.core.configlib import ConfigError, build
from srpo.curriculum import Curriculum, CurriculumConfig, StageConfig


def staged(**kw):
    return CurriculumConfig(preset="staged", code_share=0.5, **kw)


def test_presets_resolve_to_the_four_regimes():
    assert [s.weights for s in CurriculumConfig(preset="math_only").resolve()] == [{"math": 1.0}]
    assert [s.weights for s in CurriculumConfig(preset="code_only").resolve()] == [{"code": 1.0}]
    assert CurriculumConfig(preset="mixed", code_share=0.3).resolve()[0].weights == {"math": 0.7, "code": 0.3}
    s1, s2 = staged(switch_step=100, plateau_window=None, ramp_steps=10).resolve()
    assert s1.weights == {"math": 1.0} and s1.until_step == 100 and s1.plateau_window is None
    assert s2.weights == {"math": 0.5, "code": 0.5} and s2.ramp_steps == 10 and not s2.has_switch


def test_proportional_share_from_domain_sizes():
    cur = Curriculum(CurriculumConfig(preset="mixed"), domain_sizes={"math": 300, "code": 100})
    assert cur.weights(0) == {"code": 0.25, "math": 0.75}
    with pytest.raises(ValueError, match="code_share: None means"):
        Curriculum(CurriculumConfig(preset="mixed"))


def test_switch_by_step_with_and_without_observe():
    cfg = staged(switch_step=10, plateau_window=None)
    lazy = Curriculum(cfg)
    assert lazy.weights(9) == {"math": 1.0} and lazy.weights(10) == {"code": 0.5, "math": 0.5}
    cur = Curriculum(cfg)
    flips = [cur.observe(step, 0.5) for step in range(12)]
    assert flips.index(True) == 9 and sum(flips) == 1
    assert cur.stage_index == 1 and cur.switches == [{"stage": 1, "name": "math+code", "step": 10,
                                                     "reason": "until_step"}]
    skip = Curriculum(cfg)  # observe may skip steps: the switch still lands at until_step
    skip.observe(3, 0.1)
    skip.observe(25, 0.1)
    assert skip.stage_index == 1 and skip.switches[0]["step"] == 10


def test_switch_by_plateau_at_the_exact_step():
    cur = Curriculum(staged(plateau_window=3, plateau_min_delta=0.05))
    rewards = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.62, 0.63, 0.64, 0.64]
    # step 8: last3 = .62,.63,.64 (mean .63) vs .4,.5,.6 (mean .5): +.13 -> keep
    # step 9: .63,.64,.64 vs .5,.6,.62 -> +0.0633 -> keep; step 10 below decides
    for step, r in enumerate(rewards):
        assert not cur.observe(step, r)
    assert cur.observe(10, 0.64)  # .64,.64,.64 vs .6,.62,.63: +0.0233 < .05
    assert cur.stage_index == 1 and cur.switches[0] == {"stage": 1, "name": "math+code", "step": 11,
                                                        "reason": "plateau"}
    assert cur.weights(10) == {"math": 1.0}  # the switch applies from step 11 on
    assert cur.weights(11) == {"code": 0.5, "math": 0.5}
    assert "curriculum/plateau_delta" not in cur.stats()  # reset with the new stage (no plateau rule)


def test_improving_reward_does_not_plateau_and_nan_is_skipped():
    cur = Curriculum(staged(plateau_window=2, plateau_min_delta=0.01))
    for step in range(50):
        cur.observe(step, float("nan") if step % 7 == 0 else step * 0.02)
    assert cur.stage_index == 0 and cur.stats()["curriculum/plateau_delta"] == pytest.approx(0.04)


def test_code_ramp_in_stage_two():
    cur = Curriculum(staged(switch_step=5, plateau_window=None, ramp_steps=4))
    shares = [cur.weights(s).get("code", 0.0) for s in range(4, 11)]
    assert shares == pytest.approx([0.0, 0.0, 0.125, 0.25, 0.375, 0.5, 0.5])
    st = cur.stats(step=7)
    assert st["curriculum/weight_code"] == pytest.approx(0.25) and st["curriculum/stage_index"] == 0


def test_the_code_weight_is_logged_as_0_through_stage_one():
    cur = Curriculum(staged(switch_step=5, plateau_window=None))
    assert cur.stats(step=0) == {"curriculum/stage_index": 0.0, "curriculum/switches": 0.0,
                                 "curriculum/weight_code": 0.0, "curriculum/weight_math": 1.0}


def test_custom_three_stages_with_explicit_ramp_from():
    stages = [StageConfig("a", {"math": 1}, until_step=3),
              StageConfig("b", {"code": 1}, plateau_window=1, plateau_min_delta=0.0),
              StageConfig("c", {"math": 1, "code": 3}, ramp_steps=2, ramp_from={"math": 1})]
    cur = Curriculum(CurriculumConfig(preset="custom", stages=stages))
    for step, r in enumerate([0, 0, 0, 0.5, 0.4]):
        cur.observe(step, r)
    assert [s["reason"] for s in cur.switches] == ["until_step", "plateau"] and cur.switches[1]["step"] == 5
    assert cur.weights(5) == {"code": 0.0, "math": 1.0}
    assert cur.weights(6) == pytest.approx({"code": 0.375, "math": 0.625})
    assert cur.weights(7) == {"code": 0.75, "math": 0.25}


def test_resume_through_json_is_exact():
    cfg = staged(plateau_window=4, plateau_min_delta=0.02, ramp_steps=5)
    rewards = [min(0.8, 0.05 * s) + 0.01 * (s % 3) for s in range(40)]

    def go(cur, start):
        out = []
        for s in range(start, 40):
            out.append((cur.weights(s), cur.stage_index))
            cur.observe(s, rewards[s])
        return out, cur.switches

    full = go(Curriculum(cfg), 0)
    assert full[1], "the scenario must switch"
    for cut in range(0, 40, 3):
        a = Curriculum(cfg)
        part = []
        for s in range(cut):
            part.append((a.weights(s), a.stage_index))
            a.observe(s, rewards[s])
        b = Curriculum(cfg)
        b.load_state_dict(json.loads(json.dumps(a.state_dict())))
        rest, switches = go(b, cut)
        assert part + rest == full[0] and switches == full[1]


def test_observe_must_move_forward_and_state_must_match():
    cur = Curriculum(staged(switch_step=4))
    cur.observe(2, 0.1)
    with pytest.raises(ValueError, match="step 2 is not after the last observed step 2"):
        cur.observe(2, 0.1)
    with pytest.raises(ValueError, match="do not match"):
        Curriculum(CurriculumConfig(preset="math_only")).load_state_dict(cur.state_dict())


@pytest.mark.parametrize("data, message", [
    ({"preset": "srpo"}, "curriculum.preset: unknown preset 'srpo'"),
    ({"preset": "custom"}, "curriculum.stages: empty"),
    ({"stages": [{"weights": {"math": 1}}]}, "curriculum.stages: given, but preset is 'mixed'"),
    ({"preset": "custom", "stages": [{"weights": {"math": -1}}]}, "curriculum.stages[0].weights.math: must be"),
    ({"preset": "custom", "stages": [{"weights": {"math": 0, "code": 0}}]},
     "curriculum.stages[0].weights: weights sum to zero"),
    ({"preset": "custom", "stages": [{"weights": {"maths": 1}}]}, "curriculum.stages[0].weights.maths: unknown"),
    ({"preset": "custom", "stages": [{"weights": {"math": 1}, "until_step": 5}]},
     "curriculum.stages[0].until_step: the last stage has nothing to switch to"),
    ({"preset": "custom", "stages": [{"name": "s1"}, {"name": "s2"}]},
     "curriculum.stages[0].until_step: stage 's1' needs until_step or plateau_window"),
    ({"preset": "custom", "stages": [{"until_step": 9}, {"until_step": 4}, {}]},
     "curriculum.stages[1].until_step: must be > 9"),
    ({"preset": "custom", "stages": [{"ramp_steps": 3}]}, "curriculum.stages[0].ramp_from"),
    ({"preset": "staged", "plateau_window": None}, "curriculum.switch_step: the staged preset needs"),
    ({"preset": "mixed", "code_share": 1.5}, "curriculum.code_share: must be in [0, 1]"),
])
def test_validation_names_the_field(data, message):
    from dataclasses import dataclass, field

    @dataclass
    class Root:
        curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)

    with pytest.raises(ConfigError) as err:
        build(Root, {"curriculum": data})
    assert message in str(err.value)


def test_direct_construction_validates_too():
    with pytest.raises(ConfigError, match=r"stages\[0\]\.weights\.code: must be"):
        Curriculum(CurriculumConfig(preset="custom", stages=[StageConfig(weights={"code": float("inf")})]))


def test_plateau_switch_waits_for_the_first_batch_not_yet_drawn():
    """An engine that draws ahead (TRL) has already drawn steps 11 and 12 when step 10 is scored: the switch
    lands at 13, so each batch's logged weights are those it was drawn with; the old-stage rewards of steps
    11-12 do not count toward the new stage."""
    cur = Curriculum(CurriculumConfig(preset="custom", stages=[
        StageConfig("a", {"math": 1.0}, plateau_window=3, plateau_min_delta=0.05),
        StageConfig("b", {"code": 1.0}, plateau_window=1, plateau_min_delta=0.05),
        StageConfig("c", {"math": 1.0})]))
    rewards = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.62, 0.63, 0.64, 0.64, 0.64]
    for step, r in enumerate(rewards):
        cur.observe(step, r, drawn_through=step + 2)
    assert cur.switches == [{"stage": 1, "name": "b", "step": 13, "reason": "plateau"}]
    assert cur.weights(12) == {"math": 1.0} and cur.weights(13) == {"code": 1.0}
    cur.observe(11, 0.0, drawn_through=13)
    cur.observe(12, 0.0, drawn_through=14)  # stage a's batches: no second switch from their rewards
    assert cur.stage_index == 1


def test_math_only_data_under_a_staged_curriculum_names_the_preset_that_fits():
    from srpo.config import load_config
    from srpo.core.configlib import ConfigError

    cfg = load_config("srpo", ["data.train=[toy:math]"])
    with pytest.raises(ConfigError, match=r"no code problems .*set curriculum\.preset=math_only"):
        Curriculum(cfg.curriculum, domain_sizes={"math": 10}).require_domains(["math"])
