"""How the loop collects a step's batch is the sampler's registry entry's strategy (`srpo.sampling.batch_collection`),
not a test of the sampler's name inside an engine."""

from srpo.core.problem import Problem
from srpo.sampling import (SAMPLERS, DynamicRounds, DynamicSampler, SamplingConfig, SingleRound, UniformSampler,
                           batch_collection)


def problems(n=12):
    return [Problem(uid=f"p{i:02d}", domain="math", prompt=f"p{i}") for i in range(n)]


def rollout_of(solved):
    """A fake rollout: each prompt's group is (uid, G=2 verdicts), mixed unless `solved` says all right/wrong."""
    def rollout(batch):
        return [(p.uid, solved.get(p.uid, [True, False])) for p in batch]
    return rollout


def test_each_entry_names_its_strategy():
    assert type(batch_collection(SamplingConfig())) is SingleRound
    assert type(batch_collection(SamplingConfig(name="history_resampling"))) is SingleRound
    assert type(batch_collection(SamplingConfig(name="dynamic_sampling"))) is DynamicRounds
    assert SAMPLERS.get("dynamic_sampling") is DynamicSampler and issubclass(DynamicSampler, UniformSampler)


def test_dynamic_sampling_draws_the_uniform_stream():
    """The prompts (and so the state) are the uniform sampler's: only the collection differs."""
    cfg = SamplingConfig(name="dynamic_sampling")
    a, b = DynamicSampler(problems(), 3, cfg), UniformSampler(problems(), 3)
    assert [p.uid for p in a.next_batch(7)] == [p.uid for p in b.next_batch(7)]
    assert a.state_dict() == b.state_dict()


def test_single_round_keeps_every_group_and_dynamic_rounds_keep_mixed_ones():
    sampler = UniformSampler(problems(), 0)
    first = [p.uid for p in UniformSampler(problems(), 0).next_batch(3)]
    solved = {first[0]: [True, True], first[1]: [False, False]}
    parts, stats = SingleRound(SamplingConfig()).collect(
        sampler.next_batch, rollout_of(solved), split=list, group_corrects=lambda g: g[1], batch_groups=3)
    assert parts == [rollout_of(solved)(UniformSampler(problems(), 0).next_batch(3))] and stats == {}

    cfg = SamplingConfig(name="dynamic_sampling", dynamic_oversample=1.0, dynamic_refill="need")
    groups, stats = DynamicRounds(cfg).collect(
        UniformSampler(problems(), 0).next_batch, rollout_of(solved), split=list, group_corrects=lambda g: g[1],
        batch_groups=3)
    assert len(groups) == 3 and all(len(set(g[1])) == 2 for g in groups)
    assert stats["dynamic/rounds"] == 2 and stats["dynamic/groups_filtered"] == 2
    assert stats["dynamic/filtered_all_correct"] == stats["dynamic/filtered_all_wrong"] == 1


def test_a_new_sampler_entry_brings_its_own_strategy():
    class Everything(SingleRound):
        def collect(self, next_prompts, rollout, split, group_corrects, batch_groups):
            return [rollout(next_prompts(2 * batch_groups))], {"mine/doubled": 1.0}

    class Doubling(UniformSampler):
        collection = Everything

    SAMPLERS.add("doubling_test", Doubling)
    try:
        collection = batch_collection(SamplingConfig(name="doubling_test"))
        parts, stats = collection.collect(UniformSampler(problems(), 0).next_batch, rollout_of({}), list,
                                          lambda g: g[1], 3)
        assert len(parts[0]) == 6 and stats == {"mine/doubled": 1.0}
    finally:
        SAMPLERS._entries.pop("doubling_test")
