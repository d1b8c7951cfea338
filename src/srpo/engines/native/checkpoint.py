"""Checkpoints that hold everything needed to continue a run exactly, written atomically.

Layout: ``RUN_DIR/checkpoints/step_000050/`` holds the model (``save_pretrained``, safetensors) and
tokenizer, which transformers loads back as is, plus ``trainer_state.pt`` (step, optimizer and scheduler,
the rollout engine's state, the prompt stream's state (`srpo.sampling.stream.StepStream.state_dict`: sampler,
curriculum, counters), RNG states). A checkpoint is written to a ``.tmp`` directory and renamed
into place, and then ``RUN_DIR/checkpoints/latest``, a relative symlink replaced in one step, points at it, so
a crash mid-write never leaves a half checkpoint that resume would pick up, and ``from_pretrained(RUN_DIR/
checkpoints/latest)`` loads the newest model. The layout (every engine's) and `latest_checkpoint` are in
`srpo.engines.checkpoint_layout`, which model paths and resume are resolved with.

With ``model.lora.enabled`` the model part is peft's adapter directory (``adapter_config.json`` and
``adapter_model.safetensors``: the A and B matrices only); `srpo.engines.native.export` (``srpo export
--merge``) folds them into their base and writes a plain Hugging Face model directory.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from srpo.core.files import writing
from srpo.engines.checkpoint_layout import LATEST, STATE_FILE, checkpoint_root, write_latest


def save_checkpoint(run_dir: Path, step: int, model, tokenizer, state: dict[str, Any], keep: int) -> Path:
    """Write checkpoint `step` atomically, point the ``latest`` symlink at it and prune all but the newest `keep`.

    A failed or interrupted write leaves no temporary directory behind; a full, read-only or forbidden disk
    is a one-line `UserError` naming the checkpoint."""
    root = checkpoint_root(run_dir)
    final = root / f"step_{step:06d}"
    tmp = root / f".step_{step:06d}.tmp"
    for stale in root.glob(".step_*.tmp"):  # left by a killed process
        shutil.rmtree(stale, ignore_errors=True)
    with writing(final, "the checkpoint", partial=tmp):
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        torch.save(state, tmp / STATE_FILE)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    with writing(root / LATEST, "the latest-checkpoint pointer"):
        write_latest(root, final.name)
    for old in sorted(root.glob("step_*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_state(path: Path) -> dict[str, Any]:
    state_file = Path(path) / STATE_FILE
    if not state_file.exists():
        raise FileNotFoundError(f"{path}: not a srpo checkpoint (no {STATE_FILE})")
    return torch.load(state_file, weights_only=False)


def rng_state() -> dict[str, Any]:
    """Every global RNG a step may touch."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
