"""Run-level and data configs: where a run lives, how long it goes, what it trains and evaluates on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from srpo.core.configlib import ConfigError, option


@dataclass(frozen=True)
class RunConfig:
    """The run itself."""

    name: str = option("srpo", "label of the run (reports use it).")
    output_dir: str = option("runs/srpo", "the run directory (config.yaml, metrics.jsonl, samples.jsonl, "
                                          "checkpoints/, report/).", path=True)
    seed: int = option(0, "seeds every RNG (torch, the rollout sampler, samplers).")
    total_steps: int = option(100, "training steps (one step = one batch of prompts, their groups, one or more "
                                   "updates).")
    save_every: int = option(50, "checkpoint every this many steps (0: only at the end).")
    keep_checkpoints: int = option(2, "how many checkpoints to keep.")
    eval_every: int = option(0, "held-out evaluation every this many steps (0: only before and after training).")
    resume: str = option("auto", "where to resume from. ``auto`` continues from the latest checkpoint in output_dir "
                                 "if there is one, ``never`` refuses to run in a directory that already has one, or "
                                 "a path to a specific checkpoint directory.", path=True)
    progress: bool = option(True, "show a progress bar.")
    max_rollouts: int | None = option(None, "a rollout budget that ends the run: stop once this many responses have "
                                            "been generated (the step that crosses it is the last; held-out "
                                            "evaluation and a checkpoint follow). Compares samplers under one "
                                            "rollout budget.")
    deterministic: bool = option(False, "bit-identical fresh runs of one config: one intra-op torch thread on the "
                                        "CPU, torch's deterministic algorithms, cuBLAS's fixed workspace on CUDA "
                                        "(as transformers' full_determinism). Off by default: on the CPU, runs with "
                                        "2+ threads agree step for step only to float rounding (measured: the first "
                                        "difference within 4-10 steps of the demo), and one thread is slower.")
    stop_at_step: int | None = option(None, "end this invocation early, resumably: after this step, with a "
                                            "checkpoint, as an interruption would; the schedules still span "
                                            "total_steps and a later invocation resumes exactly (time-boxed jobs).")

    def validate(self) -> None:
        if self.stop_at_step is not None and not 1 <= self.stop_at_step <= self.total_steps:
            raise ConfigError(f"stop_at_step: must be in [1, total_steps={self.total_steps}]")
        if self.total_steps < 1:
            raise ConfigError(f"total_steps: must be >= 1, got {self.total_steps}")
        if self.save_every < 0 or self.eval_every < 0:
            raise ConfigError("save_every/eval_every: must be >= 0")
        if self.keep_checkpoints < 1:
            raise ConfigError(f"keep_checkpoints: must be >= 1, got {self.keep_checkpoints}")


@dataclass(frozen=True)
class DataConfig:
    """Training and held-out problems."""

    train: str | list[str] = option(factory=lambda: ["toy:math"],
                                    doc="sources of training problems (one, or a list): data files (JSONL, JSON, "
                                        "parquet in any format of ``format``) or built-in source specs such as "
                                        "``toy:math?n=2000&levels=1-4``, ``toy:code?n=1000``, ``humaneval`` or "
                                        "``gym:chain_sum?size=500`` (see `srpo.data.sources`). Problems are pooled "
                                        "per domain; duplicates (same uid) are kept once.",
                                    path=True)
    heldout: str | list[str] = option(factory=list,
                                      doc="sources of held-out problems for periodic evaluation (one, or a list); "
                                          "none of their uids may occur in train.",
                                      path=True)
    column_mapping: dict[str, str] = option(factory=dict,
                                            doc="for file sources, srpo field -> column name (e.g. ``{prompt: "
                                                "question}``); applies to the srpo, trl and verl formats.")
    format: str = option("auto", "format of the data files: ``auto`` detects it per file from its columns and "
                                 "prints which it assumed, or one of srpo, trl, verl, gsm8k, math, humaneval, mbpp, "
                                 "apps, livecodebench, codecontests (see docs/data.md).")
    on_unusable: Literal["error", "drop"] = option(
        "error", "what to do with a training or held-out row that cannot be scored (no gold answer the math "
                 "reward can read, no tests the code reward can run, a row that does not load): ``error`` stops "
                 "naming the file, row and reason; ``drop`` drops it and counts it in the table printed before "
                 "step 1.")
    check_references: bool = option(True, "run each code row's reference solution (metadata.solution, e.g. "
                                          "HumanEval's canonical_solution) against its tests in the sandbox when "
                                          "the data loads; a failure is unusable (reason reference_fails, see "
                                          "on_unusable). Built-in sources skip it; off for large sets already "
                                          "checked by srpo curate.")

    def __post_init__(self) -> None:
        for name in ("train", "heldout"):  # one source may be given as a plain string
            if isinstance(getattr(self, name), str):
                object.__setattr__(self, name, [getattr(self, name)])

    def validate(self) -> None:
        from srpo.data.formats import AUTO, FORMATS

        if self.format != AUTO and self.format not in FORMATS:
            raise ConfigError(f"format: unknown {self.format!r} (known: {AUTO}, {', '.join(FORMATS.names())})")
        if self.column_mapping and self.format != AUTO and not FORMATS.get(self.format).mappable:
            raise ConfigError(f"column_mapping: format {self.format!r} reads fixed columns; a mapping applies to "
                              f"the srpo, trl and verl formats")
        if not self.train:
            raise ConfigError("train: at least one source is needed")
