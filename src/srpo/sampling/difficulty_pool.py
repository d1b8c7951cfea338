"""Difficulty-weighted pools (prime-rl's ``difficulty-pool`` buffer): each batch mixes easy, normal and hard
prompts by fixed fractions, and a prompt's pool follows its latest group pass rate.

Every prompt is in one of three pools, all ``normal`` at the start (or, with ``pool_start_from_labels``, the
pool of its data label: easy / medium / hard). A batch of n prompts takes ``floor(n * pool_easy_fraction)``
from the easy pool and ``floor(n * pool_hard_fraction)`` from the hard pool, the rest from normal; a pool
with too few prompts passes its shortfall to normal, and when normal runs short too the rest comes from
whatever is left (then, only if the data set is smaller than n, with repeats). Within a batch no prompt
repeats while others remain; across batches draws are independent (no epochs), from an RNG seeded by
``(seed, call)``. After a group of G rollouts with pass rate r = correct / G is recorded the prompt moves
at once: ``easy`` if r > pool_easy_border, ``hard`` if r < pool_hard_border, else ``normal``. prime-rl's
defaults (orchestrator ``DifficultyPoolBufferConfig``): borders 0.8 / 0.2, fractions 0.1 / 0.1.

There is no epoch boundary to decide, so a lookahead changes nothing: the pools a draw sees are those of
the records already in, which for a given engine schedule is deterministic. ``epoch`` reports how many
data-set-sized passes have been served (served_total // dataset_size).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from srpo.core.problem import Problem
from srpo.sampling.base import STREAM_POOL, PromptSampler, as_bools, check_n, check_state, fingerprint, seeded_rng
from srpo.sampling.config import SamplingConfig
from srpo.sampling.registry import SAMPLERS

STATE_VERSION = 1
POOLS = ("easy", "normal", "hard")
_LABEL_POOL = {"easy": "easy", "medium": "normal", "hard": "hard"}


def pool_of(pass_rate: float, easy_border: float, hard_border: float) -> str:
    """The pool a prompt moves to after a group with this pass rate.

    >>> [pool_of(r, 0.8, 0.2) for r in (1.0, 0.8, 0.5, 0.2, 0.0)]
    ['easy', 'normal', 'normal', 'normal', 'hard']
    """
    return "easy" if pass_rate > easy_border else "hard" if pass_rate < hard_border else "normal"


def pool_quota(n: int, easy_fraction: float, hard_fraction: float) -> dict[str, int]:
    """Prompts per pool in a batch of n before shortfalls move to normal.

    >>> pool_quota(16, 0.1, 0.1)
    {'easy': 1, 'normal': 14, 'hard': 1}
    """
    easy, hard = math.floor(n * easy_fraction), math.floor(n * hard_fraction)
    return {"easy": easy, "normal": n - easy - hard, "hard": hard}


def _sample(uids: list[str], k: int, rng: np.random.Generator) -> list[str]:
    """k of `uids` without replacement (k <= len(uids))."""
    return [uids[i] for i in rng.choice(len(uids), size=k, replace=False)] if k > 0 else []


def draw_from_pools(members: dict[str, list[str]], quota: dict[str, int], rng: np.random.Generator) -> list[str]:
    """Uids for one batch: each pool's quota without replacement, easy and hard shortfalls to normal, then any
    remaining shortfall from the prompts not yet drawn, then (data set smaller than the batch) with repeats."""
    n = sum(quota.values())
    easy = _sample(members["easy"], min(quota["easy"], len(members["easy"])), rng)
    hard = _sample(members["hard"], min(quota["hard"], len(members["hard"])), rng)
    want_normal = n - len(easy) - len(hard)
    out = easy + hard + _sample(members["normal"], min(want_normal, len(members["normal"])), rng)
    chosen = set(out)
    rest = [u for name in POOLS for u in members[name] if u not in chosen]
    out += _sample(rest, min(n - len(out), len(rest)), rng)
    everyone = [u for name in POOLS for u in members[name]]
    out += [everyone[i] for i in rng.integers(len(everyone), size=n - len(out))]
    return out


@SAMPLERS.register("difficulty_pool")
class DifficultyPoolSampler(PromptSampler):
    """prime-rl's difficulty pools; see the module docstring for the draw and the moves between pools."""

    kind = "difficulty_pool"

    def __init__(self, problems: Sequence[Problem], seed: int, cfg: SamplingConfig | None = None) -> None:
        super().__init__(problems, seed, cfg)
        self._pool = {u: self._start_pool(p) for u, p in self._by_uid.items()}
        self._calls = 0
        self._served = 0
        self._served_by_pool = dict.fromkeys(POOLS, 0)
        self._moves = 0
        self._retired: list[str] = []  # out for good (stage-start filtering)

    def _start_pool(self, problem: Problem) -> str:
        if not self.cfg.pool_start_from_labels:
            return "normal"
        return _LABEL_POOL.get(str(problem.difficulty).lower(), "normal")

    def _members(self) -> dict[str, list[str]]:
        members: dict[str, list[str]] = {name: [] for name in POOLS}
        gone = set(self._retired)
        for uid in self._uids:
            if uid not in gone:
                members[self._pool[uid]].append(uid)
        return members

    def retire(self, uids: Sequence[str]) -> int:
        """Take `uids` out of every pool for good, keeping at least one prompt (canonical order)."""
        gone, wanted = set(self._retired), set(uids)
        cands = [u for u in self._uids if u in wanted and u not in gone]
        chosen = cands[:max(0, self.active_size - 1)]
        self._retired.extend(chosen)
        return len(chosen)

    def next_batch(self, n: int) -> list[Problem]:
        n = check_n(n)
        if n == 0:
            return []
        rng = seeded_rng(self._seed, STREAM_POOL, self._calls)
        self._calls += 1
        chosen = draw_from_pools(self._members(), pool_quota(n, self.cfg.pool_easy_fraction,
                                                             self.cfg.pool_hard_fraction), rng)
        for uid in chosen:
            self._served_by_pool[self._pool[uid]] += 1
        self._served += n
        return [self._by_uid[u] for u in chosen]

    def record(self, uid: str, corrects: Sequence[bool]) -> None:
        if uid not in self._by_uid:
            raise KeyError(f"record: unknown uid {uid!r} (not among this sampler's {self.dataset_size} problems)")
        flags = as_bools(uid, corrects)
        if not flags:
            return
        new = pool_of(sum(flags) / len(flags), self.cfg.pool_easy_border, self.cfg.pool_hard_border)
        self._moves += int(new != self._pool[uid])
        self._pool[uid] = new

    @property
    def retired_uids(self) -> list[str]:
        """Uids retired for good (stage-start filtering), in the order retired."""
        return list(self._retired)

    @property
    def epoch(self) -> int:
        return self._served // self.dataset_size

    @property
    def active_size(self) -> int:
        return self.dataset_size - len(self._retired)

    def stats(self) -> dict[str, float]:
        """``dataset_size, active_size`` (not retired), ``epoch, served_total, retired_total``, the pool sizes now (``pool_easy, pool_normal,
        pool_hard``), prompts served from each pool so far (``served_easy, served_normal, served_hard``) and
        ``pool_moves`` (records that moved a prompt to another pool)."""
        sizes = {name: len(uids) for name, uids in self._members().items()}
        out = {"dataset_size": float(self.dataset_size), "active_size": float(self.active_size),
               "epoch": float(self.epoch), "served_total": float(self._served), "pool_moves": float(self._moves),
               "retired_total": float(len(self._retired))}
        out.update({f"pool_{name}": float(sizes[name]) for name in POOLS})
        out.update({f"served_{name}": float(self._served_by_pool[name]) for name in POOLS})
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": STATE_VERSION, "seed": self._seed,
                "fingerprint": fingerprint(self._uids), "dataset_size": self.dataset_size, "calls": self._calls,
                "served": self._served, "served_by_pool": dict(self._served_by_pool), "moves": self._moves,
                "pools": {u: p for u, p in self._pool.items() if p != "normal"}, "retired": list(self._retired)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_state(state, self.kind, STATE_VERSION, self._uids)
        bad = [(u, p) for u, p in state["pools"].items() if u not in self._by_uid or p not in POOLS]
        if bad:
            raise ValueError(f"sampler state: pools names unknown uid or pool {bad[0]!r}")
        self._seed, self._calls, self._served = int(state["seed"]), int(state["calls"]), int(state["served"])
        self._served_by_pool = {name: int(state["served_by_pool"].get(name, 0)) for name in POOLS}
        self._moves = int(state["moves"])
        self._pool = {u: str(state["pools"].get(u, "normal")) for u in self._uids}
        self._retired = [str(u) for u in state["retired"] if u in self._by_uid]
