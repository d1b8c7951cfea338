"""Per-step training metrics computed from a step's experience (flat ``domain/name`` keys)."""

from __future__ import annotations

import torch

from srpo.engines.native.experience import Experience


def domain_metrics(exp: Experience) -> dict[str, float]:
    """Reward, pass rate, response length, truncation and sample count per domain and over ``all``.

    Truncation treatment (``algorithm.truncation``): truncated_frac is the share of responses that hit
    max_new_tokens without EOS; masked_responses / masked_tokens count the responses left out of the
    loss and their tokens (0 unless truncation has mask); length_penalty_mean is the mean soft overlong
    penalty over the domain's responses (0 unless truncation has soft_penalty), already in reward_mean.
    """
    domains = exp.domains
    out: dict[str, float] = {}
    for domain in sorted(set(domains)) + ["all"]:
        rows = [i for i, d in enumerate(domains) if domain in (d, "all")]
        if not rows:
            continue
        idx = torch.tensor(rows)
        out[f"{domain}/reward_mean"] = float(exp.rewards_b[idx].mean())
        out[f"{domain}/pass_rate"] = float(exp.corrects_b[idx].float().mean())
        out[f"{domain}/response_len_mean"] = float(exp.response_lengths_b[idx].float().mean())
        out[f"{domain}/truncated_frac"] = float(exp.truncated_b[idx].float().mean())
        masked_b = ~exp.in_loss_b[idx]
        out[f"{domain}/masked_responses"] = float(masked_b.sum())
        out[f"{domain}/masked_tokens"] = float(exp.response_lengths_b[idx][masked_b].sum())
        out[f"{domain}/length_penalty_mean"] = float(exp.length_penalty_b[idx].mean())
        out[f"{domain}/num_samples"] = float(len(rows))
    return out


def group_outcomes(exp: Experience) -> list[str]:
    """Each group's outcome: ``all_correct``, ``all_wrong``, ``mixed``, or ``tied`` (mixed verdicts but
    identical shaped rewards: zero advantage without all-equal correctness)."""
    outcomes = []
    for rows in exp.group_rows():
        corrects = exp.corrects_b[rows]
        rewards = exp.rewards_b[rows]
        if bool(corrects.all()):
            outcomes.append("all_correct")
        elif not bool(corrects.any()):
            outcomes.append("all_wrong")
        elif bool((rewards == rewards[0]).all()):
            outcomes.append("tied")
        else:
            outcomes.append("mixed")
    return outcomes


def group_metrics(exp: Experience) -> dict[str, float]:
    """Zero-advantage groups, split by why they have no signal.

    zero_adv_frac: groups whose rewards are all equal (no gradient under group-relative advantages);
    all_correct_frac / all_wrong_frac: groups whose binary verdicts are all True / all False;
    effective_ratio: share of groups with a nonzero advantage (1 - zero_adv_frac).
    A group of all-correct or all-wrong verdicts can still have unequal shaped rewards (e.g. a format
    bonus), so zero_adv_frac is measured on rewards, not inferred from the split.
    """
    rows_per_group = exp.group_rows()
    if not rows_per_group:
        return {}
    zero = [bool((exp.rewards_b[r] == exp.rewards_b[r][0]).all()) for r in rows_per_group]
    outcomes = group_outcomes(exp)
    n = len(rows_per_group)
    zero_frac = sum(zero) / n
    return {
        "groups/count": float(n),
        "groups/zero_adv_frac": zero_frac,
        "groups/all_correct_frac": outcomes.count("all_correct") / n,
        "groups/all_wrong_frac": outcomes.count("all_wrong") / n,
        "groups/effective_ratio": 1.0 - zero_frac,
    }
