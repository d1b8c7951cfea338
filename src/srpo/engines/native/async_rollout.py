"""Asynchronous rollouts with bounded staleness: ``rollout.max_staleness = k > 0`` (docs/async.md).

A second thread generates and scores the batches of steps s+1 .. s+k while the trainer updates on step s.
The schedule is fixed, so a run is a function of its config and seed whatever the threads' timing:

    step t is generated from the weights after update  v(t) = max(floor, t - 1 - k)

(``floor`` is the step the run started or resumed at; k = 1 is verl's one-step-off-policy). Each side waits
for the other only where the schedule says so::

    rollout thread                                       trainer thread
    for t = first, first+1, ...:                         for t = start, start+1, ...:
        wait until weights v(t) are published                wait for batch t           (update_wait_s)
          (generation_wait_s), load them into its copy       advantages, update t
        draw, generate, score, record, observe  (stream)     evaluate, log, checkpoint
        hand batch t over                                    publish weights t (a clone of the trainable ones)

Everything the prompt stream does (draws, history resampling's records, the curriculum's observation) runs on
the rollout thread in step order, each step's verdicts before the next step is drawn: HR and the curriculum see
exactly what the synchronous loop shows them, so the stream's lookahead stays 0, and only the policy that
samples is up to k updates old. A checkpoint after update s waits until the rollout thread is idle (it then
needs weights s, which are published after the checkpoint), so it holds the stream and the rollout RNG after
step s + k and the batches s+1 .. s+k themselves (`Produced.to_state`), and a resumed run continues exactly.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from typing import Callable

import torch

from srpo.core.problem import Problem
from srpo.engines.native.experience import Experience


@dataclass
class Produced:
    """One step's batch as the rollout thread hands it over: the scored experience (every row sampled by
    `version`), the step's metrics known at generation (collection stats, srpo's step metrics with ``stage``,
    generation-side timing) and whether the run ends after this step (`final`; `exhausted`: history resampling's
    pool ran dry; `budget_spent`: ``run.max_rollouts`` reached), as the stream said right after the step."""

    step: int
    version: int
    exp: Experience
    metrics: dict[str, float]
    final: bool
    exhausted: bool
    budget_spent: bool

    def to_state(self) -> dict:
        return {"step": self.step, "version": self.version, "exp": self.exp.to_state(),
                "metrics": dict(self.metrics), "final": self.final, "exhausted": self.exhausted,
                "budget_spent": self.budget_spent}

    @classmethod
    def from_state(cls, state: dict, by_uid: dict[str, Problem]) -> "Produced":
        return cls(state["step"], state["version"], Experience.from_state(state["exp"], by_uid),
                   dict(state["metrics"]), state["final"], state["exhausted"], state["budget_spent"])


def trainable_state(model) -> dict[str, torch.Tensor]:
    """A detached copy of the parameters an update changes (with LoRA: the adapters only)."""
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


class AsyncRollouts:
    """The rollout thread and the hand-over in both directions (batches one way, weight versions the other).

    `produce(step, version)` runs on the rollout thread and returns the step's `Produced`; `rollout_model` is
    the rollout engine's own copy of the policy, holding version `floor` at the start. `pending` are batches a
    checkpoint held (steps floor+1 ..), handed over before anything new is generated."""

    def __init__(self, produce: Callable[[int, int], Produced], rollout_model, *, max_staleness: int,
                 floor: int, total_steps: int, pending: list[Produced] = ()):
        self._produce, self._model = produce, rollout_model
        self.k, self.floor, self.total_steps = max_staleness, floor, total_steps
        self._cond = threading.Condition()
        self._ready: collections.deque[Produced] = collections.deque(pending)
        self._next = (pending[-1].step if pending else floor) + 1  # next step to generate
        self._done = bool(pending) and pending[-1].final
        self._published = self._loaded = floor  # newest version published / in the rollout model
        self._snapshots: dict[int, dict[str, torch.Tensor]] = {}
        self._waiting = False  # the rollout thread is blocked on a version not yet published
        self._error: BaseException | None = None
        self._stop = False
        self._thread: threading.Thread | None = None

    def version_for(self, step: int) -> int:
        """The weight version step `step` is generated from: ``max(floor, step - 1 - k)``."""
        return max(self.floor, step - 1 - self.k)

    # ---- trainer side ------------------------------------------------------------------------------
    def start(self, threads: int | None = None) -> None:
        """Start the rollout thread (`threads`: its torch intra-op threads; None leaves torch's default)."""
        self._thread = threading.Thread(target=self._run, args=(threads,), name="srpo-rollout", daemon=True)
        self._thread.start()

    def get(self, step: int) -> tuple[Produced, float]:
        """Batch `step` and the seconds the trainer waited for it; re-raises a failure of the rollout thread."""
        start = time.perf_counter()
        with self._cond:
            while not self._ready and self._error is None and not self._done:
                self._cond.wait()
            self._raise_error()
            if not self._ready:
                raise RuntimeError(f"native engine: the rollout thread ended before step {step}")
            item = self._ready.popleft()
            self._cond.notify_all()
        if item.step != step:
            raise RuntimeError(f"native engine: the rollout thread handed over step {item.step}, expected {step}")
        return item, time.perf_counter() - start

    def publish(self, version: int, model) -> float:
        """Make the trainer's weights after update `version` available to the rollout thread; returns the
        seconds the copy took (nothing is copied when no step still to generate needs this version)."""
        start = time.perf_counter()
        with self._cond:
            needed = not self._done and self.version_for(self._next) <= version \
                and self.version_for(self.total_steps) >= version
        snapshot = trainable_state(model) if needed else None
        with self._cond:
            if snapshot is not None:
                self._snapshots[version] = snapshot
            self._published = version
            self._cond.notify_all()
        return time.perf_counter() - start

    def idle_pending(self) -> list[Produced]:
        """Wait until the rollout thread has generated everything the published weights allow, then return the
        batches generated and not yet taken (a checkpoint's in-flight steps, in step order)."""
        with self._cond:
            while not (self._done or self._error is not None or
                       (self._waiting and self._published < self.version_for(self._next))):
                self._cond.wait()
            self._raise_error()
            return list(self._ready)

    def close(self) -> None:
        """Stop the rollout thread; it finishes the batch it is generating, if any."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    # ---- rollout thread ----------------------------------------------------------------------------
    def _run(self, threads: int | None) -> None:
        if threads is not None:
            torch.set_num_threads(threads)  # per calling thread: the trainer's thread keeps its own
        try:
            while self._generate_next():
                pass
        except BaseException as err:  # handed to the trainer, which raises it
            with self._cond:
                self._error = err
                self._cond.notify_all()

    def _generate_next(self) -> bool:
        with self._cond:
            if self._done or self._stop or self._next > self.total_steps:
                self._done = True
                self._cond.notify_all()
                return False
            step = self._next
            version = self.version_for(step)
            start = time.perf_counter()
            while self._published < version and not self._stop:
                self._waiting = True
                self._cond.notify_all()
                self._cond.wait()
            self._waiting = False
            if self._stop:
                return False
            waited = time.perf_counter() - start
            snapshot = self._snapshots.get(version) if version > self._loaded else None
            if version > self._loaded and snapshot is None:
                raise RuntimeError(f"native engine: weights {version} for step {step} were never published")
            for old in [v for v in self._snapshots if v <= version]:
                del self._snapshots[old]
        load_s = self._load(snapshot, version)
        item = self._produce(step, version)
        item.metrics.update({"timing/generation_wait_s": waited, "timing/weight_load_s": load_s})
        with self._cond:
            self._ready.append(item)
            self._next = step + 1
            self._done = item.final
            self._cond.notify_all()
        return not item.final

    def _load(self, snapshot: dict[str, torch.Tensor] | None, version: int) -> float:
        start = time.perf_counter()
        if snapshot is not None:
            params = dict(self._model.named_parameters())
            with torch.no_grad():
                for name, value in snapshot.items():
                    params[name].copy_(value)
            self._loaded = version
        return time.perf_counter() - start
