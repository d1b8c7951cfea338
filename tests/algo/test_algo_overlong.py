import pytest
import torch

import _algo_ref as ref
from srpo.algo import soft_overlong_penalty


@pytest.mark.parametrize("max_len, window, factor", [(100, 20, 1.0), (64, 64, 0.5), (17, 1, 2.0), (50, 7, 1.0)])
def test_matches_loop_reference(max_len, window, factor):
    lengths = torch.arange(0, max_len + 3)  # every length, plus a few beyond the budget
    got = soft_overlong_penalty(lengths.double(), max_len=max_len, window=window, factor=factor)
    torch.testing.assert_close(got, ref.soft_overlong_penalty(lengths, max_len, window, factor),
                               rtol=0, atol=1e-15)


def test_hand_computed_boundaries():
    # L_max = 100, window 20: free up to 80, -1/20 per token after, -1 at the budget.
    lengths = torch.tensor([0, 80, 81, 90, 99, 100, 101])
    got = soft_overlong_penalty(lengths, max_len=100, window=20)
    torch.testing.assert_close(got, torch.tensor([0.0, 0.0, -0.05, -0.5, -0.95, -1.0, -1.0]), rtol=0, atol=0)
    got64 = soft_overlong_penalty(lengths.double(), max_len=100, window=20, factor=0.5)
    assert got64.tolist() == [0.0, 0.0, -0.025, -0.25, -0.475, -0.5, -0.5]


def test_window_equal_to_budget_penalises_from_the_first_token():
    got = soft_overlong_penalty(torch.tensor([0.0, 1.0, 2.0, 4.0]), max_len=4, window=4)
    assert got.tolist() == [0.0, -0.25, -0.5, -1.0]


def test_window_of_one_only_hits_the_budget():
    got = soft_overlong_penalty(torch.tensor([7.0, 8.0]), max_len=8, window=1, factor=3.0)
    assert got.tolist() == [0.0, -3.0]


def test_dtypes_and_no_gradient():
    assert soft_overlong_penalty(torch.tensor([5]), max_len=8, window=4).dtype == torch.get_default_dtype()
    assert soft_overlong_penalty(torch.tensor([5.0], dtype=torch.float64), max_len=8, window=4).dtype == torch.float64
    lengths = torch.tensor([6.0], requires_grad=True)
    assert not soft_overlong_penalty(lengths, max_len=8, window=4).requires_grad


@pytest.mark.parametrize("window, factor", [(0, 1.0), (9, 1.0), (4, -1.0)])
def test_bad_options_rejected(window, factor):
    with pytest.raises(ValueError):
        soft_overlong_penalty(torch.tensor([1]), max_len=8, window=window, factor=factor)
