"""The prompt-sampler interface, and the helpers every sampler shares.

Call order (the contract with the trainer)
------------------------------------------
Each training step the trainer calls, in this order::

    batch = sampler.next_batch(n)           # n prompts
    groups = generate(batch, G)             # G rollouts per prompt, kept together (see layout below)
    for problem, group in zip(batch, groups):
        sampler.record(problem.uid, [r.correct for r in group])   # once per served prompt
    ... update ...

Feedback for a prompt therefore always arrives *after* the `next_batch` call that served it. Samplers that
act on feedback at an epoch boundary (history resampling) take that decision lazily, at the start of the
next `next_batch` call, so all records of the epoch are in.

Index layout, worked example
----------------------------
Five problems with uids ``a b c d e``. A sampler first sorts its problems by uid (so the stream does not
depend on the order a loader returned them in); call that the canonical order ``[a, b, c, d, e]``.
The prompt stream is the concatenation of epoch orders; the order of epoch ``k`` is a permutation of the
epoch's active set drawn from an RNG seeded by ``(seed, k)`` only. With ``n = 4`` per batch (orders
illustrative)::

    epoch 0 order:  c a e b d          epoch 1 order:  b d a c e   (uniform: every prompt once per epoch)
    batch 0:        c a e b            <- positions 0..3 of epoch 0
    batch 1:        d | b d a          <- position 4 of epoch 0, then positions 0..2 of epoch 1
    batch 2:        c e | ...          (crossing an epoch boundary inside a batch is normal)

The trainer keeps each prompt's group together: rollout row ``i * G + j`` is the j-th response to
``batch[i]`` (for G = 2, batch 0 gives rows ``c c a a e e b b``), so group i is rows ``[i*G, (i+1)*G)``.

For history resampling, suppose epoch 0's records say ``a`` was all correct. The boundary decision for
epoch 0 is due when batch 1 crosses it, but batch 1's records (of ``d``) are not in yet, so epoch 1's head
(``b d a``) is drawn provisionally from the old active set. At the start of batch 2 the decision is applied:
``a`` leaves the active set, and the not-yet-served rest of epoch 1 is redrawn from the new active set
(``c e`` here, every active prompt not served yet in epoch 1, reshuffled by an RNG seeded with
``(seed, 1)``). So a dropped prompt can be served at most once more, in the batch that crossed the boundary,
and never again; when a batch ends exactly at a boundary nothing is provisional.

Determinism and resume: every random draw comes from ``numpy.random.default_rng([seed, stream, counter])``
(a counter-based scheme: epoch number for orders, boundary number for re-admission), so the RNG state is
just ``seed`` plus the counters that `state_dict` stores; the current epoch order is stored too. A state
dict is plain JSON (ints, floats, strings, lists, dicts).
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from srpo.data.problem import Problem
from srpo.sampling.config import SamplingConfig

# Stream ids for the counter-based RNG: one per purpose so adding draws to one never shifts another.
STREAM_ORDER, STREAM_READMIT, STREAM_REFILL, STREAM_FLOOR, STREAM_MIX = 1, 2, 3, 4, 5


def seeded_rng(seed: int, stream: int, *counters: int) -> np.random.Generator:
    """A fresh generator determined by (seed, stream, counters) alone: no hidden state to checkpoint."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(stream), *map(int, counters)]))


def check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: must be a non-negative int, got {seed!r}")
    return int(seed)


def check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"next_batch: n must be a non-negative int, got {n!r}")
    return int(n)


def as_bools(uid: str, corrects: Sequence[Any]) -> list[bool]:
    """Binary verdicts only: a shaped float score here would silently corrupt the filtering."""
    out = []
    for i, x in enumerate(corrects):
        if isinstance(x, (bool, np.bool_)):
            out.append(bool(x))
        elif isinstance(x, (int, np.integer)) and x in (0, 1):
            out.append(bool(x))
        else:
            raise TypeError(f"record({uid!r}): corrects[{i}] must be a bool (RewardResult.correct), got {x!r}")
    return out


def index_problems(problems: Sequence[Problem]) -> dict[str, Problem]:
    """uid -> problem, in canonical (sorted-uid) order; duplicates and an empty list are errors."""
    if len(problems) == 0:
        raise ValueError("sampler: no problems to sample from")
    by_uid: dict[str, Problem] = {}
    for i, p in enumerate(problems):
        if p.uid in by_uid:
            raise ValueError(f"sampler: duplicate uid {p.uid!r} (problem #{i}); uids must be unique")
        by_uid[p.uid] = p
    return {uid: by_uid[uid] for uid in sorted(by_uid)}


def fingerprint(uids: Sequence[str]) -> str:
    """Identifies the problem set, so a checkpoint cannot be resumed on different data by accident."""
    return hashlib.sha256("\n".join(sorted(uids)).encode("utf-8")).hexdigest()[:16]


class PromptSampler(abc.ABC):
    """Serves prompts to the trainer and takes correctness feedback; see the module docstring.

    Built from ``problems`` (keyed by ``uid``; list order does not matter), a non-negative int ``seed`` and
    a `SamplingConfig`. Everything it does is a function of those and of the feedback it gets.
    """

    kind: str = "abstract"

    def __init__(self, problems: Sequence[Problem], seed: int, cfg: SamplingConfig | None = None) -> None:
        self.cfg = cfg if cfg is not None else SamplingConfig()
        self.cfg.validate()
        self._seed = check_seed(seed)
        self._by_uid = index_problems(problems)
        self._uids: list[str] = list(self._by_uid)

    @property
    def dataset_size(self) -> int:
        return len(self._uids)

    @abc.abstractmethod
    def next_batch(self, n: int) -> list[Problem]:
        """The next n prompts of the stream (may cross an epoch boundary)."""

    @abc.abstractmethod
    def record(self, uid: str, corrects: Sequence[bool]) -> None:
        """Correctness of the rollouts of one served prompt (one call per served prompt)."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state; with the same problems, `load_state_dict` continues exactly."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a `state_dict` (raises ValueError if it belongs to another sampler kind or data set)."""

    @property
    @abc.abstractmethod
    def epoch(self) -> int:
        """Epoch of the most recently served prompt (0 before the first batch)."""

    @property
    @abc.abstractmethod
    def active_size(self) -> int:
        """Number of prompts the sampler currently draws from."""

    @abc.abstractmethod
    def stats(self) -> dict[str, float]:
        """Flat metrics (``active_size``, ``epoch``, ``dropped_total``, ...); see the implementation."""
