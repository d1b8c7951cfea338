"""Per-domain samplers drawn with domain weights (the curriculum's data mix).

Each domain (``math``, ``code``) has its own sampler and therefore its own epochs and HR state. A batch of
n prompts is split between domains by `allocate`: cumulative largest remainder. The mixture carries, per
domain, ``owed = (sum of n_t * w_t) - (prompts given so far)``; each call gives every domain
``floor(owed + n * w)`` or one more, the extra units going to the largest fractional parts (exact ties in
an order drawn from the seeded RNG). So ``|owed| < 1`` at all times and the cumulative count of every
domain stays within one prompt of its exact share: a 0.25 code share with n = 6 gives 1 or 2 code
prompts per batch, 3 per two batches. A domain whose weight is 0 gets nothing and its debt is cleared.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from srpo.core.problem import Problem
from srpo.sampling.base import STREAM_MIX, PromptSampler, check_n, check_seed, seeded_rng
from srpo.sampling.config import SamplingConfig
from srpo.sampling.registry import SAMPLERS

STATE_VERSION = 1


def normalize_weights(weights: Mapping[str, float], known: Sequence[str]) -> dict[str, float]:
    """Weights over `known` domains summing to 1; a positive weight on a domain without data is an error."""
    for d, w in weights.items():
        if not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0):
            raise ValueError(f"weights.{d}: must be a finite number >= 0, got {w!r}")
        if w > 0 and d not in known:
            raise ValueError(f"weights.{d}: weight {w} but there are no {d!r} problems "
                             f"(domains with data: {', '.join(known)})")
    total = sum(float(weights.get(d, 0.0)) for d in known)
    if total <= 0:
        raise ValueError(f"weights: must have a positive sum over {', '.join(known)}, got {dict(weights)}")
    return {d: float(weights.get(d, 0.0)) / total for d in known}


def allocate(n: int, weights: Mapping[str, float], owed: Mapping[str, float],
             rng: np.random.Generator) -> tuple[dict[str, int], dict[str, float]]:
    """Split n between domains; returns (counts, new owed). `weights` normalised over all domains.

    >>> allocate(6, {"code": 0.25, "math": 0.75}, {"code": 0.5, "math": -0.5}, np.random.default_rng(0))
    ({'code': 2, 'math': 4}, {'code': 0.0, 'math': 0.0})
    """
    live = [d for d in weights if weights[d] > 0]
    target = {d: owed.get(d, 0.0) + n * weights[d] for d in live}
    shift = (n - sum(target.values())) / len(live)  # restores sum(target) == n after debts were cleared
    target = {d: t + shift for d, t in target.items()}
    counts = {d: math.floor(t) for d, t in target.items()}
    keys = rng.random(len(live))
    by_frac = sorted(range(len(live)), key=lambda i: (-(target[live[i]] - counts[live[i]]), keys[i]))
    extra = n - sum(counts.values())
    for i in range(max(0, extra)):
        counts[live[by_frac[i % len(live)]]] += 1
    for i in range(max(0, -extra)):  # only reachable through float noise
        counts[live[by_frac[-1 - i % len(live)]]] -= 1
    _fix_negative(counts, target)
    out_counts = {d: counts.get(d, 0) for d in weights}
    new_owed = {d: (target[d] - counts[d]) if d in counts else 0.0 for d in weights}
    return out_counts, new_owed


def _fix_negative(counts: dict[str, int], target: dict[str, float]) -> None:
    """A large debt can ask for a negative count; take the prompt from the most over-served domain."""
    for d in [d for d in counts if counts[d] < 0]:
        while counts[d] < 0:
            donor = min((x for x in counts if counts[x] > 0), key=lambda x: (target[x] - counts[x], x))
            counts[donor] -= 1
            counts[d] += 1


class DomainMixture:
    """One `PromptSampler` per domain; batches drawn with the given domain weights."""

    def __init__(self, samplers: Mapping[str, PromptSampler], seed: int) -> None:
        if not samplers:
            raise ValueError("DomainMixture: needs at least one domain sampler")
        self._samplers = {d: samplers[d] for d in sorted(samplers)}
        self._seed = check_seed(seed)
        self._owed = dict.fromkeys(self._samplers, 0.0)
        self._calls = 0
        self._last = dict.fromkeys(self._samplers, 0)

    @classmethod
    def from_problems(cls, problems: Sequence[Problem], seed: int,
                      cfg: SamplingConfig | None = None) -> "DomainMixture":
        """Group `problems` by domain and build ``cfg.name`` samplers with per-domain seeds."""
        cfg = cfg if cfg is not None else SamplingConfig()
        by_domain: dict[str, list[Problem]] = {}
        for p in problems:
            by_domain.setdefault(p.domain, []).append(p)
        if not by_domain:
            raise ValueError("DomainMixture: no problems")
        seed = check_seed(seed)
        return cls({d: SAMPLERS.get(cfg.name)(ps, domain_seed(seed, d), cfg) for d, ps in by_domain.items()}, seed)

    @property
    def domains(self) -> list[str]:
        return list(self._samplers)

    @property
    def samplers(self) -> dict[str, PromptSampler]:
        return dict(self._samplers)

    @property
    def exhausted(self) -> bool:
        """True when any domain's sampler asks to end training (see `PromptSampler.exhausted`)."""
        return any(s.exhausted for s in self._samplers.values())

    def set_lookahead(self, batches: int) -> None:
        """Tell every domain sampler how many batches the engine draws before recording (see
        `srpo.sampling.epochs`). A domain's calls are a subset of the mixture's, so the bound carries over."""
        for sampler in self._samplers.values():
            sampler.set_lookahead(batches)

    def domain_sizes(self) -> dict[str, int]:
        """Problems per domain (what `Curriculum` needs for proportional presets)."""
        return {d: s.dataset_size for d, s in self._samplers.items()}

    def next_batch(self, n: int, weights: Mapping[str, float]) -> list[Problem]:
        """n prompts split by `weights` (normalised; see the module docstring), shuffled together."""
        n = check_n(n)
        w = normalize_weights(weights, self.domains)
        rng = seeded_rng(self._seed, STREAM_MIX, self._calls)
        self._calls += 1
        counts, self._owed = allocate(n, w, self._owed, rng)
        batch = [p for d in self._samplers for p in (self._samplers[d].next_batch(counts[d]) if counts[d] else [])]
        self._last = counts
        return [batch[i] for i in rng.permutation(len(batch))]

    def record(self, problem: Problem, corrects: Sequence[bool]) -> None:
        """Feedback for one served problem, forwarded to its domain's sampler."""
        if problem.domain not in self._samplers:
            raise KeyError(f"record: problem {problem.uid!r} has domain {problem.domain!r}, "
                           f"not one of this mixture's ({', '.join(self.domains)})")
        self._samplers[problem.domain].record(problem.uid, corrects)

    def retire(self, problems: Sequence[Problem]) -> int:
        """Retire `problems` for good in their domains' samplers (`PromptSampler.retire`); returns how many left."""
        by_domain: dict[str, list[str]] = {}
        for p in problems:
            by_domain.setdefault(p.domain, []).append(p.uid)
        return sum(self._samplers[d].retire(uids) for d, uids in sorted(by_domain.items()) if d in self._samplers)

    def stats(self) -> dict[str, float]:
        """Each domain's sampler stats as ``domain/key``, plus ``domain/batch_count`` of the last batch."""
        out: dict[str, float] = {}
        for d, s in self._samplers.items():
            out.update({f"{d}/{k}": v for k, v in s.stats().items()})
            out[f"{d}/batch_count"] = float(self._last.get(d, 0))
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "seed": self._seed, "calls": self._calls, "owed": dict(self._owed),
                "last": dict(self._last), "samplers": {d: s.state_dict() for d, s in self._samplers.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"mixture state: version {state.get('version')!r} is not {STATE_VERSION}")
        if sorted(state["samplers"]) != self.domains:
            raise ValueError(f"mixture state: domains {sorted(state['samplers'])} do not match {self.domains}")
        for d, s in self._samplers.items():
            s.load_state_dict(state["samplers"][d])
        self._seed, self._calls = int(state["seed"]), int(state["calls"])
        self._owed = {d: float(state["owed"].get(d, 0.0)) for d in self._samplers}
        self._last = {d: int(state["last"].get(d, 0)) for d in self._samplers}


def domain_seed(seed: int, domain: str) -> int:
    """A per-domain seed independent of Python's hash randomisation."""
    return int(np.random.SeedSequence([seed, zlib.crc32(domain.encode())]).generate_state(1)[0])
