import math
from fractions import Fraction

import pytest

from srpo.eval import mean_ci, pass_at_k


def exact(n, c, k):
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


@pytest.mark.parametrize("n", [1, 2, 5, 16, 32, 100])
def test_pass_at_k_matches_exact_combinatorics(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(float(exact(n, c, k)), abs=1e-12)


def test_edge_cases():
    assert pass_at_k(10, 0, 1) == 0.0 and pass_at_k(10, 0, 10) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 8, 3) == 1.0  # n - c = 2 < k: every 3-subset holds a correct sample
    assert pass_at_k(32, 8, 1) == 0.25  # pass@1 is the plain fraction correct
    big = pass_at_k(1000, 1, 500)  # C(999,500)/C(1000,500) would overflow floats; the product does not
    assert big == pytest.approx(0.5)
    for bad in [(3, 4, 1), (3, 1, 0), (3, 1, 4), (3, -1, 1)]:
        with pytest.raises(ValueError):
            pass_at_k(*bad)


def test_mean_ci():
    mean, lo, hi = mean_ci([0.0, 1.0, 0.5, 0.5])
    sd = math.sqrt(((0.5) ** 2 * 2) / 3)
    assert mean == 0.5 and hi - mean == pytest.approx(1.959963984540054 * sd / 2)
    assert mean_ci([0.7]) == (0.7, None, None)
    assert mean_ci([1.0, 1.0, 1.0]) == (1.0, 1.0, 1.0)
    _, lo, _ = mean_ci([0.0, 0.0, 0.1])
    assert lo == 0.0  # clipped
