import pytest
import torch

import _algo_ref as ref
from srpo.algo import ADVANTAGE_ESTIMATORS, group_stats

NAMES = ("grpo", "dr_grpo", "rloo")


def _batch(seed, binary=False):
    """Unequal, interleaved groups with arbitrary ids, including a group of one and a constant group."""
    g = torch.Generator().manual_seed(seed)
    sizes = {1000: 1, -5: 2, 3: 5, 42: 8, 7: 3, 11: 4}
    ids = torch.tensor([gid for gid, n in sizes.items() for _ in range(n)])
    ids = ids[torch.randperm(len(ids), generator=g)]
    if binary:
        rewards = torch.randint(0, 2, ids.shape, generator=g).double()
    else:
        rewards = torch.randn(ids.shape, generator=g, dtype=torch.float64)
    rewards[ids == 7] = 0.3  # constant group
    return rewards, ids


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("unbiased", [True, False])
@pytest.mark.parametrize("seed,binary", [(0, False), (1, False), (2, True)])
def test_matches_loop_reference(name, unbiased, seed, binary):
    rewards, ids = _batch(seed, binary)
    got = ADVANTAGE_ESTIMATORS.get(name)(rewards, ids, eps=1e-3, std_unbiased=unbiased)
    want = ref.advantages(name, rewards, ids, eps=1e-3, unbiased=unbiased)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("unbiased", [True, False])
def test_group_stats_matches_reference(unbiased):
    rewards, ids = _batch(3)
    mean, std, count = group_stats(rewards, ids, unbiased=unbiased)
    want = ref.group_stats(rewards, ids, unbiased=unbiased)
    for got_t, want_l in zip((mean, std, count), want):
        torch.testing.assert_close(got_t, torch.tensor(want_l, dtype=torch.float64), rtol=1e-12, atol=1e-12)


def test_hand_computed_binary_group():
    r = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    ids = torch.zeros(4, dtype=torch.long)
    # mean 0.5; Bessel std sqrt(1/3); population std 0.5
    a = 0.5 / (3 ** -0.5 + 1e-6)
    assert a == pytest.approx(0.8660239037870368, abs=1e-15)
    get = ADVANTAGE_ESTIMATORS.get

    def signs(x):
        return torch.tensor([x, -x, -x, x], dtype=torch.float64)

    torch.testing.assert_close(get("grpo")(r, ids), signs(a))
    b = 0.999998000004  # 0.5 / (0.5 + 1e-6)
    torch.testing.assert_close(get("grpo")(r, ids, std_unbiased=False), signs(b))
    torch.testing.assert_close(get("dr_grpo")(r, ids), signs(0.5))
    torch.testing.assert_close(get("rloo")(r, ids), signs(2 / 3))  # 1 - (0 + 0 + 1) / 3


def test_hand_computed_two_groups_interleaved():
    # group 9: [2, 0, 1] -> mean 1, Bessel std 1; group 4: [5, 5] constant -> 0
    r = torch.tensor([2.0, 5.0, 0.0, 5.0, 1.0])
    ids = torch.tensor([9, 4, 9, 4, 9])
    got = ADVANTAGE_ESTIMATORS.get("grpo")(r, ids)
    k = 0.9999990000010001  # 1 / (1 + 1e-6)
    torch.testing.assert_close(got, torch.tensor([k, 0.0, -k, 0.0, 0.0]))
    assert got.dtype == torch.float32


@pytest.mark.parametrize("name", NAMES)
def test_group_of_one_is_zero_not_nan(name):
    r = torch.tensor([3.0, 1.0, 0.0])
    ids = torch.tensor([0, 1, 1])
    got = ADVANTAGE_ESTIMATORS.get(name)(r, ids)
    assert torch.isfinite(got).all() and got[0] == 0.0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype,n", [(torch.float32, 7), (torch.float64, 10)])
def test_constant_group_is_exactly_zero(name, dtype, n):
    # 0.1 is not representable, so the group mean can round away from r: in float32 arithmetic r - mean
    # is -7e-9 for n=7, an advantage of -0.0074 after dividing by std + eps (hence the float64 stats);
    # in float64 it is still 1.4e-17 for n=10. Constant groups must be detected exactly.
    r = torch.full((n,), 0.1, dtype=dtype)
    ids = torch.zeros(n, dtype=torch.long)
    assert (ADVANTAGE_ESTIMATORS.get(name)(r, ids) == 0).all()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [4, 5])
def test_advantages_sum_to_zero_within_each_group(name, seed):
    rewards, ids = _batch(seed)
    adv = ADVANTAGE_ESTIMATORS.get(name)(rewards, ids)
    for gid in ids.unique():
        assert adv[ids == gid].sum().abs() < 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_permutation_equivariant(name):
    rewards, ids = _batch(6)
    perm = torch.randperm(len(ids), generator=torch.Generator().manual_seed(0))
    fn = ADVANTAGE_ESTIMATORS.get(name)
    torch.testing.assert_close(fn(rewards[perm], ids[perm]), fn(rewards, ids)[perm], rtol=0, atol=1e-15)


def test_integer_rewards_and_no_gradient():
    adv = ADVANTAGE_ESTIMATORS.get("grpo")(torch.tensor([1, 0, 1, 1]), torch.tensor([0, 0, 0, 0]))
    assert adv.dtype == torch.get_default_dtype()
    r = torch.tensor([1.0, 0.0], requires_grad=True)
    assert not ADVANTAGE_ESTIMATORS.get("grpo")(r, torch.tensor([0, 0])).requires_grad


def test_bad_shapes_are_rejected():
    fn = ADVANTAGE_ESTIMATORS.get("grpo")
    with pytest.raises(ValueError, match="must both be"):
        fn(torch.zeros(3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(TypeError, match="integer"):
        fn(torch.zeros(3), torch.zeros(3))
