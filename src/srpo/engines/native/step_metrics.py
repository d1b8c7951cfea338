"""Per-step training metrics computed from a step's experience (flat ``domain/name`` keys)."""

from __future__ import annotations

import torch

from srpo.analysis.groups import zero_advantage_split
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


def group_metrics(exp: Experience) -> dict[str, float]:
    """The zero-advantage split of the step's groups (`srpo.analysis.groups.zero_advantage_split`)."""
    rewards, corrects = exp.rewards_b.tolist(), exp.corrects_b.tolist()
    return zero_advantage_split([[(rewards[i], corrects[i]) for i in rows] for rows in exp.group_rows()])
