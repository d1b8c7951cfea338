"""What a resumed run may change, and the comparison of its config with the one its checkpoints were made under.

A run continues exactly only under the settings it started with, so a resumed run compares its config with the
run directory's config.yaml, key by dotted key. The keys below (and every key under a section named here) may
change: they set how long the run goes, what it logs and evaluates, and how it uses memory and workers, never
what a training step computes. Changing them is taken and recorded; any other difference is refused, since
the run would silently become two experiments in one.

``run.total_steps`` also spans the native engine's learning-rate schedule: a decaying schedule continues from
the resumed step towards the new end (its value at that step changes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from srpo.config.tree import TrainConfig
from srpo.core.configlib import ConfigError, build, to_dict

RESUMABLE = (
    "run.name", "run.output_dir", "run.resume", "run.total_steps", "run.save_every", "run.keep_checkpoints",
    "run.eval_every", "run.progress", "run.max_rollouts", "run.stop_at_step", "run.deterministic",
    "data.check_references",
    "model.gradient_checkpointing", "algorithm.micro_batch_size", "algorithm.micro_batch_tokens",
    "algorithm.share_prompts", "algorithm.fused_head", "sandbox.workers",
    "eval", "logging", "analysis", "difficulty", "curate",
    "trl.state_check_every", "trl.report_to",
    "verl.reward_workers", "verl.project_name", "verl.gpu_memory_utilization", "verl.param_offload",
    "verl.optimizer_offload", "verl.max_tokens_per_gpu",
)


class RunMismatch(ConfigError):
    """The run directory holds a run this invocation may not continue: other settings, other data, or a config
    this srpo cannot read. Raised before anything in the directory is written."""


@dataclass(frozen=True)
class Change:
    """One dotted key whose value differs between the saved config and this invocation's."""

    key: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.key} {_show(self.old)} -> {_show(self.new)}"


def is_resumable(key: str) -> bool:
    """May `key` change when a run resumes?

    >>> is_resumable("run.total_steps"), is_resumable("eval.samples"), is_resumable("optim.lr")
    (True, True, False)
    """
    return any(key == name or key.startswith(name + ".") for name in RESUMABLE)


def config_changes(saved: dict[str, Any], cfg: TrainConfig) -> list[Change]:
    """Every dotted key whose value differs between the `saved` config (as config.yaml holds it) and `cfg`.

    The saved config is built first, so a key it lacks (a field added since) counts at its default.
    """
    old, new = _flat(to_dict(build(TrainConfig, saved))), _flat(to_dict(cfg))
    return [Change(k, old.get(k, "(absent)"), new.get(k, "(absent)")) for k in sorted(old.keys() | new.keys())
            if old.get(k, "(absent)") != new.get(k, "(absent)")]


def refuse_changes(changes: list[Change], run_dir: str) -> None:
    """Raise `RunMismatch` listing the changes a resume may not make (old -> new) and how to go on."""
    refused = [c for c in changes if not is_resumable(c.key)]
    if refused:
        raise RunMismatch(
            f"run.output_dir: {run_dir} holds a run made with other settings, which resuming would mix into one "
            f"run: {'; '.join(map(str, refused))}. Drop these changes to continue it, or start a new run: another "
            f"run.output_dir (with model.path={run_dir} to start from its latest weights)")


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level of dotted keys; lists and other values stay whole.

    >>> _flat({"run": {"seed": 1}, "data": {"train": ["a"], "column_mapping": {}}})
    {'run.seed': 1, 'data.train': ['a'], 'data.column_mapping': {}}
    """
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)
