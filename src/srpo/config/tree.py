"""The config tree of a training run, its presets, and loading with command-line overrides.

A run config is one YAML file (or a preset name) plus ``key=value`` overrides. A file may start from a
preset or another file with ``base: NAME_OR_PATH``; its own keys then override the base's, recursively.
Presets live in ``srpo/config/presets/*.yaml``: ``grpo`` (vanilla GRPO), ``dapo`` (dynamic sampling,
clip-higher, token-mean), ``srpo`` (history resampling + two-stage curriculum) and ``demo`` (the
embedded CPU demo).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from srpo.config.algorithm import AlgorithmConfig, OptimConfig
from srpo.analysis import AnalysisConfig
from srpo.core.configlib import ConfigError, apply_overrides, build, load_yaml, option, to_dict
from srpo.core.files import write_atomic
from srpo.curriculum import CurriculumConfig
from srpo.config.model import ModelConfig, RolloutConfig
from srpo.data.curate_config import CurateConfig
from srpo.data.difficulty import DifficultyConfig
from srpo.eval.config import EvalConfig
from srpo.rewards import RewardsConfig
from srpo.config.run import DataConfig, RunConfig
from srpo.config.trl import TrlConfig
from srpo.config.verl import VerlConfig
from srpo.sampling import SamplingConfig
from srpo.sandbox import SandboxConfig
from srpo.tracking import LoggingConfig


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs, one section per concern; every engine reads the same tree."""

    engine: Literal["native", "trl", "verl"] = option(
        "native", "the training engine: ``native`` (srpo's own loop, one process), ``trl`` (TRL's GRPOTrainer "
                  "with srpo's sampler, curriculum and rewards inside; scales with accelerate/torchrun to many "
                  "GPUs; needs srpo's ``trl`` extra; see docs/trl.md) or ``verl`` (a recipe for verl's own "
                  "launcher: ``srpo verl-recipe CONFIG`` writes the data and the command; see docs/verl.md).")
    run: RunConfig = option(factory=RunConfig, doc="where the run lives, how long it goes, checkpoints and resume.")
    model: ModelConfig = option(factory=ModelConfig, doc="the policy model and how prompts are formatted for it.")
    rollout: RolloutConfig = option(factory=RolloutConfig, doc="how responses are generated during training.")
    algorithm: AlgorithmConfig = option(factory=AlgorithmConfig, doc="the RL objective.")
    optim: OptimConfig = option(factory=OptimConfig, doc="AdamW and its learning-rate schedule.")
    data: DataConfig = option(factory=DataConfig, doc="training and held-out problems.")
    sampling: SamplingConfig = option(factory=SamplingConfig, doc="which prompt sampler feeds the trainer.")
    curriculum: CurriculumConfig = option(factory=CurriculumConfig, doc="stages, domain weights, switch rules.")
    rewards: RewardsConfig = option(factory=RewardsConfig, doc="how responses are scored, per domain.")
    sandbox: SandboxConfig = option(factory=SandboxConfig, doc="how model-written programs are run.")
    eval: EvalConfig = option(factory=EvalConfig, doc="evaluation: training's held-out evaluation, srpo eval and "
                                                      "srpo label-difficulty.")
    logging: LoggingConfig = option(factory=LoggingConfig, doc="where metrics and rollout samples go.")
    analysis: AnalysisConfig = option(factory=AnalysisConfig, doc="what the per-step rollout analysis looks for.")
    difficulty: DifficultyConfig = option(factory=DifficultyConfig, doc="difficulty-label thresholds, used by srpo "
                                                                        "label-difficulty.")
    curate: CurateConfig = option(factory=CurateConfig, doc="curation switches and parameters, used by srpo curate.")
    trl: TrlConfig = option(factory=TrlConfig, doc="options only the TRL engine reads (engine: trl).")
    verl: VerlConfig = option(factory=VerlConfig, doc="options only the verl recipe reads (engine: verl).")

    def validate(self) -> None:
        """Cross-section rules (each section validates its own fields)."""
        batch = self.rollout.group_size * self.rollout.prompts_per_step
        mini = self.algorithm.mini_batch_size
        if mini is not None and mini > batch:
            raise ConfigError(f"algorithm.mini_batch_size: {mini} exceeds the step's batch of {batch} "
                              "responses (rollout.group_size * rollout.prompts_per_step)")
        updates = self.updates_per_step()
        if updates > 1 and self.algorithm.old_logprobs == "rollout" and self.model.autocast_bf16:
            raise ConfigError(
                f"algorithm.old_logprobs: use 'recompute' with model.autocast_bf16 when a step makes {updates} "
                f"optimizer steps (ppo_epochs={self.algorithm.ppo_epochs}, mini_batch_size={mini or batch} of "
                f"{batch} responses): every update after the first is off-policy, so its clipped ratio must "
                "compare pi with a pi_old of the same bf16 numerics, not the rollout's log-probs (no autocast)")
        if self.engine == "native" and self.algorithm.rollout_correction.enabled and \
                self.algorithm.old_logprobs == "rollout":
            raise ConfigError("algorithm.rollout_correction.enabled: the correction weighs by pi_old / mu, and with "
                              "algorithm.old_logprobs=rollout pi_old is the behaviour policy mu itself (every weight "
                              "1); set algorithm.old_logprobs=recompute")
        self._check_correction_is_read()
        tokens = self.algorithm.micro_batch_tokens
        if tokens is not None and tokens <= self.rollout.max_new_tokens:
            raise ConfigError(f"algorithm.micro_batch_tokens: {tokens} must exceed rollout.max_new_tokens "
                              f"({self.rollout.max_new_tokens}): it counts a response and its prompt, and a "
                              "budget below one full response would run most long responses one by one")
        window = self.algorithm.overlong_window
        if self.algorithm.penalizes_overlong and window > self.rollout.max_new_tokens:
            raise ConfigError(f"algorithm.overlong_window: {window} exceeds rollout.max_new_tokens "
                              f"({self.rollout.max_new_tokens}); the window is the end of the length budget")
        if self.rollout.group_size == 1:
            raise ConfigError("rollout.group_size: group-relative advantages need at least 2 responses "
                              "per prompt (every group of one has advantage 0)")

    def _check_correction_is_read(self) -> None:
        """Refuse rollout_correction options a native run with pi_old = mu (old_logprobs=rollout) never reads."""
        rc = self.algorithm.rollout_correction
        if self.engine != "native" or rc.enabled is not None or self.algorithm.old_logprobs != "rollout":
            return
        default = type(rc)()
        changed = [f.name for f in fields(rc) if getattr(rc, f.name) != getattr(default, f.name)]
        if changed:
            raise ConfigError(f"algorithm.rollout_correction.{changed[0]}: not read, since with "
                              "algorithm.old_logprobs=rollout pi_old is the behaviour policy and the correction is "
                              "off; set algorithm.old_logprobs=recompute (or remove the option)")

    def updates_per_step(self) -> int:
        """Optimizer steps one training step makes: ppo_epochs passes over ceil(batch / mini_batch_size)."""
        batch = self.rollout.group_size * self.rollout.prompts_per_step
        return self.algorithm.ppo_epochs * -(-batch // (self.algorithm.mini_batch_size or batch))

    def resolved_eval(self) -> EvalConfig:
        """The eval section with each unset (None) sampling field taken from the rollout section."""
        ev, ro = self.eval, self.rollout
        return replace(ev, temperature=ro.temperature if ev.temperature is None else ev.temperature,
                       top_p=ro.top_p if ev.top_p is None else ev.top_p,
                       max_new_tokens=ro.max_new_tokens if ev.max_new_tokens is None else ev.max_new_tokens)


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("srpo.config.presets").iterdir() if p.name.endswith(".yaml"))


