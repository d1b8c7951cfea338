"""Where each engine keeps its checkpoints in a run directory, which are complete, the newest, the run one belongs
to and the model directory to load from it: the one interface that model paths
(`srpo.engines.hf_model.resolve_model_path`), ``srpo eval``, ``srpo export``, ``srpo report`` and every
engine's resume go through. It imports no engine.

    RUN/config.yaml                                 the run's config, for every engine (`srpo.engines.run_dir`)
    native  RUN/checkpoints/step_000050/            model and tokenizer (save_pretrained) plus trainer_state.pt
            RUN/checkpoints/latest                  relative symlink to the newest complete one (runs written
                                                    before: a text file naming it); transformers loads it as is
    trl     RUN/checkpoint-100/                     TRL's folder (model, tokenizer, optimizer, RNG) plus
                                                    srpo_state.json, written last: without it, incomplete. N counts
                                                    TRL's optimizer steps; srpo's step is in srpo_state.json
    verl    RUN/checkpoints/global_step_50/         verl's FSDP shards (actor/model_world_size_W_rank_R.pt, ...)
            RUN/checkpoints/global_step_50/actor/huggingface/   config and tokenizer, and the whole model only
                                                    when the actor saves ``hf_model`` (checkpoint.save_contents)
            RUN/checkpoints/latest_checkpointed_iteration.txt   the step of the newest complete one

A model path may name a run directory (its latest checkpoint), its ``checkpoints/`` or ``checkpoints/latest``,
or a checkpoint (for verl also its ``actor/`` or ``actor/huggingface/``): `checkpoint_named_by` says which.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from srpo.core.configlib import ConfigError

STATE_FILE = "trainer_state.pt"  # native
TRL_STATE_FILE = "srpo_state.json"
VERL_TRACKER = "latest_checkpointed_iteration.txt"
CHECKPOINTS, LATEST, RUN_CONFIG = "checkpoints", "latest", "config.yaml"
ENGINES = ("native", "trl", "verl")
_NAMES = {"native": re.compile(r"step_(\d+)"), "trl": re.compile(r"checkpoint-(\d+)"),
          "verl": re.compile(r"global_step_(\d+)")}
_WHERE = {"native": "checkpoints/step_N", "trl": "checkpoint-N", "verl": "checkpoints/global_step_N"}
_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint at `path`, written by `engine`, in the run directory `run_dir`."""

    path: Path
    engine: str
    run_dir: Path


def checkpoint_root(run_dir: Path) -> Path:
    """``RUN/checkpoints``, where the native and verl engines keep theirs."""
    return Path(run_dir) / CHECKPOINTS


def engine_of(path: Path) -> str | None:
    """The engine whose checkpoint directory `path` is by its name and place (complete or not), or None."""
    path = Path(path)
    for engine, pattern in _NAMES.items():
        in_root = engine == "trl" or path.parent.name == CHECKPOINTS
        if in_root and pattern.fullmatch(path.name):
            return engine
    return None


def is_complete(path: Path, engine: str) -> bool:
    """Whether `path` holds a complete checkpoint of `engine`: native its trainer_state.pt, trl its
    srpo_state.json, verl a folder that its run's tracker file does not say is newer than the last saved."""
    path = Path(path)
    if engine == "native":
        return (path / STATE_FILE).is_file()
    if engine == "trl":
        return (path / TRL_STATE_FILE).is_file()
    if not path.is_dir():
        return False
    saved = _verl_tracked(path.parent)
    return saved is None or _NAMES["verl"].fullmatch(path.name) is None or _number(path, "verl") <= saved


def checkpoints(run_dir: Path, engine: str) -> list[Path]:
    """The complete checkpoints of `engine` in `run_dir`, oldest first."""
    parent = Path(run_dir) if engine == "trl" else checkpoint_root(run_dir)
    if not parent.is_dir():
        return []
    found = [p for p in parent.iterdir() if _NAMES[engine].fullmatch(p.name) and is_complete(p, engine)]
    return sorted(found, key=lambda p: _number(p, engine))


