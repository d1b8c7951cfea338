"""The zero-advantage split every engine logs: which groups carry no learning signal, and why."""

from __future__ import annotations

from collections.abc import Sequence


def zero_advantage_split(groups: Sequence[Sequence[tuple[float, bool]]]) -> dict[str, float]:
    """Metrics over groups of ``(shaped reward, binary correct)`` pairs, one group per prompt.

    zero_adv_frac: groups whose rewards are all equal (no gradient under group-relative advantages);
    all_correct_frac / all_wrong_frac: groups whose verdicts are all True / all False;
    effective_ratio = 1 - zero_adv_frac. A group of all-correct or all-wrong verdicts can still have
    unequal shaped rewards (e.g. a format bonus), so zero_adv_frac is measured on rewards, not inferred.

    >>> zero_advantage_split([[(1.0, True), (1.0, True)], [(0.0, False), (1.0, True)]])["groups/zero_adv_frac"]
    0.5
    """
    if not groups:
        return {}
    n = len(groups)
    zero = sum(all(reward == g[0][0] for reward, _ in g) for g in groups) / n
    return {"groups/count": float(n), "groups/zero_adv_frac": zero,
            "groups/all_correct_frac": sum(all(c for _, c in g) for g in groups) / n,
            "groups/all_wrong_frac": sum(not any(c for _, c in g) for g in groups) / n,
            "groups/effective_ratio": 1.0 - zero}
