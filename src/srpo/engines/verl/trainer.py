"""srpo's trainer hook in verl's v1 PPO trainer (imports verl): ``trainer.v1.trainer_mode=srpo_sync`` or
``srpo_colocate_async``.

Each is verl's own trainer of that mode (`PPOTrainerSync`, `PPOTrainerColocateAsync`) with three additions:

* ``step``: after verl's step has trained its batch, the step's responses are read back from verl's
  TransferQueue (srpo uid from ``extra_info``, the reward function's ``acc``, the reward, the response) and
  fed to history resampling and the curriculum (`SrpoStream.record_step`). verl's ``fit`` writes the
  checkpoint after ``step`` and before ``on_step_end``, so the state in ``data.pt`` always includes the step's
  verdicts; ``on_step_end`` would come after the checkpoint and miss them.
* srpo's metrics (zero-advantage split, active set, per-domain figures, curriculum) go into verl's logger
  under ``srpo/`` and into ``<run.output_dir>/metrics.jsonl`` and ``samples.jsonl`` under the native names,
  so ``srpo report`` reads a verl run like any other.
* validation (``_validate``, verl's held-out evaluation on ``data.val_files``): the per-response ``acc`` verl
  collects is also aggregated by srpo's evaluation (`srpo.engines.verl.evaluation`) into the ``eval/*`` metrics
  of every srpo engine (pass@k for ``eval.ks``, avg@n, by domain and benchmark), logged to verl's logger under
  ``srpo/eval/...`` and to metrics.jsonl as ``eval/...``: in the line of the step it follows (the step's line
  waits for a due validation, as on the native engine, kept in ``metrics.pending.json`` until then so a crash in
  the validation loses no step), the validation before training on a line of its own at step 0. After a resume,
  verl's validation before training is not written to metrics.jsonl again.
* ``on_init_end``: the dataloader iterator is built right after verl loaded its checkpoint, which applies
  the dataset (stream) state saved in ``data.pt`` before any verdict can arrive.

The registered names select the subclass; inside, the trainer runs as verl's mode of the same name (``sync`` /
``colocate_async``), since verl keys its replay buffer, refill and checkpoint behaviour on that name.
verl finds the names because `srpo.engines.verl.hook.register` imports this module in every Ray worker.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import transfer_queue as tq
from omegaconf import open_dict
from verl.trainer.ppo.v1 import register_trainer
from verl.trainer.ppo.v1.trainer_colocate_async import PPOTrainerColocateAsync
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync
from verl.utils.debug import marked_timer

from srpo.engines.records import eos_id_set, is_truncated, overlong_penalties
from srpo.engines.verl.evaluation import eval_metrics, problems_of_batches
from srpo.engines.verl.metrics import step_metrics
from srpo.engines.verl.stream import SrpoStream, Verdict

log = logging.getLogger(__name__)
FIELDS = ["uid", "extra_info", "extra_fields", "responses", "rm_scores"]
PENDING_LINE = "metrics.pending.json"  # in run.output_dir: a step's line while its validation runs


def verdicts_from_batch(data, tags: Sequence[dict] | None = None, *, eos_ids: int | Sequence[int] | None = None,
                        tokenizer=None, penalty: Callable[[int], float] | None = None) -> list[Verdict]:
    """One `Verdict` per real (non-padding) response of a trained batch.

    `data` is verl's v1 batch as TransferQueue returns it for `FIELDS` (a TensorDict: non-tensor fields as
    lists, ``responses`` and ``rm_scores`` as jagged nested tensors); `tags` the batch's tags
    (``is_padding`` rows are verl's fillers for an even split and are skipped). `eos_ids`: the model's EOS set
    (`srpo.engines.records.eos_id_set`); truncated = the response does not end with one of them. A verdict's
    penalty is the ``overlong_reward`` verl's dapo reward manager logged for it, else ``penalty(length)``
    (srpo's formula for the same config), else 0."""
    uids, infos, extras = list(data["uid"]), list(data["extra_info"]), list(data["extra_fields"])
    responses = list(data["responses"].unbind())
    scores = [float(t.sum()) for t in data["rm_scores"].unbind()]
    keep = [i for i in range(len(uids)) if not (tags and tags[i].get("is_padding", False))]
    texts = (tokenizer.batch_decode([responses[i].tolist() for i in keep], skip_special_tokens=True)
             if tokenizer is not None else [""] * len(keep))
    out = []
    for i, text in zip(keep, texts):
        info = (extras[i] or {}).get("reward_extra_info") or {}
        if "acc" not in info:
            raise RuntimeError("srpo trainer: a response has no 'acc' in its reward info; set "
                               "reward.custom_reward_function to srpo's (pkg://srpo.engines.verl.reward, "
                               "compute_score), whose acc is the verifier's binary verdict")
        srpo_uid = (infos[i] or {}).get("uid")
        if srpo_uid is None:
            raise RuntimeError("srpo trainer: a response's extra_info has no srpo uid; the training data must "
                               "come from srpo's dataset (data.custom_cls = srpo.engines.verl.dataset.SrpoDataset)")
        ids = responses[i].tolist()
        out.append(Verdict(group=str(uids[i]), uid=str(srpo_uid), correct=bool(float(info["acc"]) > 0.5),
                           reward=scores[i], length=len(ids), truncated=is_truncated(ids, eos_ids), text=text,
                           penalty=_penalty_of(info, len(ids), penalty)))
    return out


def _penalty_of(info: dict, length: int, penalty: Callable[[int], float] | None) -> float:
    """verl's logged overlong penalty of one response, else srpo's `penalty(length)`, else 0."""
    if info.get("overlong_reward") is not None:
        return float(info["overlong_reward"])
    return float(penalty(length)) if penalty is not None else 0.0


class SrpoHook:
    """What the trainer adds to verl's step: feedback, metrics, srpo's own logs (see the module docstring)."""

    def __init__(self, cfg, stream: SrpoStream, tokenizer=None, eos_ids: Sequence[int] | None = None):
        self.cfg, self.stream, self.tokenizer = cfg, stream, tokenizer
        self.eos_ids = list(eos_ids) if eos_ids is not None else eos_id_set(tokenizer)
        self.tracker = None
        self.pending: tuple[int, dict[str, float], list[dict[str, Any]]] | None = None  # a step's line that waits
        self.pending_path: Path | None = None  # the waiting line on disk, for a crash in that validation

    def penalty(self, length: int) -> float:
        """srpo's soft overlong penalty of a response of `length` tokens (0 unless the config asks for it), with
        L_max = ``rollout.max_new_tokens``, the ``max_resp_len`` `srpo.engines.verl.setup` gives verl's manager."""
        return overlong_penalties([length], self.cfg.algorithm, self.cfg.rollout.max_new_tokens)[0]

    def open(self, step: int, write_logs: bool = True) -> None:
        """Start srpo's metrics.jsonl / samples.jsonl at `step` (0, or the step verl resumed from)."""
        if not write_logs:
            return
        from srpo.config import save_config
        from srpo.core.configlib import to_dict
        from srpo.tracking import Tracker

        run_dir = Path(self.cfg.run.output_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        for name in ("metrics.jsonl", "samples.jsonl"):
            _truncate_log(run_dir / name, step)
        if not (run_dir / "config.yaml").exists():
            save_config(self.cfg, run_dir / "config.yaml")
        self.tracker = Tracker.from_config(run_dir, self.cfg.logging, to_dict(self.cfg))
        self.pending_path = run_dir / PENDING_LINE
        self._recover(run_dir, step)

    def _recover(self, run_dir: Path, step: int) -> None:
        """A step line that waited for a validation that never ended (the process died in it, after verl had
        saved that step's checkpoint): written now when verl resumes at or after that step."""
        if not self.pending_path.exists():
            return
        saved = json.loads(self.pending_path.read_text())
        logged = {json.loads(line).get("step") for line in (run_dir / "metrics.jsonl").read_text().splitlines()
                  if line.strip()} if (run_dir / "metrics.jsonl").exists() else set()
        if saved["step"] <= step and saved["step"] not in logged:
            self.pending = (int(saved["step"]), saved["metrics"], saved["rows"])
            self.flush()
        self.pending_path.unlink(missing_ok=True)

    def on_step(self, step: int, data, tags=None, verl_metrics: dict | None = None,
                validation_due: bool = False) -> dict[str, float]:
        """Feed the verdicts of verl step `step` to the stream; return srpo's metrics (``srpo/`` names). With
        `validation_due` the step's metrics.jsonl line waits for `on_validation` (or the next `flush`)."""
        verdicts = verdicts_from_batch(data, tags, eos_ids=self.eos_ids, tokenizer=self.tokenizer,
                                       penalty=self.penalty)
        summary = self.stream.record_step(step, verdicts)
        metrics, rows = step_metrics(self.cfg, self.stream, step, summary["groups"])
        if self.tracker is not None:
            self.flush()
            verl_side = {f"verl/{k}": float(v) for k, v in (verl_metrics or {}).items() if _is_number(v)}
            self.pending = (step, {**metrics, **verl_side}, rows)
            if not validation_due:
                self.flush()
            elif self.pending_path is not None:
                _write_atomic(self.pending_path, json.dumps({"step": step, "metrics": self.pending[1], "rows": rows},
                                                            default=str))
        return {f"srpo/{k}": v for k, v in metrics.items()}

    def on_validation(self, step: int, problems, sample_uids, accs, initial: bool) -> dict[str, float]:
        """srpo's ``eval/*`` metrics of a verl validation at `step` (`srpo.engines.verl.evaluation.eval_metrics`),
        written to metrics.jsonl with the waiting line of that step, or alone at step 0 for the validation before
        training (not at all for the one after a resume); returned under ``srpo/`` for verl's logger."""
        ev = self.cfg.resolved_eval()
        metrics = eval_metrics(problems, sample_uids, accs, ev.samples, ev.ks)
        if self.tracker is not None and not (initial and step > 0):
            if self.pending is not None and self.pending[0] == step:
                self.pending[1].update(metrics)
            else:
                self.flush()
                self.tracker.log(metrics, step=step)
            self.flush()
        return {f"srpo/{k}": v for k, v in metrics.items()}

    def flush(self) -> None:
        """Write the step line that waits for a validation (none: nothing to do)."""
        if self.pending is not None and self.tracker is not None:
            step, metrics, rows = self.pending
            self.tracker.log(metrics, step=step)
            self.tracker.log_samples(rows)
        self.pending = None
        if self.pending_path is not None:
            self.pending_path.unlink(missing_ok=True)

    def close(self) -> None:
        self.flush()
        if self.tracker is not None:
            self.tracker.close()
            self.tracker = None


class SrpoTrainerMixin:
    """The additions to a verl v1 trainer (see the module docstring); `srpo_base_mode` is verl's mode name."""

    srpo_base_mode = "sync"

    def __init__(self, config):
        with open_dict(config):
            config.trainer.v1.trainer_mode = self.srpo_base_mode
        super().__init__(config)
        self.srpo_hook: SrpoHook | None = None
        self.srpo_training = False  # False until fit's loop starts: a validation before it is the initial one

    def _init_dataloader(self):
        super()._init_dataloader()
        stream = getattr(self.train_dataset, "stream", None)
        if not isinstance(stream, SrpoStream):
            raise ValueError("trainer.v1.trainer_mode srpo_*: data.custom_cls must be srpo's dataset "
                             "(pkg://srpo.engines.verl.dataset, SrpoDataset), which carries the prompt stream")
        from srpo.engines.hf_model import load_generation_config

        generation = load_generation_config(str(self.config.actor_rollout_ref.model.path))
        self.srpo_hook = SrpoHook(self.train_dataset.srpo_cfg, stream, self.tokenizer,
                                  eos_ids=eos_id_set(self.tokenizer, generation))

    def on_init_end(self):
        super().on_init_end()
        self.srpo_restore()

    def srpo_restore(self) -> None:
        """Build the loader's iterator now: it applies the stream state of data.pt before any verdict."""
        if self.train_dataloader_it is None:
            self.train_dataloader_it = iter(self.train_dataloader)
        self.srpo_hook.open(self.global_steps)

    def on_train_begin(self):
        super().on_train_begin()
        self.srpo_training = True

    def on_step_begin(self):
        super().on_step_begin()
        self.srpo_hook.flush()

    def srpo_validation_due(self) -> bool:
        """Does verl's ``fit`` validate after the current step (its own condition)?"""
        freq = int(self.config.trainer.get("test_freq", -1) or -1)
        last = self.global_steps >= getattr(self, "total_training_steps", self.config.trainer.total_training_steps)
        return freq > 0 and (last or self.global_steps % freq == 0)

    def _validate(self):
        """verl's validation, with the rows its loader serves recorded for srpo's ``eval/*`` metrics."""
        loader, self.srpo_val_batches = self.val_dataloader, []
        self.val_dataloader = _Recording(loader, self.srpo_val_batches)
        try:
            return super()._validate()
        finally:
            self.val_dataloader, self.srpo_val_batches = loader, []

    def _val_metrics_update(self, data_sources, sample_uids, reward_extra_infos_dict, sample_turns, **kwargs):
        metrics = super()._val_metrics_update(data_sources, sample_uids, reward_extra_infos_dict, sample_turns,
                                              **kwargs)
        problems = problems_of_batches(getattr(self, "srpo_val_batches", []))
        metrics.update(self.srpo_hook.on_validation(self.global_steps, problems, sample_uids,
                                                    reward_extra_infos_dict.get("acc"),
                                                    initial=not self.srpo_training))
        return metrics

    def step(self, metrics: dict, timing_raw: dict):
        batch = super().step(metrics, timing_raw)
        self.srpo_feedback(batch, metrics, timing_raw)
        return batch

    def srpo_feedback(self, batch, metrics: dict, timing_raw: dict) -> None:
        """Read the trained batch back from TransferQueue and feed it to the stream (before the checkpoint)."""
        with marked_timer("srpo_feedback", timing_raw, color="purple"):
            data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=FIELDS)
            metrics.update(self.srpo_hook.on_step(self.global_steps, data, batch.tags, verl_metrics=metrics,
                                                  validation_due=self.srpo_validation_due()))

    def on_train_end(self):
        super().on_train_end()
        self.srpo_hook.close()


@register_trainer("srpo_sync")
class SrpoSyncTrainer(SrpoTrainerMixin, PPOTrainerSync):
    """verl's sync trainer with srpo's feedback, metrics and stream state."""

    srpo_base_mode = "sync"


@register_trainer("srpo_colocate_async")
class SrpoColocateAsyncTrainer(SrpoTrainerMixin, PPOTrainerColocateAsync):
    """verl's colocate_async trainer with srpo's feedback, metrics and stream state."""

    srpo_base_mode = "colocate_async"


class _Recording:
    """Iterates like verl's validation loader and keeps each batch dict it yields (``_validate`` adds the verl
    ``uid`` column to the same dict)."""

    def __init__(self, loader, batches: list):
        self.loader, self.batches = loader, batches

    def __iter__(self):
        for batch in self.loader:
            self.batches.append(batch)
            yield batch

    def __len__(self) -> int:
        return len(self.loader)

    def __getattr__(self, name: str):
        return getattr(self.loader, name)


def _is_number(value: Any) -> bool:
    if isinstance(value, (bool, str)):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines written after `step` (a resumed run writes them again)."""
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines() if line.strip()
            and json.loads(line).get("step", 0) <= step]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(line + "\n" for line in keep))
    tmp.replace(path)
