import random

import pytest

from sampling_helpers import make_problems, run, uids
from srpo.sampling import SAMPLERS, SamplingConfig, UniformSampler


def stream(sampler, sizes):
    return [u for n in sizes for u in uids(sampler.next_batch(n))]


def test_same_seed_same_stream_other_seed_differs():
    ps = make_problems(20)
    a = stream(UniformSampler(ps, 7), [6] * 10)
    assert a == stream(UniformSampler(ps, 7), [6] * 10)
    assert a != stream(UniformSampler(ps, 8), [6] * 10)


def test_every_prompt_once_per_epoch_and_reshuffled():
    ps = make_problems(23)
    s = UniformSampler(ps, 3)
    flat = stream(s, [7] * 33)  # 231 = 10 epochs + 1
    epochs = [flat[i * 23:(i + 1) * 23] for i in range(10)]
    for e in epochs:
        assert sorted(e) == [p.uid for p in ps]
    assert len({tuple(e) for e in epochs}) == 10
    assert s.epoch == 10 and s.active_size == 23


def test_stream_independent_of_batch_sizes_and_input_order():
    ps = make_problems(17)
    shuffled = list(ps)
    random.Random(0).shuffle(shuffled)
    a = stream(UniformSampler(ps, 1), [5] * 12)
    b = stream(UniformSampler(shuffled, 1), [3, 9, 1, 7, 20, 20])
    assert a == b


def test_batch_crossing_boundary_and_epoch_property():
    s = UniformSampler(make_problems(5), 0)
    assert s.epoch == 0
    first = uids(s.next_batch(4))
    assert s.epoch == 0
    crossing = uids(s.next_batch(4))
    assert s.epoch == 1
    assert sorted(first + crossing[:1]) == [f"p{i:03d}" for i in range(5)]
    assert len(set(crossing[1:])) == 3
    assert s.stats()["epochs_completed"] == 0  # decided lazily at the next call
    s.next_batch(1)
    assert s.stats()["epochs_completed"] == 1


def test_uniform_never_drops_but_reports_epoch_mix():
    s = UniformSampler(make_problems(8), 0)
    run(s, 5, 4)  # grader: kinds 0 (solved), 1 (never), 2 (mixed), 3 (never before step 6)
    st = s.stats()
    assert st["active_size"] == 8 and st["dropped_total"] == 0
    assert st["epoch_frac_all_correct"] == 0.25 and st["epoch_frac_all_wrong"] == 0.5
    assert st["epoch_frac_mixed"] == 0.25 and st["epoch_pass_rate"] == pytest.approx(0.375)


def test_registry_and_bad_inputs():
    ps = make_problems(3)
    assert set(SAMPLERS) == {"uniform", "history_resampling", "dynamic_sampling", "difficulty_pool"}
    assert isinstance(SAMPLERS.get("dynamic_sampling")(ps, 0, SamplingConfig(name="dynamic_sampling")),
                      UniformSampler)
    with pytest.raises(KeyError, match="unknown sampler 'nope'"):
        SAMPLERS.get("nope")
    with pytest.raises(ValueError, match="duplicate uid 'p001'"):
        UniformSampler(ps + [ps[1]], 0)
    with pytest.raises(ValueError, match="no problems"):
        UniformSampler([], 0)
    with pytest.raises(ValueError, match="seed"):
        UniformSampler(ps, -1)
    s = UniformSampler(ps, 0)
    with pytest.raises(ValueError, match="n must be"):
        s.next_batch(-1)
    assert s.next_batch(0) == []
    with pytest.raises(KeyError, match="unknown uid 'zzz'"):
        s.record("zzz", [True])
    with pytest.raises(TypeError, match=r"corrects\[1\] must be a bool"):
        s.record("p000", [True, 0.5])


@pytest.mark.parametrize("data, message", [
    ({"name": "dapo"}, "sampling.name: unknown sampler 'dapo' (known: difficulty_pool, dynamic_sampling, history_resampling, uniform)"),
    ({"hr_drop_threshold": 0.0}, "sampling.hr_drop_threshold: must be in (0, 1]"),
    ({"hr_readmit_prob": 1.5}, "sampling.hr_readmit_prob: must be in [0, 1]"),
    ({"hr_epoch_mode": "pass"}, "sampling.hr_epoch_mode: must be one of"),
    ({"hr_min_active": -1}, "sampling.hr_min_active: must be >= 0"),
    ({"dynamic_max_rounds": 0}, "sampling.dynamic_max_rounds: must be >= 1"),
    ({"dynamic_oversample": 0}, "sampling.dynamic_oversample: must be a finite number > 0"),
])
def test_config_validation_names_the_field(data, message):
    from dataclasses import dataclass, field

    from srpo.core.configlib import ConfigError, build

    @dataclass
    class Root:
        sampling: SamplingConfig = field(default_factory=SamplingConfig)

    with pytest.raises(ConfigError) as err:
        build(Root, {"sampling": data})
    assert message in str(err.value)
