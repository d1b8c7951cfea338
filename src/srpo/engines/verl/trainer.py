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
from srpo.engines.verl.metrics import step_metrics
from srpo.engines.verl.stream import SrpoStream, Verdict

log = logging.getLogger(__name__)
FIELDS = ["uid", "extra_info", "extra_fields", "responses", "rm_scores"]


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

    def on_step(self, step: int, data, tags=None, verl_metrics: dict | None = None) -> dict[str, float]:
        """Feed the verdicts of verl step `step` to the stream; return srpo's metrics (``srpo/`` names)."""
        verdicts = verdicts_from_batch(data, tags, eos_ids=self.eos_ids, tokenizer=self.tokenizer,
                                       penalty=self.penalty)
        summary = self.stream.record_step(step, verdicts)
        metrics, rows = step_metrics(self.cfg, self.stream, step, summary["groups"])
        if self.tracker is not None:
            verl_side = {f"verl/{k}": float(v) for k, v in (verl_metrics or {}).items() if _is_number(v)}
            self.tracker.log({**metrics, **verl_side}, step=step)
            self.tracker.log_samples(rows)
        return {f"srpo/{k}": v for k, v in metrics.items()}

    def close(self) -> None:
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

    def step(self, metrics: dict, timing_raw: dict):
        batch = super().step(metrics, timing_raw)
        self.srpo_feedback(batch, metrics, timing_raw)
        return batch

    def srpo_feedback(self, batch, metrics: dict, timing_raw: dict) -> None:
        """Read the trained batch back from TransferQueue and feed it to the stream (before the checkpoint)."""
        with marked_timer("srpo_feedback", timing_raw, color="purple"):
            data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=FIELDS)
            metrics.update(self.srpo_hook.on_step(self.global_steps, data, batch.tags, verl_metrics=metrics))

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


def _is_number(value: Any) -> bool:
    if isinstance(value, (bool, str)):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines written after `step` (a resumed run writes them again)."""
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines() if line.strip()
            and json.loads(line).get("step", 0) <= step]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(line + "\n" for line in keep))
    tmp.replace(path)
