"""TRL's GRPOTrainer with srpo's parts inside: `train(cfg)` runs a srpo config on it.

The subclass touches six extension points of GRPOTrainer (TRL 1.16) and nothing of its step:
``_get_train_sampler`` (srpo's prompt stream in RepeatSampler layout), ``_save_checkpoint`` and
``_load_optimizer_and_scheduler`` (srpo's state in TRL's checkpoint folder, as TRL does for its own entropy
controller; ``_issue_warnings_after_load``: a tied model resumes tied, without a spurious missing-key
warning), ``_generate_and_score_completions`` (only to restore the RNG once after a resume, at the
point a straight run is at) and ``log`` (srpo's step metrics into TRL's logs and metrics.jsonl).
Checkpoints are found through `srpo.engines.checkpoint_layout`, as every engine's.
A callback does the held-out evaluation, the run-level stops (the last step, a budget, a signal: SIGINT,
SIGTERM or SIGUSR1 stop every rank after the same step, with a checkpoint) and the cross-rank state check.

One srpo step is one generation batch: TRL's ``global_step`` advances by ``updates_per_step`` optimizer steps
per srpo step (see `srpo.engines.trl.setup`); every srpo number (step, metrics, checkpoints) counts srpo steps.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import torch
from trl import GRPOConfig, GRPOTrainer
from transformers import TrainerCallback

from srpo.config import TrainConfig
from srpo.core.configlib import ConfigError, to_dict
from srpo.core.errors import Interrupted
from srpo.engines.checkpoint_layout import TRL_STATE_FILE, is_complete, latest_checkpoint
from srpo.engines.trl.feedback import PromptSampler, PromptStream, gather
from srpo.engines.trl.setup import BatchPlan, check_config, differences, grpo_args, peft_config
from srpo.engines.run_dir import Resume, check_data, pick_resume, record_start, resume_changes
from srpo.engines.stop import StopRequest
from srpo.tracking import Tracker

log = logging.getLogger(__name__)
_TRL_NAMES = {"loss": "train/loss", "grad_norm": "train/grad_norm", "learning_rate": "train/lr",
              "entropy": "actor/entropy", "kl": "actor/kl_ref"}


class SrpoGRPOTrainer(GRPOTrainer):
    """GRPOTrainer drawing prompts from srpo's stream and carrying srpo's state; see the module docstring."""

    def __init__(self, *args, srpo_run: "SrpoRun", **kwargs):
        self.srpo = srpo_run
        self._srpo_rng_from: str | None = None
        super().__init__(*args, **kwargs)

    def _get_train_sampler(self, dataset=None):
        return PromptSampler(self.srpo.stream, self.srpo.row_of_uid, self.srpo.plan.repeat_count)

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        folder = Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
        if self.args.should_save:  # written last and atomically: a checkpoint without it is incomplete
            tmp = folder / (TRL_STATE_FILE + ".tmp")
            tmp.write_text(json.dumps({"step": self.state.global_step // self.srpo.plan.updates_per_step,
                                       "stream": self.srpo.stream.state_dict()}))
            os.replace(tmp, folder / TRL_STATE_FILE)

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is None:
            return
        state = json.loads((Path(checkpoint) / TRL_STATE_FILE).read_text())
        self.srpo.stream.load_state_dict(state["stream"])
        self._srpo_rng_from = checkpoint

    def _issue_warnings_after_load(self, load_result):
        """Resume loads the checkpoint's state dict into the model, where tied weights are stored once (the toy
        model's ``lm_head.weight`` is its embedding). Loading copies into the shared parameter, so the weights stay
        tied, but Trainer reports the tied copy missing: it compares with ``_keys_to_ignore_on_save``, empty in
        transformers 5, which lists ties in ``all_tied_weights_keys``. Re-tie and report only keys that are
        missing and not tied."""
        tied = set(getattr(self.model, "all_tied_weights_keys", None) or {})
        if tied & set(load_result.missing_keys):
            self.model.tie_weights()
        missing = [k for k in load_result.missing_keys if k not in tied]
        super()._issue_warnings_after_load(load_result._replace(missing_keys=missing))

    def _generate_and_score_completions(self, inputs):
        if self._srpo_rng_from is not None and self.model.training:
            # The trainer restored the RNG before building the dataloader iterator, which draws from it; restore
            # again here, where a straight run stands with exactly the saved state.
            self._load_rng_state(self._srpo_rng_from)
            self._srpo_rng_from = None
        return super()._generate_and_score_completions(inputs)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        step, rem = divmod(self.state.global_step, self.srpo.plan.updates_per_step)
        if self.model.training and not rem and "loss" in logs:
            averaged = self._metrics["train"]
            row = {_TRL_NAMES.get(k, f"trl/{k}"): v for k, v in logs.items() if isinstance(v, (int, float))}
            row.update({_TRL_NAMES.get(k, f"trl/{k}"): sum(v) / len(v) for k, v in averaged.items() if v})
            srpo_metrics = self.srpo.pop_metrics(step)
            row["timing/step_s"] = self.srpo.step_seconds()
            logs.update({f"srpo/{k}": v for k, v in srpo_metrics.items()})
            self.srpo.log(step, {**srpo_metrics, **row})
        super().log(logs, start_time)


class SrpoCallback(TrainerCallback):
    """Held-out evaluation, run-level stops (signals included, agreed across ranks at every step) and the
    cross-rank state check, in srpo steps."""

    def __init__(self, run: "SrpoRun"):
        self.run = run

    def on_train_begin(self, args, state, control, **kwargs):
        if state.global_step == 0 and self.run.heldout:
            self.run.log(0, self.run.evaluate(0))
        self.run.switches_seen = len(self.run.stream.curriculum.switches)  # a resume's were announced before
        self.run.step_seconds()  # the clock of step 1 starts here

    def on_step_end(self, args, state, control, **kwargs):
        step, rem = divmod(state.global_step, self.run.plan.updates_per_step)
        if rem:
            return
        cfg = self.run.cfg.run
        last = cfg.stop_at_step or cfg.total_steps
        budget = cfg.max_rollouts is not None and self.run.stream.rollouts_total >= cfg.max_rollouts
        final = step >= last or budget
        self.run.announce_switches()
        if self.run.heldout and (step == cfg.total_steps or budget
                                 or (cfg.eval_every and step % cfg.eval_every == 0)):
            self.run.pending_eval[step] = self.run.evaluate(step)
        stop = self.run.stop.agree(gather) if self.run.stop is not None else 0  # every rank, every step
        check = self.run.cfg.trl.state_check_every
        if final or stop or (check and step % check == 0):
            self.run.check_state(step)
        if final or stop:
            control.should_save = True
            control.should_training_stop = True
        if stop and not final:  # as the native engine: the last step ends the run normally
            self.run.stopped_at = step
        return control


class SrpoRun:
    """Everything a TRL run of a srpo config holds besides the trainer: parts, stream, logger, evaluation."""

    def __init__(self, cfg: TrainConfig, plan: BatchPlan, tokenizer, scorer, stream: PromptStream,
                 problems, heldout, rank: int):
        self.cfg, self.plan, self.tokenizer = cfg, plan, tokenizer
        self.scorer, self.stream, self.heldout, self.rank = scorer, stream, heldout, rank
        self.row_of_uid = {p.uid: i for i, p in enumerate(problems)}
        self.step_metrics: dict[int, dict[str, float]] = {}
        self.pending_eval: dict[int, dict[str, float]] = {}
        self.tracker: Tracker | None = None
        self.trainer: SrpoGRPOTrainer | None = None
        self.stop: StopRequest | None = None
        self.stopped_at: int | None = None  # the step after which a signal stopped every rank
        self.state_checks = 0
        self.switches_seen = 0  # curriculum switches already announced (set at train begin, after a resume)
        self._clock = time.perf_counter()
        self._eval_s = 0.0

    def step_seconds(self) -> float:
        """Wall time since the previous step's log, evaluation excluded (as the native engine's timing/step_s)."""
        now = time.perf_counter()
        out, self._clock, self._eval_s = now - self._clock - self._eval_s, now, 0.0
        return out

    def on_step(self, step: int, metrics: dict[str, float], rows: list[dict[str, Any]]) -> None:
        self.step_metrics[step] = metrics
        if self.tracker is not None:
            self.tracker.log_samples(rows)

    def pop_metrics(self, step: int) -> dict[str, float]:
        out = self.step_metrics.pop(step, {})
        out.update(self.pending_eval.pop(step, {}))
        out["dist/state_checks"] = float(self.state_checks)
        return out

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if self.tracker is not None:
            self.tracker.log(metrics, step=step)

    def announce_switches(self) -> None:
        """Print one line (rank 0) for each curriculum switch decided since the last call."""
        switches = self.stream.curriculum.switches
        if self.rank == 0:
            for switch in switches[self.switches_seen:]:
                print(f"srpo: {self.stream.curriculum.describe_switch(switch)}", flush=True)
        self.switches_seen = len(switches)

    def check_state(self, step: int) -> None:
        """Stop if the sampler/curriculum state differs between ranks (it must evolve identically)."""
        hashes = gather([self.stream.state_hash()])
        if len(set(hashes)) != 1:
            raise RuntimeError(f"trl engine: srpo state differs across ranks at step {step}: {hashes}")
        self.state_checks += 1

    def evaluate(self, step: int) -> dict[str, float]:
        """Held-out pass@k: each rank samples a shard of the problems, the counts are gathered."""
        start = time.perf_counter()
        try:
            return self._evaluate(step)
        finally:
            self._eval_s += time.perf_counter() - start

    def _evaluate(self, step: int) -> dict[str, float]:
        from trl.models.utils import unwrap_model_for_generation

        from srpo.engines.native.generation import generate_fn_for
        from srpo.eval.evaluate import aggregate, sample_and_count

        trainer = self.trainer
        world = trainer.accelerator.num_processes
        shard = [i for i in range(len(self.heldout)) if i % world == self.rank]
        problems = [self.heldout[i] for i in shard]
        n = self.cfg.eval.samples
        with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator) as unwrapped:
            was_training = unwrapped.training
            unwrapped.eval()
            generate = generate_fn_for(unwrapped, self.tokenizer, self.cfg,
                                       seed=self.cfg.run.seed * 100_003 + step)
            counts = sample_and_count(problems, generate, self.scorer.score, n, self.cfg.eval.batch_size)
            unwrapped.train(was_training)
        rows = gather([(i, c) for i, c in zip(shard, counts)])
        by_index = dict(rows)
        per_problem = [{"uid": p.uid, "source": p.source, "domain": p.domain, "n": n, "correct": by_index[i]}
                       for i, p in enumerate(self.heldout)]
        return aggregate(per_problem, n, self.cfg.eval.ks).flat_metrics(prefix="eval")


def resume_checkpoint(cfg: TrainConfig) -> str | None:
    """The checkpoint to resume from as ``run.resume`` says; only complete ones (with srpo's state) count
    (`srpo.engines.checkpoint_layout`: the highest RUN/checkpoint-N with srpo_state.json)."""
    out = Path(cfg.run.output_dir)
    picked = pick_resume(cfg.run.resume, out, latest_checkpoint(out, "trl"), lambda p: is_complete(p, "trl"),
                         f"a complete trl-engine checkpoint (a checkpoint-N directory with {TRL_STATE_FILE})")
    return str(picked) if picked else None


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Run `cfg` on GRPOTrainer (one process, or one per device under torchrun/accelerate); returns the final
    step, state hash, state checks and checkpoint. A stop signal ends every rank after the same step, saved,
    with `Interrupted` (see `srpo.engines.stop`)."""
    from datasets import Dataset

    from srpo.curriculum import Curriculum
    from srpo.engines.data import data_fingerprint, load_run_data
    from srpo.engines.hf_model import PromptFormatter, load_generation_config, resolve_model_path
    from srpo.engines.lora import is_adapter_dir
    from srpo.engines.records import eos_id_set
    from srpo.engines.trl.rewards import StepScorer
    from srpo.rewards import RewardScorer
    from srpo.sampling import DomainMixture

    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    plan = check_config(cfg, world)
    for note in differences(cfg):
        log.warning("trl engine: %s", note)
    if cfg.run.deterministic:
        from srpo.engines.determinism import make_deterministic

        make_deterministic()
    torch.manual_seed(cfg.run.seed)
    # GRPOTrainer loads the model itself from its directory, on each process's device and, under DeepSpeed
    # ZeRO-3 with zero3_init_flag, already sharded (a model object would be materialised whole per process).
    model = str(resolve_model_path(cfg.model.path))
    if is_adapter_dir(Path(model)):
        raise ConfigError(f"model.path: {model} holds LoRA adapters; the trl engine loads a whole model directory "
                          "(write one with `srpo export --merge`)")
    tokenizer = load_trl_tokenizer(model)
    train_problems, heldout = load_run_data(cfg)
    train_problems = sorted(train_problems, key=lambda p: p.uid)
    mixture = DomainMixture.from_problems(train_problems, cfg.run.seed, cfg.sampling)
    curriculum = Curriculum(cfg.curriculum, domain_sizes=mixture.domain_sizes())
    curriculum.require_domains(mixture.domains)
    stream = PromptStream(mixture, curriculum, train_problems, cfg.rollout.prompts_per_step, cfg.rollout.group_size,
                          cfg.trl.max_lookahead, cfg.run.total_steps)
    scorer = RewardScorer(cfg.rewards, cfg.sandbox)
    run = SrpoRun(cfg, plan, tokenizer, scorer, stream, train_problems, heldout, rank)
    step_scorer = StepScorer(cfg, scorer, stream, train_problems, tokenizer, on_step=run.on_step,
                             eos_ids=eos_id_set(tokenizer, load_generation_config(model)))
    funcs, weights = step_scorer.functions(mixture.domains)
    formatter = PromptFormatter(tokenizer, cfg.model.prompt_template, cfg.model.system_prompt)
    dataset = Dataset.from_list([{"prompt": dataset_prompt(formatter, p.prompt), "srpo_uid": p.uid}
                                 for p in train_problems])
    kwargs = {**grpo_args(cfg, plan), **cfg.trl.grpo_args, "reward_weights": weights,
              "model_init_kwargs": {"dtype": cfg.model.dtype, "local_files_only": True}}
    if "activation_checkpointing" in {f.name for f in dataclasses.fields(GRPOConfig)}:  # transformers >= 5.2x
        kwargs["activation_checkpointing"] = kwargs.pop("gradient_checkpointing")
    args = GRPOConfig(**kwargs)
    checkpoint = resume_checkpoint(cfg)
    run_dir = Path(cfg.run.output_dir)
    fingerprint = data_fingerprint(train_problems, heldout)
    resume = None
    if checkpoint:
        changes = resume_changes(cfg, run_dir)
        check_data(run_dir, fingerprint)
        step = int(json.loads((Path(checkpoint) / TRL_STATE_FILE).read_text())["step"])
        resume = Resume(Path(checkpoint), step, changes)
    if rank == 0:
        run.tracker = Tracker.from_config(run_dir, cfg.logging, to_dict(cfg),
                                          start_step=resume.step + 1 if resume else 0)
        record_start(cfg, run_dir, fingerprint, resume)
    trainer = SrpoGRPOTrainer(model=model, reward_funcs=funcs, args=args, train_dataset=dataset,
                              processing_class=tokenizer, callbacks=[SrpoCallback(run)], srpo_run=run,
                              peft_config=peft_config(cfg))
    run.trainer = trainer
    try:
        with StopRequest() as run.stop:
            trainer.train(resume_from_checkpoint=checkpoint)
    finally:
        scorer.close()
        if run.tracker is not None:
            run.tracker.close()
    saved = run_dir / f"checkpoint-{trainer.state.global_step}"
    if run.stopped_at is not None:
        raise Interrupted(run.stopped_at, saved, run.stop.signum)
    if world > 1:
        (run_dir / "ranks").mkdir(exist_ok=True)
        (run_dir / "ranks" / f"rank{rank}.json").write_text(json.dumps(stream.state_dict(), sort_keys=True))
    return {"step": stream.scored_through, "state_hash": stream.state_hash(), "state_checks": run.state_checks,
            "checkpoint": saved}


def dataset_prompt(formatter, prompt: str):
    """The prompt as GRPOTrainer should see it to produce the native engine's token ids: chat messages when
    the chat template applies (TRL renders them with add_generation_prompt and no extra special tokens),
    else the formatted text (tokenized with the tokenizer's special tokens, as the native engine does)."""
    if formatter.template != "chat":
        return formatter.text(prompt)
    messages = [{"role": "user", "content": prompt}]
    if formatter.system_prompt:
        messages.insert(0, {"role": "system", "content": formatter.system_prompt})
    return messages


def load_trl_tokenizer(path: str):
    """The policy's tokenizer, offline, left-padded (GRPOTrainer requires it), with a pad token."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def shutdown(barrier: bool = True) -> None:
    """End the process group cleanly (interpreter teardown with it still open aborted 1 run in 4 here).
    `barrier` False after a failure some ranks may not share (a repeated signal stops one rank mid-step): a
    barrier there would wait for ranks that never come."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if barrier:
            dist.barrier()
        dist.destroy_process_group()
