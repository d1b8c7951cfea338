"""Where a run of srpo's own (native) engine keeps its checkpoints, and which of them is the newest complete one.

    RUN_DIR/checkpoints/step_000050/   the model and tokenizer (save_pretrained) plus STATE_FILE
    RUN_DIR/checkpoints/latest         the name of the newest complete checkpoint

The native engine writes this layout (`srpo.engines.native.checkpoint`). It lives in a shared module because
a model path may name such a run or one of its checkpoints, and every engine and command resolves model paths
the same way (`srpo.engines.hf_model.resolve_model_path`).
"""

from __future__ import annotations

from pathlib import Path

STATE_FILE = "trainer_state.pt"


def checkpoint_root(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run, or None."""
    pointer = checkpoint_root(run_dir) / "latest"
    if not pointer.exists():
        return None
    path = pointer.parent / pointer.read_text().strip()
    return path if (path / STATE_FILE).exists() else None
