"""srpo's reward components as TRL reward functions, and the per-step feedback they carry.

GRPOTrainer calls its reward functions one after the other with the same batch,
``f(prompts, completions, completion_ids, trainer_state, **columns)``, turns ``None`` into NaN and sums
``weight * reward`` ignoring NaN. srpo's reward of a response is ``sum(weight * score)`` over the components
of its domain that apply (`srpo.rewards.scorer.combine`), so one TRL function per (domain, component),
weighted as the config says and returning None for rows of another domain, gives GRPOTrainer exactly srpo's
reward; DAPO's soft overlong penalty (``algorithm.truncation``) is one more function of weight 1.

The first function called for a batch scores it once with `RewardScorer` (sandboxed code, math-verify
workers); the others read that result. That first call also gathers the verdicts of all processes and
feeds them to srpo's sampler and curriculum (`PromptStream.on_scored`) on every rank, and computes the
step's srpo metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from srpo.config import TrainConfig
from srpo.core.problem import Problem
from srpo.engines.records import Record, eos_id_set, is_truncated, overlong_penalties
from srpo.engines.trl.feedback import PromptStream, gather
from srpo.engines.trl.metrics import step_metrics


class StepScorer:
    """Scores each batch once and hands every component's score to its TRL reward function."""

    def __init__(self, cfg: TrainConfig, scorer, stream: PromptStream, problems: Sequence[Problem], tokenizer,
                 on_step: Callable[[int, dict[str, float], list[dict[str, Any]]], None] | None = None,
                 eos_ids: Sequence[int] | None = None):
        self.cfg, self.scorer, self.stream, self.tokenizer = cfg, scorer, stream, tokenizer
        self.by_uid = {p.uid: p for p in problems}
        # The model's EOS set (`srpo.engines.records.eos_id_set`); the tokenizer's alone when not given.
        self.eos_ids = list(eos_ids) if eos_ids is not None else eos_id_set(tokenizer)
        self.on_step = on_step  # (step, metrics, sample rows) for the logger
        self._key: tuple | None = None
        self._results: list = []
        self._penalties: list[float] = []

    def functions(self, domains: Sequence[str]) -> tuple[list[Callable], list[float]]:
        """TRL reward functions and their weights, one per (domain, component) of the domains in the data."""
        funcs, weights = [], []
        for domain in sorted(domains):
            for comp in self.cfg.rewards.components(domain):
                funcs.append(self._component(domain, comp.name))
                weights.append(comp.weight)
        if self.cfg.algorithm.penalizes_overlong:
            funcs.append(self._overlong())
            weights.append(1.0)
        return funcs, weights

    def _component(self, domain: str, name: str) -> Callable:
        def reward(prompts, completions, completion_ids, srpo_uid, trainer_state=None, **_):
            results = self.score(completion_ids, srpo_uid, trainer_state)
            out = []
            for uid, res in zip(srpo_uid, results):
                score = res.info["components"].get(name) if self.by_uid[uid].domain == domain else None
                out.append(score)
            return out

        reward.__name__ = f"{domain}/{name}"
        return reward

    def _overlong(self) -> Callable:
        def overlong(prompts, completions, completion_ids, srpo_uid, trainer_state=None, **_):
            self.score(completion_ids, srpo_uid, trainer_state)
            return list(self._penalties)

        overlong.__name__ = "overlong_penalty"
        return overlong

    # ---- one scoring per batch ---------------------------------------------------------------------
    def score(self, completion_ids: Sequence[Sequence[int]], uids: Sequence[str], trainer_state=None):
        """The batch's `RewardResult`s, computed (and fed back) on the first call for this batch.

        Texts are decoded from the token ids as the native engine does (TRL's own ``completions`` may be
        chat messages parsed by a response schema, which could move ``<think>`` out of the text)."""
        step = getattr(trainer_state, "global_step", None)
        key = (step, tuple(uids), tuple(tuple(ids) for ids in completion_ids))
        if key != self._key:
            self._key = key
            completions = self.tokenizer.batch_decode([list(ids) for ids in completion_ids], skip_special_tokens=True)
            self._results = self.scorer.score(completions, [self.by_uid[u] for u in uids])
            self._penalties = self._penalty([len(ids) for ids in completion_ids])
            self._feedback(completions, completion_ids, uids)
        return self._results

    def _penalty(self, lengths: list[int]) -> list[float]:
        return overlong_penalties(lengths, self.cfg.algorithm, self.cfg.rollout.max_new_tokens)

    def _feedback(self, completions, completion_ids, uids) -> None:
        local = [Record(uid=u, domain=self.by_uid[u].domain, correct=bool(res.correct),
                        reward=float(res.score) + pen, length=len(ids),
                        truncated=is_truncated(list(ids), self.eos_ids), penalty=pen, text=text)
                 for u, res, pen, ids, text in zip(uids, self._results, self._penalties, completion_ids, completions)]
        records = gather(local)
        entry = self.stream.on_scored(records)
        if self.on_step is not None:
            metrics, rows = step_metrics(self.cfg, entry, records, self.stream)
            self.on_step(entry["step"], metrics, rows)