def _resolve(name_or_path: str) -> dict[str, Any]:
    """Load a preset by name or a YAML file by path, following ``base:`` chains."""
    merged: dict[str, Any] = {}
    for _, data in _layers(name_or_path):
        merged = _merge(merged, data)
    return merged


def _layers(name_or_path: str) -> list[tuple[str, dict[str, Any]]]:
    """``(where, data)`` for a preset or YAML file and each ``base:`` under it, the deepest base first; `where`
    is the file as the user named it, or ``preset NAME``."""
    path = Path(name_or_path)
    where = str(path)
    if not path.exists():
        if name_or_path not in preset_names():
            raise ConfigError(f"{name_or_path}: no such config file or preset (presets: {', '.join(preset_names())})")
        path, where = Path(str(resources.files("srpo.config.presets") / f"{name_or_path}.yaml")), f"preset {name_or_path}"
    data = load_yaml(path)
    base = data.pop("base", None)
    return (_layers(str(base)) if base else []) + [(where, data)]


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_config(name_or_path: str | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Build a validated `TrainConfig` from a preset/file and ``key=value`` overrides. An error in a value
    that a file set names that file: ``my_run.yaml: algorithm.clip_high: ...``."""
    layers = _layers(name_or_path) if name_or_path else []
    data: dict[str, Any] = {}
    for _, layer in layers:
        data = _merge(data, layer)
    try:
        return build(TrainConfig, apply_overrides(data, overrides or []))
    except ConfigError as err:
        where = _origin(str(err).split(":", 1)[0].split("."), layers, overrides or [])
        if where is None:
            raise
        raise ConfigError(f"{where}: {err}") from None


def _origin(keys: list[str], layers: list[tuple[str, dict[str, Any]]], overrides: list[str]) -> str | None:
    """The layer that set the field at dotted `keys` (None when an override or nothing set it)."""
    for text in overrides:
        given = text.split("=", 1)[0].strip().split(".")
        if given[:len(keys)] == keys[:len(given)]:
            return None
    for where, data in reversed(layers):
        node: Any = data
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                break
            node = node[key]
        else:
            return where
        if node is not data and not isinstance(node, dict):  # a prefix holds a value where a section belongs
            return where
    return None


def save_config(cfg: TrainConfig, path: Path) -> None:
    """Write `cfg` as YAML that `load_config` reads back, atomically."""
    write_atomic(Path(path), yaml.safe_dump(to_dict(cfg), sort_keys=False), "the run's config")