def latest_checkpoint(run_dir: Path, engine: str | None = None) -> Path | None:
    """The newest complete checkpoint of `run_dir`, or None. `engine` None: of the engine the run's config.yaml
    names, else of the first engine whose layout the directory holds.

    native: the one ``latest`` names, else the highest step_N; trl: the highest checkpoint-N; verl: the one its
    tracker names (as verl's ``resume_mode=auto``: None without a tracker or when that folder is gone)."""
    for name in [engine] if engine else _engines_of(Path(run_dir)):
        found = {"native": _latest_native, "trl": _latest_trl, "verl": _latest_verl}[name](Path(run_dir))
        if found is not None:
            return found
    return None


def checkpoint_at(path: Path) -> Checkpoint | None:
    """The checkpoint `path` is (for verl also its actor/ or actor/huggingface/), with its run, or None.
    ConfigError for an incomplete one."""
    path = Path(path)
    candidates = [path] + [p for p in (path.parent, path.parent.parent) if engine_of(p) == "verl"][:1]
    for candidate in candidates:
        engine = engine_of(candidate)
        if engine is None or not candidate.is_dir() or (engine == "trl" and not _looks_like_trl(candidate)):
            continue
        if not is_complete(candidate, engine):
            why = {"native": f"no {STATE_FILE}", "trl": f"no {TRL_STATE_FILE}",
                   "verl": f"{VERL_TRACKER} names an older step"}[engine]
            raise ConfigError(f"model.path: {candidate} is an incomplete {engine} checkpoint ({why}: still being "
                              "written, or cut short); give a complete one or the run directory")
        return Checkpoint(candidate, engine, _run_dir_of_checkpoint(candidate, engine))
    return None


def checkpoint_named_by(path: Path) -> Checkpoint | None:
    """The checkpoint a model path names: a checkpoint -> itself; a run directory, its ``checkpoints/`` or
    ``checkpoints/latest`` -> the run's latest (ConfigError naming the run when it has none yet); anything else
    (a plain model directory) -> None."""
    path = Path(path)
    found = checkpoint_at(_followed(path))
    if found is not None:
        return found
    run_dir = _run_dir_named_by(path)
    if run_dir is None:
        return None
    latest = latest_checkpoint(run_dir)
    if latest is None:
        looked = ", ".join(_WHERE.values())
        raise ConfigError(f"model.path: {path}: run {run_dir} has no complete checkpoint yet (looked for {looked})")
    return checkpoint_at(latest)


def model_dir(checkpoint: Checkpoint) -> Path:
    """The Hugging Face model directory to load from `checkpoint`: native and trl the checkpoint itself; verl its
    actor/huggingface/, refused (naming the way out) when verl saved no whole model there."""
    if checkpoint.engine != "verl":
        return checkpoint.path
    hf = checkpoint.path / "actor" / "huggingface"
    if not any((hf / name).is_file() for name in _WEIGHTS):
        raise ConfigError(
            f"model.path: {checkpoint.path}: this verl checkpoint holds FSDP shards only ({hf} has no weights: the "
            "actor did not save hf_model); merge them into a model directory with `python -m verl.model_merger "
            f"merge --backend fsdp --local_dir {checkpoint.path / 'actor'} --target_dir OUT` and give OUT, or add "
            "hf_model to actor_rollout_ref.actor.checkpoint.save_contents")
    return hf


def run_dir_of(path: Path) -> Path | None:
    """The run directory `path` (a run directory, its checkpoints/ or latest, a checkpoint or a folder in a verl
    checkpoint) belongs to, or None."""
    path = Path(path)
    try:
        found = checkpoint_at(_followed(path))
    except ConfigError:  # incomplete, but still the run's
        found = None
        engine = engine_of(path)
        if engine:
            return _run_dir_of_checkpoint(path, engine)
    return found.run_dir if found else _run_dir_named_by(path)


