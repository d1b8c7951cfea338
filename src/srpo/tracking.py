"""Metric and sample logging for a run directory.

Metrics are flat ``domain/name`` keys. `Tracker.log` appends one JSON line per call to
``RUN_DIR/metrics.jsonl`` (with ``step``), and forwards the same dict to every extra backend
(`LOGGING_BACKENDS`: `TensorBoardBackend`, `WandbBackend`; both optional extras, built by `make_backends`).
`Tracker.log_samples` appends rollout rows to ``RUN_DIR/samples.jsonl``, keeping the share that the
`SampleLogConfig` selects when one is given.

Backends receive exactly the dict written to metrics.jsonl minus ``step``; they keep the finite numeric
values (bools as 0/1) and skip the rest, as metrics.jsonl stores non-finite floats as ``null``.
"""

from __future__ import annotations

import importlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Protocol

from srpo.analysis.samples import SampleLogConfig, select_samples
from srpo.core.configlib import ConfigError, option
from srpo.core.errors import UserError
from srpo.core.extras import install_hint
from srpo.core.files import writing
from srpo.core.registry import Registry

WANDB_MODES = ("offline", "online", "disabled")


class LoggingBackend(Protocol):
    def log(self, metrics: dict[str, float], step: int) -> None: ...
    def close(self) -> None: ...


# LoggingBackend classes by `logging.backends` name; each builds itself with
# ``from_config(run_dir, logging_cfg, config, start_step)`` (see `make_backends`).
LOGGING_BACKENDS: Registry[type[LoggingBackend]] = Registry("logging backend")


class MissingExtra(UserError, ImportError):
    """A logging backend whose optional package is not installed."""

    def __init__(self, name: str):
        super().__init__(f"logging.backends: {name!r} needs the {name} package ({install_hint(name)}), or "
                         f"remove it from logging.backends")


# The package each optional backend imports, so that a run can refuse a missing one before it loads a model.
BACKEND_MODULES = {"tensorboard": "torch.utils.tensorboard", "wandb": "wandb"}


def require_backends(names: list[str]) -> None:
    """Raise `MissingExtra` for the first named backend whose package is not installed."""
    for name in (n for n in names if n in BACKEND_MODULES):
        try:
            importlib.import_module(BACKEND_MODULES[name])
        except ImportError:
            raise MissingExtra(name) from None


def _jsonable(value: Any) -> Any:
    """Floats that JSON cannot hold (nan, inf) become None so every line stays valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class JsonlWriter:
    """Append-only JSON-lines file; each write is flushed so a crash loses at most the current line."""

    def __init__(self, path: Path):
        self.path = path
        with writing(path, "the log"):
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open("a", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        with writing(self.path, "the log"):
            self._fh.write(json.dumps({k: _jsonable(v) for k, v in row.items()}, ensure_ascii=False) + "\n")
            self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The finite numeric entries of `metrics` as floats (what TensorBoard and W&B receive).

    >>> scalar_metrics({"a": 1, "b": float("nan"), "c": None, "d": "x", "e": True})
    {'a': 1.0, 'e': 1.0}
    """
    out = {}
    for key, value in metrics.items():
        if isinstance(value, (bool, int, float)) and math.isfinite(value):
            out[key] = float(value)
    return out


@LOGGING_BACKENDS.register("tensorboard")
class TensorBoardBackend:
    """Scalars to a TensorBoard event file in `log_dir` (srpo's optional ``tensorboard`` extra)."""

    def __init__(self, log_dir: str | Path, start_step: int | None = None):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise MissingExtra("tensorboard") from err
        self.log_dir = Path(log_dir)
        # purge_step hides the events of earlier invocations at steps this one logs again (a resume)
        self._writer = SummaryWriter(log_dir=str(self.log_dir), purge_step=start_step)

    @classmethod
    def from_config(cls, run_dir: Path, logging_cfg: LoggingConfig, config: dict[str, Any] | None,
                    start_step: int | None = None) -> TensorBoardBackend:
        """Event files in ``RUN_DIR/tensorboard``."""
        return cls(run_dir / "tensorboard", start_step)

    def log(self, metrics: dict[str, Any], step: int) -> None:
        for key, value in scalar_metrics(metrics).items():
            self._writer.add_scalar(key, value, global_step=step)

    def close(self) -> None:
        self._writer.close()


@LOGGING_BACKENDS.register("wandb")
class WandbBackend:
    """Scalars to a Weights & Biases run (srpo's optional ``wandb`` extra).

    `mode="offline"` (the default) needs no account or network: the run is written under
    ``<run_dir>/wandb`` and can be uploaded later with ``wandb sync``.
    """

    def __init__(
        self,
        project: str,
        mode: str = "offline",
        config: dict[str, Any] | None = None,
        run_dir: str | Path | None = None,
        name: str | None = None,
    ):
        if mode not in WANDB_MODES:
            raise ValueError(f"wandb mode: must be one of {list(WANDB_MODES)}, got {mode!r}")
        try:
            import wandb
        except ImportError as err:
            raise MissingExtra("wandb") from err
        self._run = wandb.init(
            project=project,
            mode=mode,
            config=dict(config or {}),
            dir=None if run_dir is None else str(run_dir),
            name=name,
        )

    @classmethod
    def from_config(cls, run_dir: Path, logging_cfg: LoggingConfig, config: dict[str, Any] | None,
                    start_step: int | None = None) -> WandbBackend:
        """A run in `logging_cfg`'s project and mode that records `config` and is named by its ``run.name``."""
        return cls(logging_cfg.wandb_project, logging_cfg.wandb_mode, config, run_dir, _run_name(config))

    def log(self, metrics: dict[str, Any], step: int) -> None:
        self._run.log(scalar_metrics(metrics), step=step)

    def close(self) -> None:
        self._run.finish()


