"""Per-step analysis metrics over one batch of rollouts (the trainer calls `rollout_metrics` every step).

Keys produced, for each domain ``d`` present in the batch and for ``all`` (every response):

- ``reflect/<d>/<family>_frac``: share of responses with at least one keyword of the family;
- ``reflect/<d>/any_frac``: share with at least one keyword of any family;
- ``reflect/<d>/<family>_count_mean``: mean keyword count per response;
- ``reflect/<d>/len_with`` / ``len_without``: mean length (the `lengths` given, usually tokens) of the
  responses with / without any reflection keyword, omitted when that subset is empty (never NaN);
- ``code_in_math/frac``: share of math responses that contain code (`contains_code`), omitted when the
  batch has no math response.
"""

from __future__ import annotations

from typing import Sequence

from srpo.analysis.code_detect import contains_code
from srpo.analysis.reflection import AnalysisConfig, detect_reflection


def _mean(values: Sequence[float]) -> float:
    return float(sum(values)) / len(values)


def _domain_metrics(
    counts: list[dict[str, int]], lengths: list[int], families: list[str], prefix: str
) -> dict[str, float]:
    """Reflection metrics for one subset of responses (non-empty)."""
    out: dict[str, float] = {}
    for fam in families:
        out[f"{prefix}/{fam}_frac"] = _mean([c[fam] > 0 for c in counts])
        out[f"{prefix}/{fam}_count_mean"] = _mean([c[fam] for c in counts])
    reflective = [any(c.values()) for c in counts]
    out[f"{prefix}/any_frac"] = _mean(reflective)
    with_len = [n for n, r in zip(lengths, reflective) if r]
    without_len = [n for n, r in zip(lengths, reflective) if not r]
    if with_len:
        out[f"{prefix}/len_with"] = _mean(with_len)
    if without_len:
        out[f"{prefix}/len_without"] = _mean(without_len)
    return out


def rollout_metrics(
    responses: Sequence[str],
    domains: Sequence[str],
    lengths: Sequence[int],
    cfg: AnalysisConfig | None = None,
) -> dict[str, float]:
    """Reflection and code-in-math metrics for one batch; all three lists are aligned per response.

    >>> m = rollout_metrics(["wait, 2", "def f(x):\\n  return x", "ok"], ["math", "math", "code"], [4, 10, 2])
    >>> m["reflect/math/any_frac"], m["reflect/math/len_with"], m["code_in_math/frac"], m["reflect/all/any_frac"]
    (0.5, 4.0, 0.5, 0.3333333333333333)
    """
    if not len(responses) == len(domains) == len(lengths):
        raise ValueError(
            f"rollout_metrics: responses ({len(responses)}), domains ({len(domains)}) and lengths "
            f"({len(lengths)}) must have the same length"
        )
    cfg = cfg or AnalysisConfig()
    if not responses or not cfg.enabled:
        return {}
    families = list(cfg.families)
    counts = [detect_reflection(text, cfg) for text in responses]
    out: dict[str, float] = {}
    for domain in sorted(set(domains) - {"all"}) + ["all"]:
        idx = [i for i, d in enumerate(domains) if domain in ("all", d)]
        out.update(
            _domain_metrics([counts[i] for i in idx], [lengths[i] for i in idx], families, f"reflect/{domain}")
        )
    math_texts = [t for t, d in zip(responses, domains) if d == "math"]
    if math_texts:
        out["code_in_math/frac"] = _mean([contains_code(t) for t in math_texts])
    return out
