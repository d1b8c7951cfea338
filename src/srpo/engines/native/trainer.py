"""The training loop. One step reads like the algorithm:

    stream.begin_step()                                      # the curriculum's weights of this step
    prompts  = stream.draw_prompts(n)                        # uniform, history resampling, ...
    exp      = score(generate(prompts, G))                   # G responses each, verifier rewards
                                                             # (+ overlong penalty; truncated rows masked)
    stream.record(uid, corrects) for each group              # history resampling's history
    exp.adv  = group_advantages(exp.rewards, exp.groups)     # GRPO / Dr.GRPO / RLOO
    actor.update(exp)                                        # clipped surrogate, mini/micro-batches
    stream.observe(step, rewards)                            # the curriculum's stage switching
    log(metrics); maybe evaluate(); maybe checkpoint()

The prompts come from, and the verdicts go back to, srpo's one prompt stream (`srpo.sampling.stream.StepStream`,
as on TRL and verl); this loop scores each step before it draws the next, so its lookahead is 0. The sampler's
collection strategy (`srpo.sampling.batch_collection`) runs the draw/generate/score lines: one round, or for
dynamic sampling (DAPO) rounds of generation that keep only groups with mixed verdicts, each round drawn into
the same step; every generated group is recorded, kept or not.

With ``rollout.max_staleness = k > 0`` the draw/generate/score/record/observe lines of step t run on a second
thread (`srpo.engines.native.async_rollout`), from the weights after update max(0, t - 1 - k), while this thread
runs the update lines of earlier steps (`_async_loop`); k = 0 is the loop above, unchanged.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from srpo.engines.native import checkpoint as ckpt
from srpo.engines.native.async_rollout import AsyncRollouts, Produced
from srpo.algo import ADVANTAGE_ESTIMATORS, soft_overlong_penalty
from srpo.config import TrainConfig
from srpo.core.configlib import to_dict
from srpo.core.problem import Problem
from srpo.engines.checkpoint_layout import STATE_FILE, is_complete, latest_checkpoint
from srpo.engines.determinism import make_deterministic
from srpo.engines.hf_model import PromptFormatter, load_model_and_tokenizer
from srpo.engines.native.experience import Experience, concat
from srpo.engines.native.rollout import build_rollout_engine, updating
from srpo.engines.records import Record, sample_rows_of, step_metrics
from srpo.engines.run_dir import Resume, check_data, pick_resume, record_start, resume_changes
from srpo.engines.stop import StopRequest
from srpo.sampling import batch_collection
from srpo.sampling.stream import StepStream
from srpo.tracking import Tracker

log = logging.getLogger("srpo.train")
log.addHandler(logging.NullHandler())  # the warning reaches stderr once, through tqdm; a configured log gets it too
ZERO_REWARD_STEPS = 10  # after this many steps of nothing but exactly-zero rewards, say so loudly


class NativeStream(StepStream):
    """The native loop's prompt stream: `StepStream` with lookahead 0 (each step is scored before the next is
    drawn), so its pending set is empty between steps and in every checkpoint. With ``rollout.max_staleness > 0``
    too: the rollout thread scores and records each step before it draws the next (docs/async.md)."""

    engine = "native engine"


class Trainer:
    """GRPO/SRPO trainer over a Hugging Face causal LM. See the module docstring for one step."""

    def __init__(self, cfg: TrainConfig, scorer=None):
        from srpo.engines.native.setup import check_config

        check_config(cfg)
        if cfg.run.deterministic:
            make_deterministic()
        self.cfg = cfg
        self.run_dir = Path(cfg.run.output_dir)
        resume_from = self._resume_path()
        changes = resume_changes(cfg, self.run_dir) if resume_from else []  # refused before anything heavy
        fingerprint = self._build(scorer, resume_from)
        resume = self._restore(resume_from, changes, fingerprint) if resume_from else None
        self._reward_seen = self.step > 0  # after a resume the earlier steps are not known here
        self.tracker = Tracker.from_config(self.run_dir, cfg.logging, to_dict(cfg),
                                           start_step=self.step + 1 if resume else 0)
        record_start(cfg, self.run_dir, fingerprint, resume)

    def _build(self, scorer, resume_from: Path | None) -> dict[str, dict]:
        """Load the policy (from the checkpoint on a resume) and the parts; returns the data's fingerprint."""
        from srpo.engines.native.setup import build_components

        cfg = self.cfg
        _seed_everything(cfg.run.seed)
        model_cfg = dataclasses.replace(cfg.model, path=str(resume_from)) if resume_from else cfg.model
        self.model, self.tokenizer = load_model_and_tokenizer(model_cfg)
        self.model.eval()
        # With max_staleness > 0 the rollout thread samples from its own copy of the policy, which gets the weights
        # it needs published to it (`AsyncRollouts`), so an update never changes a model that is generating, and
        # tokenizes with its own tokenizer (a fast tokenizer is not safe to call from two threads at once, and
        # held-out evaluation uses this one on the trainer's thread).
        asynchronous = cfg.rollout.max_staleness > 0
        self.rollout_model = copy.deepcopy(self.model).requires_grad_(False).eval() if asynchronous else self.model
        rollout_tokenizer = copy.deepcopy(self.tokenizer) if asynchronous else self.tokenizer
        self.formatter = PromptFormatter(rollout_tokenizer, cfg.model.prompt_template, cfg.model.system_prompt)
        self.engine = build_rollout_engine(cfg.rollout, self.rollout_model, rollout_tokenizer, seed=cfg.run.seed)
        self.rollouts: AsyncRollouts | None = None
        self._pending: list[Produced] = []  # in-flight batches a checkpoint held (max_staleness > 0)
        parts = build_components(cfg, self.model, self.tokenizer, scorer)
        self._owns_scorer = scorer is None
        self.scorer = parts.scorer
        self.stream = NativeStream(parts.sampler, parts.curriculum, parts.train, cfg.rollout.prompts_per_step,
                                   cfg.run.total_steps, lookahead=0)
        self.collection = batch_collection(cfg.sampling)
        self.heldout, self.actor, self.evaluator = parts.heldout, parts.actor, parts.evaluator
        self.step = 0
        return parts.data_fingerprint

    # ----------------------------------------------------------------- the loop
    def train(self) -> dict[str, float]:
        """Run until `run.total_steps` (or `run.stop_at_step`); returns the last step's metrics.

        A first Ctrl-C (SIGINT), SIGTERM or SIGUSR1 lets the current step finish, saves a checkpoint and raises
        `Interrupted`; a second one raises `Stopped` at once (the last checkpoint stays as it was); see
        `srpo.engines.stop`."""
        try:
            with StopRequest() as stop:
                return self._loop(stop)
        finally:
            self.close()

    def _loop(self, stop: StopRequest) -> dict[str, float]:
        if self._asynchronous():
            return self._async_loop(stop)
        cfg = self.cfg.run
        last = cfg.stop_at_step or cfg.total_steps
        metrics: dict[str, float] = {}
        if self.step == 0 and self.heldout:
            self.tracker.log(self.evaluate(0), step=0)
        stop.raise_if_requested(self.step, None)  # during the first evaluation: the last checkpoint stands
        start = self.step + 1 if not (self._budget_spent() or self.stream.mixture.exhausted) else last + 1
        bar = tqdm(range(start, last + 1), disable=not cfg.progress, desc="train",
                   initial=self.step, total=cfg.total_steps)
        for step in bar:
            metrics = self.train_step(step)
            final = step == cfg.total_steps or self._budget_spent() or self._pool_exhausted(step)
            saved = self._end_step(step, metrics, final, last, bar, stop)
            if final:
                break
            stop.raise_if_requested(step, saved)
        return metrics

    def _end_step(self, step: int, metrics: dict[str, float], final: bool, last: int, bar,
                  stop: StopRequest) -> Path | None:
        """Evaluate when due (always at the end), log, and checkpoint when due, at the end or on a stop request;
        returns the checkpoint written, if any."""
        cfg = self.cfg.run
        if self.heldout and (final or _due(step, cfg.eval_every, cfg.total_steps)):
            metrics.update(self.evaluate(step))
        self.tracker.log(metrics, step=step)
        bar.set_postfix(reward=f"{metrics.get('all/reward_mean', 0):.3f}")
        return self.save() if final or _due(step, cfg.save_every, last) or stop.requested else None

    def close(self) -> None:
        """Stop the rollout thread, flush the logs and stop the verifier workers this trainer started."""
        if self.rollouts is not None:
            self.rollouts.close()
            self.rollouts = None
        self.tracker.close()
        if self._owns_scorer:
            self.scorer.close()

    def _budget_spent(self) -> bool:
        budget = self.cfg.run.max_rollouts
        return budget is not None and self.stream.rollouts_total >= budget

    def _pool_exhausted(self, step: int, exhausted: bool | None = None) -> bool:
        """History resampling ran out of prompts with ``sampling.hr_on_exhausted=stop`` (`exhausted`: as the rollout
        thread saw it after this step; None: the stream now): say so, end here."""
        if not (self.stream.mixture.exhausted if exhausted is None else exhausted):
            return False
        line = (f"srpo: history resampling's pool ran dry (sampling.hr_on_exhausted=stop): training ends after "
                f"step {step} of {self.cfg.run.total_steps}")
        tqdm.write(line, file=sys.stderr)
        log.warning(line)
        return True

    def train_step(self, step: int) -> dict[str, float]:
        """One step: draw prompts, roll out, score and record them, compute advantages, update, observe."""
        self.step = step
        start = time.perf_counter()
        stage, entry, exp, collect_stats = self.open_and_collect(step)
        t_update = time.perf_counter()
        update_stats = self.learn(step, exp)
        records = exp.records()
        self.feedback(step, records)
        srpo_metrics = self.step_metrics(stage, entry["weights"], exp, records)
        metrics = {"stage": srpo_metrics.pop("stage"), **collect_stats, **update_stats, **srpo_metrics,
                   "timing/update_s": time.perf_counter() - t_update,
                   "timing/step_s": time.perf_counter() - start}
        self.tracker.log_samples(sample_rows_of(step, stage, records))
        return metrics

    def open_and_collect(self, step: int) -> tuple[int, dict, Experience, dict[str, float]]:
        """Open `step` in the stream and collect its scored groups: (stage, the stream's entry, experience, stats).
        The stage is read before feedback, which may switch it for the next step."""
        stage = self.stream.curriculum.stage_index + 1
        entry = self.stream.begin_step()
        if entry["step"] != step:
            raise RuntimeError(f"native engine: step {step} but the prompt stream opens step {entry['step']}")
        exp, collect_stats = self.collect()
        return stage, entry, exp, collect_stats

    def learn(self, step: int, exp: Experience) -> dict[str, float]:
        """Advantages and the actor's update on a step's experience (nothing to update when it has no rows)."""
        self.watch_rewards(step, exp)
        exp.advantages_b = self.advantages(exp)
        with updating(self.engine, self.model):  # vllm: sleeps through the update, then takes the new weights
            return self.actor.update(exp) if len(exp) else {}

    def step_metrics(self, stage: int, weights: dict[str, float], exp: Experience,
                     records: list[Record]) -> dict[str, float]:
        """The step's srpo metrics from its records, as every engine computes them (`srpo.engines.records`);
        the groups are the experience's GRPO groups (`Experience.group_rows`)."""
        groups = [[records[i] for i in rows] for rows in exp.group_rows()]
        return step_metrics(stage, records, groups, masks_truncated=self.cfg.algorithm.masks_truncated,
                            analysis=self.cfg.analysis, sampler_stats=self.stream.mixture.stats(),
                            curriculum=self.stream.curriculum, weights=weights, counters=self.stream.stats())

    # ----------------------------------------------------------------- pieces of a step
    def collect(self) -> tuple[Experience, dict[str, float]]:
        """Prompts of the step the stream opened last -> scored groups, as the sampler's collection strategy
        gathers them (`srpo.sampling.batch_collection`: one round, or DAPO's dynamic sampling rounds, each drawn
        into the step by `StepStream.draw_prompts`)."""
        timer = _Timer()
        offset = [0]

        def rollout(problems: list[Problem]) -> Experience:
            exp = self.rollout(problems, timer, group_offset=offset[0])
            offset[0] += len(problems)  # group ids stay distinct across rounds
            return exp

        parts, stats = self.collection.collect(
            self.stream.draw_prompts, rollout,
            split=lambda exp: [exp.select(rows) for rows in exp.group_rows()],
            group_corrects=lambda g: g.corrects_b.tolist(), batch_groups=self.cfg.rollout.prompts_per_step)
        exp = concat(parts, self.tokenizer.pad_token_id) if parts else Experience.empty()
        return exp, {**timer.metrics(), **stats}

    def rollout(self, problems: list[Problem], timer: "_Timer", group_offset: int = 0) -> Experience:
        """Generate `group_size` responses per problem, score them and record every group's verdicts in the
        stream (history resampling, the rollout count), also those dynamic sampling then discards."""
        with timer("generate"):
            batch = self.engine.generate(self.formatter.ids([p.prompt for p in problems]),
                                         self.cfg.rollout.sampling())
        with timer("score"):
            problem_per_row = [problems[i] for i in batch.prompt_index_b.tolist()]
            results = self.scorer.score(batch.texts, problem_per_row)
        exp = Experience.from_rollout(batch, problems, results, group_offset,
                                      length_penalty_b=self.length_penalty(batch.response_mask_bt.sum(-1)),
                                      mask_truncated=self.cfg.algorithm.masks_truncated)
        for rows in exp.group_rows():
            self.stream.record(exp.problems[rows[0]].uid, exp.corrects_b[rows].tolist())
        return exp

    def length_penalty(self, lengths_b: torch.Tensor) -> torch.Tensor | None:
        """DAPO's soft overlong penalty per response when `algorithm.truncation` asks for it, else None."""
        algo = self.cfg.algorithm
        if not algo.penalizes_overlong:
            return None
        return soft_overlong_penalty(lengths_b, max_len=self.cfg.rollout.max_new_tokens,
                                     window=algo.overlong_window, factor=algo.overlong_penalty_factor)

    def advantages(self, exp: Experience) -> torch.Tensor:
        """Group advantages of the shaped rewards over every row, masked ones included (as TRL and DAPO)."""
        algo = self.cfg.algorithm
        estimator = ADVANTAGE_ESTIMATORS.get(algo.advantage)
        return estimator(exp.rewards_b, exp.group_ids_b, eps=algo.adv_eps, std_unbiased=algo.std_unbiased)

    def watch_rewards(self, step: int, exp: Experience) -> None:
        """Warn when every reward of the first `ZERO_REWARD_STEPS` steps is exactly 0: nothing can be learned."""
        self._reward_seen = self._reward_seen or bool((exp.rewards_b != 0).any())
        if step == ZERO_REWARD_STEPS and not self._reward_seen:
            line = (f"WARNING: every reward of the first {step} steps was exactly 0, so every advantage and "
                    f"gradient is 0 and the policy cannot learn. Check that responses match what the rewards "
                    f"read (samples.jsonl in {self.run_dir}), the rewards config, and the data's gold answers "
                    f"and tests (the table printed before step 1).")
            tqdm.write(line, file=sys.stderr)
            log.warning(line)

    def feedback(self, step: int, records: list[Record]) -> None:
        """Close the step in the stream and tell the curriculum the mean shaped reward of the responses trained on
        (`StepStream.observe`; nothing when none were kept); say when a stage switches."""
        self.stream.pop_oldest()
        curriculum = self.stream.curriculum
        seen = len(curriculum.switches)
        if self.stream.observe(step, [r.reward for r in records]):
            for switch in curriculum.switches[seen:]:
                tqdm.write(f"srpo: {curriculum.describe_switch(switch)}")

    def evaluate(self, step: int) -> dict[str, float]:
        """Held-out pass@k with its own seeded engine, so evaluation never shifts the training RNG."""
        return self.evaluator(self.heldout, seed=self.cfg.run.seed * 100_003 + step)

    # ----------------------------------------------------------------- asynchronous rollouts
    def _asynchronous(self) -> bool:
        return self.cfg.rollout.max_staleness > 0

    def _async_loop(self, stop: StopRequest) -> dict[str, float]:
        """`_loop` with the rollout thread generating ahead (`rollout.max_staleness`; module docstring)."""
        cfg = self.cfg.run
        last = cfg.stop_at_step or cfg.total_steps
        metrics: dict[str, float] = {}
        threads = torch.get_num_threads()
        ended = self._start_rollouts(threads)
        try:
            if self.step == 0 and self.heldout:
                self.tracker.log(self.evaluate(0), step=0)
            stop.raise_if_requested(self.step, None)
            start = self.step + 1 if not ended else last + 1
            bar = tqdm(range(start, last + 1), disable=not cfg.progress, desc="train",
                       initial=self.step, total=cfg.total_steps)
            publish_s, step_start = 0.0, time.perf_counter()
            for step in bar:
                item, waited = self.rollouts.get(step)
                metrics = {**self.update_step(item), "timing/update_wait_s": waited,
                           "timing/weight_publish_s": publish_s}
                metrics["timing/step_s"] = time.perf_counter() - step_start  # wall time since the last step
                step_start = time.perf_counter()
                final = step == cfg.total_steps or item.budget_spent or self._pool_exhausted(step, item.exhausted)
                saved = self._end_step(step, metrics, final, last, bar, stop)
                if final:
                    break
                stop.raise_if_requested(step, saved)  # before publishing: the rollout thread stays idle
                publish_s = self.rollouts.publish(step, self.model)
        finally:
            torch.set_num_threads(threads)
        return metrics

    def _start_rollouts(self, threads: int) -> bool:
        """Start the rollout thread from this step (with the checkpoint's batches in flight); on CPU it gets half of
        torch's `threads` and this thread the rest (torch's thread count is per calling thread). Returns whether
        the run had ended already: decided before the rollout thread moves the stream, since a checkpoint after
        the final step holds no batch in flight and its stream then says why the run ended."""
        ended = not self._pending and (self._budget_spent() or self.stream.mixture.exhausted)
        self.rollouts = AsyncRollouts(self.produce, self.rollout_model, max_staleness=self.cfg.rollout.max_staleness,
                                      floor=self.step, total_steps=self.cfg.run.total_steps, pending=self._pending)
        self._pending = []
        on_cpu = next(self.model.parameters()).device.type == "cpu"
        if not ended:
            self.rollouts.start(max(1, threads // 2) if on_cpu else None)
        if on_cpu:
            torch.set_num_threads(max(1, threads - threads // 2))
        return ended

    def produce(self, step: int, version: int) -> Produced:
        """Step `step`'s batch, on the rollout thread: open the step, draw, generate and score (the collection
        strategy), feed the verdicts back, and the step's srpo metrics as the synchronous loop computes them."""
        start = time.perf_counter()
        stage, entry, exp, collect_stats = self.open_and_collect(step)
        exp.policy_version_b = torch.full((len(exp),), version, dtype=torch.long)
        records = exp.records()
        self.feedback(step, records)
        srpo_metrics = self.step_metrics(stage, entry["weights"], exp, records)
        budget, exhausted = self._budget_spent(), self.stream.mixture.exhausted
        metrics = {**collect_stats, **srpo_metrics, "timing/produce_s": time.perf_counter() - start}
        return Produced(step, version, exp, metrics, final=step == self.cfg.run.total_steps or budget or exhausted,
                        exhausted=exhausted, budget_spent=budget)

    def update_step(self, item: Produced) -> dict[str, float]:
        """The update lines of step ``item.step`` on a batch the rollout thread produced: advantages, update,
        staleness (updates done before this one minus the version each response was sampled with)."""
        step, exp = item.step, item.exp
        self.step = step
        start = time.perf_counter()
        update_stats = self.learn(step, exp)
        versions_b = exp.policy_version_b if len(exp) else torch.tensor([item.version])
        staleness_b = (step - 1 - versions_b).float()
        metrics = dict(item.metrics)
        stage = int(metrics["stage"])
        self.tracker.log_samples(sample_rows_of(step, stage, exp.records()))
        return {"stage": metrics.pop("stage"), **metrics, **update_stats,
                "rollout/staleness_mean": float(staleness_b.mean()), "rollout/staleness_max": float(staleness_b.max()),
                "timing/update_s": time.perf_counter() - start}

    # ----------------------------------------------------------------- checkpoints
    def save(self) -> Path:
        # With batches in flight: the rollout thread is idle first (it needs the weights published after this
        # checkpoint), so the stream and the rollout RNG are those after the last batch in flight, stored here.
        pending = self.rollouts.idle_pending() if self.rollouts is not None else self._pending
        state = {"step": self.step, "actor": self.actor.state_dict(), "engine": self.engine.state_dict(),
                 "stream": self.stream.state_dict(), "rng": ckpt.rng_state()}
        if self._asynchronous():
            state["rollouts"] = {"max_staleness": self.cfg.rollout.max_staleness,
                                 "pending": [item.to_state() for item in pending]}
        return ckpt.save_checkpoint(self.run_dir, self.step, self.model, self.tokenizer, state,
                                    self.cfg.run.keep_checkpoints)

    def _resume_path(self) -> Path | None:
        return pick_resume(self.cfg.run.resume, self.run_dir, latest_checkpoint(self.run_dir, "native"),
                           lambda p: is_complete(p, "native"),
                           f"a complete srpo checkpoint (a RUN/checkpoints/step_N directory with {STATE_FILE})")

    def _restore(self, path: Path, changes: list, fingerprint: dict[str, dict]) -> Resume:
        """Continue from checkpoint `path`, after checking the run's data is the one it started on."""
        check_data(self.run_dir, fingerprint)
        state = ckpt.load_state(path)
        self.step = state["step"]
        self.actor.load_state_dict(state["actor"])
        self.engine.load_state_dict(state["engine"])
        self.stream.load_state_dict(state["stream"])
        ckpt.set_rng_state(state["rng"])
        if self._asynchronous():
            saved = state.get("rollouts", {"pending": []})["pending"]
            self._pending = [Produced.from_state(item, self.stream.by_uid) for item in saved]
        return Resume(path, self.step, changes)


class _Timer:
    """Accumulates wall time per named phase."""

    def __init__(self):
        self.totals: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.totals[name] = self.totals.get(name, 0.0) + time.perf_counter() - start

    def metrics(self) -> dict[str, float]:
        return {f"timing/{k}_s": v for k, v in self.totals.items()}


def _due(step: int, every: int, total: int) -> bool:
    return step == total or (every > 0 and step % every == 0)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