def _run_name(config: dict[str, Any] | None) -> str | None:
    run = (config or {}).get("run")
    return run.get("name") if isinstance(run, dict) else None


@dataclass(frozen=True)
class LoggingConfig:
    """Where metrics and rollout samples go. ``RUN_DIR/metrics.jsonl`` is always written."""

    backends: list[str] = option(factory=list,
                                 doc="extra metric sinks that receive the same dict as metrics.jsonl: "
                                     "``tensorboard`` (event files in ``RUN_DIR/tensorboard``; needs the "
                                     "srpo's ``tensorboard`` extra) and/or ``wandb`` (Weights & Biases; needs the "
                                     "srpo's ``wandb`` extra).")
    wandb_project: str = option("srpo", "W&B project the run is logged under.")
    wandb_mode: str = option("offline", "W&B mode: ``offline`` (files in ``RUN_DIR/wandb``, upload later with "
                                        "``wandb sync``), ``online`` or ``disabled``.")
    samples: SampleLogConfig = option(factory=SampleLogConfig,
                                      doc="the rollout sample log ``RUN_DIR/samples.jsonl`` (share of rollouts kept, "
                                          "hash seed).")

    def validate(self) -> None:
        for i, name in enumerate(self.backends):
            LOGGING_BACKENDS.check(name, f"backends[{i}]")
        if len(set(self.backends)) != len(self.backends):
            raise ConfigError(f"backends: listed twice in {self.backends}")
        if self.wandb_mode not in WANDB_MODES:
            raise ConfigError(f"wandb_mode: must be one of {list(WANDB_MODES)}, got {self.wandb_mode!r}")
        try:
            self.samples.validate()
        except ConfigError as err:
            raise ConfigError(f"samples.{err}") from None


def make_backends(
    names: list[str],
    run_dir: str | Path,
    config: dict[str, Any] | None = None,
    logging_cfg: LoggingConfig | None = None,
    start_step: int | None = None,
) -> list[LoggingBackend]:
    """Build the named backends for `run_dir`.

    `config` is the resolved run config as a plain dict: W&B records it, and its ``run.name`` names the
    W&B run. `logging_cfg` supplies the W&B project and mode (defaults: ``srpo``, offline). `start_step`:
    the first step this invocation logs; what earlier ones logged from there on is hidden (TensorBoard).
    """
    logging_cfg = logging_cfg or LoggingConfig()
    return [LOGGING_BACKENDS.get(name).from_config(Path(run_dir), logging_cfg, config, start_step)
            for name in names]


class Tracker:
    """Writes metrics.jsonl and samples.jsonl in `run_dir` and fans metrics out to `backends`.

    With `sample_log` set, `log_samples` keeps only the rows `select_samples` picks; without it, all rows.
    """

    def __init__(
        self,
        run_dir: str | Path,
        backends: list[LoggingBackend] | None = None,
        sample_log: SampleLogConfig | None = None,
        start_step: int | None = None,
    ):
        self.run_dir = Path(run_dir)
        if start_step is not None:  # this invocation logs from start_step on: drop what earlier ones logged there
            for name in ("metrics.jsonl", "samples.jsonl"):
                truncate_log(self.run_dir / name, start_step)
        self._metrics = JsonlWriter(self.run_dir / "metrics.jsonl")
        self._samples = JsonlWriter(self.run_dir / "samples.jsonl")
        self._backends = list(backends or [])
        self._sample_log = sample_log

    @classmethod
    def from_config(
        cls, run_dir: str | Path, logging: LoggingConfig, config: dict[str, Any] | None = None,
        start_step: int | None = None,
    ) -> "Tracker":
        """A tracker with the backends and sample share that `logging` asks for; with `start_step`, the lines
        and events earlier invocations logged at that step or later are dropped (a resume or a fresh start)."""
        backends = make_backends(logging.backends, run_dir, config, logging, start_step)
        return cls(run_dir, backends, sample_log=logging.samples, start_step=start_step)

    def log(self, metrics: dict[str, float], step: int) -> None:
        self._metrics.write({"step": step, **metrics})
        for backend in self._backends:
            backend.log(metrics, step)

    def log_samples(self, rows: list[dict[str, Any]]) -> None:
        if self._sample_log is not None:
            rows = select_samples(rows, self._sample_log)
        for row in rows:
            self._samples.write(row)

    def close(self) -> None:
        self._metrics.close()
        self._samples.close()
        for backend in self._backends:
            backend.close()

    def __enter__(self) -> "Tracker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def truncate_log(path: Path, start_step: int) -> None:
    """Keep only the lines of `path` logged before `start_step` (and none torn by a crash mid-write)."""
    if not path.exists():
        return
    tmp = path.with_name(path.name + ".tmp")
    with writing(path, "the log", partial=tmp):
        with path.open(encoding="utf-8") as src, tmp.open("w", encoding="utf-8") as dst:
            dst.writelines(line for line in src if _logged_before(line, start_step))
        os.replace(tmp, path)


def _logged_before(line: str, step: int) -> bool:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return False
    return isinstance(row, dict) and line.endswith("\n") and row.get("step", 0) < step


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line; errors name the file and line."""
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            yield lineno, row


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON-lines file; a malformed line raises an error naming the file and line number."""
    return [row for _, row in iter_jsonl(path)]
