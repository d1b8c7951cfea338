"""What a run directory records about the invocations that ran in it, the same for every engine.

    config.yaml     the run's effective config: written when it starts, rewritten when a resume changes a setting
    data.json       the training and held-out pools it started on: problem counts and a hash of their uids
    resumes.jsonl   one line per resume: when, from which checkpoint and step, the settings it changed

A resumed run is checked against them before it loads anything heavy (`resume_changes`) and once its data is
loaded (`check_data`); `record_start` writes them only once the run can start, so a refused or failed start
leaves the directory as it was.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from srpo.config import TrainConfig, save_config
from srpo.config.resume import Change, RunMismatch, config_changes, refuse_changes
from srpo.core.configlib import ConfigError, load_yaml
from srpo.core.files import write_atomic, writing

CONFIG, DATA, RESUMES = "config.yaml", "data.json", "resumes.jsonl"
SPLITS = {"train": ("data.train", "training"), "heldout": ("data.heldout", "held-out")}  # split -> (field, words)


@dataclass(frozen=True)
class Resume:
    """This invocation continues the run from `checkpoint`, made after step `step`, taking `changes`."""

    checkpoint: Path
    step: int
    changes: list[Change] = field(default_factory=list)


def pick_resume(mode: str, run_dir: Path, latest: Path | None, is_checkpoint: Callable[[Path], bool],
                expected: str) -> Path | None:
    """The checkpoint ``run.resume`` names, the same for every engine: ``auto`` -> `latest` (None: start
    fresh); ``never`` -> None, refused while `run_dir` holds a checkpoint (it would be overwritten); a path ->
    that directory, which must pass `is_checkpoint` (`expected` says what one looks like, for the error)."""
    if mode == "auto":
        return latest
    if mode == "never":
        if latest:
            raise ConfigError(f"run.resume: {run_dir} already has checkpoint {latest}; run.resume=never refuses "
                              "to overwrite it (use run.resume=auto to continue or a new run.output_dir)")
        return None
    if not is_checkpoint(Path(mode)):
        raise ConfigError(f"run.resume: {mode} is not {expected}; give one, auto or never")
    return Path(mode)


def resume_changes(cfg: TrainConfig, run_dir: Path) -> list[Change]:
    """The settings this invocation changes in the run at `run_dir`; `RunMismatch` if any may not change."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():  # checkpoints without a config (copied by hand): nothing to compare with
        return []
    try:
        changes = config_changes(load_yaml(path), cfg)
    except ConfigError as err:
        raise RunMismatch(f"{path}: this srpo cannot read the run's config ({err}); resume it with the srpo "
                          "version that made it, or start a new run (another run.output_dir)") from None
    refuse_changes(changes, str(run_dir))
    return changes


def check_data(run_dir: Path, fingerprint: dict[str, dict]) -> None:
    """Refuse to resume on other problems than the run started on (`fingerprint` from `data_fingerprint`)."""
    path = Path(run_dir) / DATA
    if not path.is_file():
        return
    saved = json.loads(path.read_text(encoding="utf-8"))
    for split, (key, words) in SPLITS.items():
        old, new = saved[split], fingerprint[split]
        if old != new:
            raise RunMismatch(
                f"{key}: {run_dir} was started on other {words} problems ({old['problems']} then, uid hash "
                f"{old['uids_sha256']}; {new['problems']} now, uid hash {new['uids_sha256']}); its checkpoints "
                "and sampler history belong to that data: restore it to continue, or start a new run (another "
                "run.output_dir)")


def record_start(cfg: TrainConfig, run_dir: Path, fingerprint: dict[str, dict], resume: Resume | None) -> None:
    """Write the run's config and data fingerprint; on a resume, also its record and a line saying where from."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / CONFIG)
    if resume is None or not (run_dir / DATA).is_file():
        write_atomic(run_dir / DATA, json.dumps(fingerprint, indent=2) + "\n", "the data fingerprint")
    if resume is None:
        return
    row = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "checkpoint": str(resume.checkpoint), "step": resume.step,
           "changes": {c.key: [c.old, c.new] for c in resume.changes}}
    with writing(run_dir / RESUMES, "the resume record"), (run_dir / RESUMES).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    taken = f"; taking changed settings: {', '.join(map(str, resume.changes))}" if resume.changes else ""
    print(f"resuming from {resume.checkpoint} (step {resume.step}){taken}", flush=True)
