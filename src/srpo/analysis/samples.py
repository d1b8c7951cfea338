"""Which rollouts go into ``samples.jsonl``: a deterministic share, the same on a resumed run.

Each row is kept when ``u < share`` where ``u`` in [0, 1) comes from a hash of ``(seed, step, uid, k)``
and ``k`` is the row's occurrence index among the rows of that step with that uid (the k-th response
of a prompt's group). No RNG state is involved, so a run resumed from a checkpoint logs exactly the rows
the uninterrupted run would have logged, even if the prompts of a step arrive in another order.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

from srpo.core.configlib import ConfigError, option

SAMPLE_FIELDS = ("step", "uid", "stage", "domain", "response", "reward", "correct", "length")


@dataclass(frozen=True)
class SampleLogConfig:
    """The rollout sample log (``RUN_DIR/samples.jsonl``)."""

    share: float = option(0.05, "fraction of rollouts written, in [0, 1]; 0 turns the log off, 1 keeps every "
                                "rollout. Selection is by hash, not by RNG (see module docstring), so it is "
                                "reproducible across resumes.")
    seed: int = option(0, "salt for the selection hash; change it to look at a different subset.")

    def validate(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise ConfigError(f"share: must be in [0, 1], got {self.share}")


def _unit_hash(seed: int, step: Any, uid: Any, k: int) -> float:
    """A uniform-looking number in [0, 1) from the key; blake2b is stable across processes and versions."""
    digest = hashlib.blake2b(f"{seed}|{step}|{uid}|{k}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def select_samples(rows: Sequence[dict[str, Any]], cfg: SampleLogConfig) -> list[dict[str, Any]]:
    """The rows to log: each kept with probability `cfg.share`, decided by hashing (step, uid, k).

    >>> rows = [{"step": 3, "uid": "p1"}, {"step": 3, "uid": "p1"}]
    >>> select_samples(rows, SampleLogConfig(share=1.0)) == rows, select_samples(rows, SampleLogConfig(share=0.0))
    (True, [])
    """
    if cfg.share <= 0.0:
        return []
    seen: Counter[tuple[Any, Any]] = Counter()
    kept = []
    for i, row in enumerate(rows):
        if "step" not in row or "uid" not in row:
            raise ValueError(f"sample row {i}: needs 'step' and 'uid' keys, got {sorted(row)}")
        key = (row["step"], row["uid"])
        k = seen[key]
        seen[key] += 1
        if cfg.share >= 1.0 or _unit_hash(cfg.seed, row["step"], row["uid"], k) < cfg.share:
            kept.append(row)
    return kept


def sample_rows(
    step: int,
    stage: int,
    uids: Sequence[str],
    domains: Sequence[str],
    responses: Sequence[str],
    rewards: Sequence[float],
    corrects: Sequence[bool],
    lengths: Sequence[int],
) -> list[dict[str, Any]]:
    """Zip per-rollout lists into sample-log rows with the `SAMPLE_FIELDS` keys.

    >>> sample_rows(1, 1, ["u"], ["math"], ["42"], [1.0], [True], [2])
    [{'step': 1, 'uid': 'u', 'stage': 1, 'domain': 'math', 'response': '42', 'reward': 1.0, 'correct': True, 'length': 2}]
    """
    columns = {"uids": uids, "domains": domains, "responses": responses, "rewards": rewards,
               "corrects": corrects, "lengths": lengths}
    n = len(uids)
    for name, col in columns.items():
        if len(col) != n:
            raise ValueError(f"sample_rows: {name} has {len(col)} items, uids has {n}")
    return [
        {"step": step, "uid": u, "stage": stage, "domain": d, "response": r, "reward": float(rw),
         "correct": bool(c), "length": int(ln)}
        for u, d, r, rw, c, ln in zip(uids, domains, responses, rewards, corrects, lengths)
    ]