def run_config(path: Path) -> Path | None:
    """The config.yaml of the run that `path` belongs to (see `run_dir_of`), or None."""
    run_dir = run_dir_of(path)
    config = run_dir / RUN_CONFIG if run_dir else None
    return config if config and config.is_file() else None


def write_latest(root: Path, name: str) -> None:
    """Point ``root/latest`` at checkpoint `name` in one step: a relative symlink (readers see the old or the new
    target), a text file naming it where the file system has no symlinks."""
    tmp = root / f".{LATEST}.tmp"
    tmp.unlink(missing_ok=True)
    try:
        try:
            os.symlink(name, tmp, target_is_directory=True)
        except OSError:
            tmp.write_text(name, encoding="utf-8")
        os.replace(tmp, root / LATEST)
    finally:
        tmp.unlink(missing_ok=True)


def _engines_of(run_dir: Path) -> list[str]:
    """The engine the run's config.yaml names (one line ``engine: NAME``), else every engine."""
    config = run_dir / RUN_CONFIG
    if config.is_file():
        match = re.search(r"^engine:\s*['\"]?(\w+)", config.read_text(encoding="utf-8"), re.MULTILINE)
        if match and match.group(1) in ENGINES:
            return [match.group(1)]
    return list(ENGINES)


def _followed(path: Path) -> Path:
    """`path`, or for a ``latest`` symlink the checkpoint it points to (as RUN/checkpoints/step_N, unresolved)."""
    return path.parent / os.readlink(path) if path.name == LATEST and path.is_symlink() else path


def _run_dir_named_by(path: Path) -> Path | None:
    """The run directory `path` (the run, its checkpoints/ or checkpoints/latest) names, or None."""
    if path.name == LATEST and os.path.lexists(path) and path.parent.name == CHECKPOINTS:
        return path.parent.parent
    if path.name == CHECKPOINTS and path.is_dir():
        return path.parent
    if not path.is_dir():
        return None
    holds = checkpoint_root(path).is_dir() or (path / RUN_CONFIG).is_file()
    return path if holds or any((p / TRL_STATE_FILE).is_file() for p in path.glob("checkpoint-*")) else None


def _run_dir_of_checkpoint(path: Path, engine: str) -> Path:
    return path.parent if engine == "trl" else path.parent.parent


def _looks_like_trl(path: Path) -> bool:
    """A checkpoint-N folder of srpo's TRL engine (its state file, or in a srpo run directory), not one of another
    trainer's output (a fine-tuned model ``sft/checkpoint-500`` is a plain model directory)."""
    return (path / TRL_STATE_FILE).is_file() or (path.parent / RUN_CONFIG).is_file()


def _number(path: Path, engine: str) -> int:
    return int(_NAMES[engine].fullmatch(Path(path).name).group(1))


def _latest_native(run_dir: Path) -> Path | None:
    pointer = checkpoint_root(run_dir) / LATEST
    if pointer.is_symlink():
        named = _followed(pointer)
    elif pointer.is_file():
        named = pointer.parent / pointer.read_text(encoding="utf-8").strip()
    else:
        named = None
    if named is not None and is_complete(named, "native"):
        return named
    found = checkpoints(run_dir, "native")
    return found[-1] if found else None


def _latest_trl(run_dir: Path) -> Path | None:
    found = checkpoints(run_dir, "trl")
    return found[-1] if found else None


def _verl_tracked(root: Path) -> int | None:
    """The step verl's tracker file in `root` names, or None without one."""
    tracker = Path(root) / VERL_TRACKER
    if not tracker.is_file():
        return None
    text = tracker.read_text(encoding="utf-8").strip()
    if not text.isdigit():
        raise ConfigError(f"run.resume: {tracker} should hold verl's last checkpointed step, found {text[:40]!r}")
    return int(text)


def _latest_verl(run_dir: Path) -> Path | None:
    step = _verl_tracked(checkpoint_root(run_dir))
    path = checkpoint_root(run_dir) / f"global_step_{step}"
    return path if step is not None and path.is_dir() else None
