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
act on feedback at an epoch boundary (history resampling) take that decision lazily: at the start of the
first `next_batch` call at which every prompt served in the epoch has been recorded. Engines that draw
ahead (batch k+1 drawn before batch k is recorded) declare how far with ``set_lookahead(L)``; see
`srpo.sampling.epochs` and docs/sampling.md.

Index layout, worked example
----------------------------
A sampler sorts its problems by uid (so the stream does not depend on the order a loader returned them
in). The prompt stream is the concatenation of epoch orders; the order of epoch ``k`` is a permutation of
the epoch's active set drawn from an RNG seeded by ``(seed, k)`` alone. Five problems, 4 per batch:

>>> from srpo.core.problem import Problem
>>> from srpo.sampling import UniformSampler, HistoryResamplingSampler
>>> problems = [Problem(uid=u, domain="math", prompt=u) for u in "edcba"]
>>> s = UniformSampler(problems, seed=0)
>>> [[p.uid for p in s.next_batch(4)] for _ in range(3)]
[['b', 'e', 'd', 'a'], ['c', 'a', 'e', 'd'], ['b', 'c', 'a', 'b']]

Epoch 0 is ``b e d a c``, epoch 1 ``a e d b c``: batch 1 holds the last prompt of epoch 0 and the first three
of epoch 1 (crossing a boundary inside a batch is normal); batch 2 ends epoch 1 and starts epoch 2.
The trainer keeps each prompt's group together: rollout row ``i * G + j`` is the j-th response to
``batch[i]`` (for G = 2, batch 0 gives rows ``b b e e d d a a``), so group i is rows ``[i*G, (i+1)*G)``.

History resampling, same seed, ``a`` always solved and the others half solved:

>>> h = HistoryResamplingSampler(problems, seed=0)
>>> for _ in range(3):
...     batch = [p.uid for p in h.next_batch(4)]
...     for uid in batch:
...         h.record(uid, [True, True] if uid == "a" else [True, False])
...     print(batch, h.epoch, h.active_uids)
['b', 'e', 'd', 'a'] 0 ['a', 'b', 'c', 'd', 'e']
['c', 'a', 'e', 'd'] 1 ['a', 'b', 'c', 'd', 'e']
['b', 'c', 'c', 'b'] 2 ['b', 'c', 'd', 'e']

Batch 1 crosses the epoch-0 boundary before the record of ``c`` (epoch 0's last prompt) is in, so epoch
1's head ``a e d`` is drawn provisionally from the old active set. At the start of batch 2 the epoch-0
decision is applied (``a`` was all correct: dropped) and the unserved rest of epoch 1 is redrawn from the
new active set: every active prompt not yet served in epoch 1 (``b c``), reshuffled by an RNG seeded with
``(seed, 1)``. So a dropped prompt can be served at most once more, in the batch that crossed the
boundary, and never after; when a batch ends exactly at a boundary nothing is provisional.

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

from srpo.core.problem import Problem
from srpo.sampling.config import SamplingConfig
from srpo.sampling.dynamic import SingleRound

# Stream ids for the counter-based RNG: one per purpose so adding draws to one never shifts another.
STREAM_ORDER, STREAM_READMIT, STREAM_REFILL, STREAM_FLOOR, STREAM_MIX, STREAM_POOL, STREAM_RETIRE = 1, 2, 3, 4, 5, 6, 7


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


def check_state(state: dict[str, Any], kind: str, version: int, uids: Sequence[str]) -> None:
    """Refuse a sampler state of another sampler kind, state version or problem set (ValueError)."""
    if state.get("kind") != kind:
        raise ValueError(f"sampler state: it belongs to a {state.get('kind')!r} sampler, "
                         f"this one is {kind!r} (sampling.name changed since the checkpoint?)")
    if state.get("version") != version:
        raise ValueError(f"sampler state: version {state.get('version')!r} is not {version}")
    if state["fingerprint"] != fingerprint(uids):
        raise ValueError(f"sampler state: saved for a different problem set ({state['dataset_size']} "
                         f"problems, fingerprint {state['fingerprint']}) than this one "
                         f"({len(uids)}, {fingerprint(uids)})")


class PromptSampler(abc.ABC):
    """Serves prompts to the trainer and takes correctness feedback; see the module docstring.

    Built from ``problems`` (keyed by ``uid``; list order does not matter), a non-negative int ``seed`` and
    a `SamplingConfig`. Everything it does is a function of those and of the feedback it gets.
    """

    kind: str = "abstract"
    collection: type[SingleRound] = SingleRound  # how the loop collects a step's batch (`batch_collection`)

    def __init__(self, problems: Sequence[Problem], seed: int, cfg: SamplingConfig | None = None) -> None:
        self.cfg = cfg if cfg is not None else SamplingConfig()
        self.cfg.validate()
        self._seed = check_seed(seed)
        self._by_uid = index_problems(problems)
        self._uids: list[str] = list(self._by_uid)

    @property
    def dataset_size(self) -> int:
        return len(self._uids)

    def set_lookahead(self, batches: int) -> None:
        """Declare that the engine draws up to `batches` batches before recording a served one (default 0);
        samplers that decide nothing from feedback ignore it."""

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
        """Restore a `state_dict`: the state's seed wins over the constructor's; the config (threshold,
        readmission, ...) is the constructor's. Raises ValueError for another sampler kind or data set."""

    @abc.abstractmethod
    def retire(self, uids: Sequence[str]) -> int:
        """Remove `uids` from the pool for the rest of the run (stage-start filtering), never going below the
        sampler's floor; returns how many were retired. No re-admission rule brings them back."""

    @property
    def exhausted(self) -> bool:
        """True once the sampler asks the engine to end training after the current step (HR's pool ran dry
        with ``hr_on_exhausted=stop``); engines check it after each step."""
        return False

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
