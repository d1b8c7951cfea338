"""pass@k, avg@n and confidence intervals. Pure functions over counts.

For one problem with ``n`` samples of which ``c`` are correct, the unbiased estimator of pass@k
(Chen et al. 2021, "Evaluating Large Language Models Trained on Code") is

    pass@k = 1 - C(n - c, k) / C(n, k) = 1 - prod_{i = n - c + 1}^{n} (1 - k / i)

The product form never builds the huge binomials, so it is exact to float rounding for any n. It is 1 when
``n - c < k`` (every k-subset holds a correct sample). avg@n is the mean of per-sample correctness, c / n,
which equals pass@1; the paper reports it with n = 32.

Benchmark figures are means over problems; their 95% interval is the normal approximation over the
per-problem values: mean ± 1.96 · s / sqrt(m) (s: sample standard deviation with Bessel's correction,
m problems), clipped to [0, 1]. It measures how much the figure would move on another draw of problems and
samples; with fewer than two problems there is no interval (None).
"""

from __future__ import annotations

import math
from typing import Sequence

Z95 = 1.959963984540054


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem.

    >>> pass_at_k(4, 1, 1)
    0.25
    >>> round(pass_at_k(4, 1, 2), 6)  # 1 - C(3,2)/C(4,2) = 1 - 3/6
    0.5
    """
    if not (0 <= c <= n) or k < 1:
        raise ValueError(f"pass_at_k: need 0 <= c <= n and k >= 1, got n={n}, c={c}, k={k}")
    if k > n:
        raise ValueError(f"pass_at_k: k={k} is larger than the number of samples n={n}")
    if n - c < k:
        return 1.0
    if k == 1:
        return c / n  # the product telescopes to this; dividing once avoids n rounding steps
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def mean_ci(values: Sequence[float]) -> tuple[float, float | None, float | None]:
    """(mean, low, high): the normal-approximation 95% interval over `values`, clipped to [0, 1]."""
    m = len(values)
    if m == 0:
        return float("nan"), None, None
    mean = math.fsum(values) / m
    if m < 2:
        return mean, None, None
    var = math.fsum((v - mean) ** 2 for v in values) / (m - 1)
    half = Z95 * math.sqrt(var / m)
    return mean, max(0.0, mean - half), min(1.0, mean + half)
