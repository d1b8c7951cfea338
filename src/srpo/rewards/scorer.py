"""The one batch entry point the trainer calls: score responses, combine components per domain.

Every (response, component) call runs on a thread of a small pool: the slow parts are already in other
processes (code in sandboxes, math-verify in its workers), so threads only wait, and a batch of 64 code
responses fans out across the sandbox pool at once. Nothing here can hang the caller: sandboxes have
wall-clock limits and math-verify has a per-item limit enforced from outside its process.
"""

from __future__ import annotations

import logging
import math
import numbers
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from srpo.core.problem import Problem
from srpo.core.results import RewardResult
from srpo.rewards.config import RewardComponent, RewardsConfig
from srpo.rewards.math_verifier import MathVerifier
from srpo.rewards.registry import REWARDS
from srpo.sandbox import SandboxConfig, SandboxPool

log = logging.getLogger(__name__)
MAX_THREADS = 64


def combine(results: dict[str, RewardResult | None], components: Sequence[RewardComponent],
            deciding: str) -> RewardResult:
    """Weighted sum of the components that apply; `correct` from the deciding component.

    info: ``components`` (name -> unweighted score, None if it did not apply), ``weights``,
    ``correct_from``, ``accuracy`` (the deciding component's info), ``details`` (every component's info).

    >>> r = combine({"a": RewardResult(1.0, True, {"x": 1}), "f": RewardResult(0.0, False)},
    ...             [RewardComponent("a", 1.0), RewardComponent("f", 0.5)], "a")
    >>> r.score, r.correct, r.info["components"]
    (1.0, True, {'a': 1.0, 'f': 0.0})
    """
    total, scores, details = 0.0, {}, {}
    for comp in components:
        res = results.get(comp.name)
        scores[comp.name] = None if res is None else res.score
        if res is not None:
            total += comp.weight * res.score
            details[comp.name] = res.info
    decider = results.get(deciding)
    info: dict[str, Any] = {
        "components": scores, "weights": {c.name: c.weight for c in components}, "correct_from": deciding,
        "accuracy": decider.info if decider is not None else {"error": f"{deciding} did not apply"},
        "details": details,
    }
    return RewardResult(total, bool(decider is not None and decider.correct), info)


def _failed(reason: str) -> RewardResult:
    return RewardResult(0.0, False, {"error": reason, "verdict": "error"})


def _finite(score: object) -> bool:
    if not isinstance(score, numbers.Real):
        return False
    try:
        return math.isfinite(float(score))
    except (OverflowError, TypeError, ValueError):
        return False


def _describe(thing: object, with_type: bool = True) -> str:
    """A short description that cannot raise (the object may be anything a reward produced)."""
    try:
        if isinstance(thing, BaseException):
            text = f"{type(thing).__name__}: {thing}" if with_type else str(thing)
        else:
            text = repr(thing)
    except Exception:
        text = f"<{type(thing).__name__}>"
    return text if len(text) <= 2000 else text[:2000] + "..."


class RewardScorer:
    """Scores batches of responses for both domains.

    ``RewardScorer(rewards_cfg, sandbox_cfg)``; ``score(responses, problems) -> list[RewardResult]``;
    ``close()`` (or use it as a context manager). The sandbox pool starts at construction (it raises
    `srpo.sandbox.SandboxUnavailable` if untrusted code cannot be isolated and unsafe mode is off) unless
    no code component is configured; math-verify workers start on first need.
    """

    def __init__(self, rewards_cfg: RewardsConfig | None = None, sandbox_cfg: SandboxConfig | None = None,
                 *, sandbox: SandboxPool | None = None):
        self.cfg = rewards_cfg or RewardsConfig()
        self.cfg.validate()
        self._entries = {c.name: REWARDS.get(c.name) for d in ("math", "code") for c in self.cfg.components(d)}
        needs = {r for e in self._entries.values() for r in e.resources}
        self._own_sandbox = sandbox is None and "sandbox" in needs
        self.sandbox = sandbox if sandbox is not None else (
            SandboxPool(sandbox_cfg or SandboxConfig()) if "sandbox" in needs else None)
        self.math_verifier = MathVerifier(self.cfg.math_workers, self.cfg.math_timeout_s)
        self._threads = ThreadPoolExecutor(MAX_THREADS, thread_name_prefix="srpo-reward")
        self._params = {name: self._base_params(name) for name in self._entries}

    def _base_params(self, name: str) -> dict[str, Any]:
        entry = self._entries[name]
        params = dict(entry.config_defaults(self.cfg)) if entry.config_defaults else {}
        resources = {"sandbox": self.sandbox, "math_verifier": self.math_verifier}
        params.update({r: resources[r] for r in entry.resources})
        return params

    def score(self, responses: Sequence[str], problems: Sequence[Problem]) -> list[RewardResult]:
        """One combined `RewardResult` per response (same order)."""
        if len(responses) != len(problems):
            raise ValueError(f"score: {len(responses)} responses but {len(problems)} problems")
        start = time.perf_counter()
        futures = [{c.name: self._threads.submit(self._one, c, r, p) for c in self.cfg.components(p.domain)}
                   for r, p in zip(responses, problems)]
        out = []
        for p, comp_futures in zip(problems, futures):
            results = {name: f.result() for name, f in comp_futures.items()}
            out.append(combine(results, self.cfg.components(p.domain), self.cfg.deciding(p.domain)))
        log.debug("scored %d responses in %.3fs", len(out), time.perf_counter() - start)
        return out

    def _one(self, comp: RewardComponent, response: str, problem: Problem) -> RewardResult | None:
        """One component's verdict on one response. Total: any exception of the reward (a malformed problem,
        a bug, a value it cannot handle, RecursionError, MemoryError once unwound) and any result that is not
        a `RewardResult` with a finite score is that response's verdict (score 0, incorrect, the reason in
        ``info["error"]``), never the batch's. BaseExceptions that are not errors (KeyboardInterrupt and the
        trainer's stops, `Interrupted` / `Stopped`; SystemExit) pass through."""
        params = {**self._params[comp.name], **comp.params}
        try:
            result = self._entries[comp.name].fn(response, problem, **params)
        except ValueError as err:  # a malformed problem: score 0, say why, keep the batch going
            log.warning("reward %s on problem %s: %s", comp.name, problem.uid, err)
            return _failed(_describe(err, with_type=False))
        except Exception as err:
            log.error("reward %s on problem %s failed", comp.name, problem.uid, exc_info=True)
            return _failed(f"{comp.name} failed: {_describe(err)}")
        if result is None:
            return None
        if not (isinstance(result, RewardResult) and _finite(result.score) and isinstance(result.info, dict)
                and type(result.correct) is bool):
            returned = result
            try:  # a numpy bool, 1 for True, a numpy float: plain again
                result = RewardResult(float(result.score), bool(result.correct), result.info) \
                    if isinstance(result, RewardResult) and isinstance(result.score, numbers.Real) else None
            except Exception:
                result = None
            if result is None or not _finite(result.score) or not isinstance(result.info, dict):
                log.error("reward %s on problem %s returned %s", comp.name, problem.uid, _describe(returned))
                return _failed(f"{comp.name} returned {_describe(returned)}, not a RewardResult with a finite "
                               "score, a bool verdict and an info dict")
        return result

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        self.math_verifier.close()
        if self._own_sandbox and self.sandbox is not None:
            self.sandbox.close()

    def __enter__(self) -> "RewardScorer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
