"""A checkpoint's model as a directory to ship: trainer state left out, LoRA adapters merged on request."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from srpo.config.model import ModelConfig
from srpo.core.files import writing
from srpo.engines.hf_model import load_model, load_tokenizer, resolve_model_path
from srpo.engines.lora import ADAPTER_FILES, is_adapter_dir


def export_model(source: str, out: Path, merge: bool = False) -> Path:
    """Write the model `source` names (a checkpoint or run directory of any engine, see
    `srpo.engines.checkpoint_layout`, or a model directory) to `out` with its
    tokenizer and without srpo's trainer state. A LoRA checkpoint is written as its adapters (peft's files,
    which need the base), or with `merge` as a plain transformers model (W + (alpha / r) * B A in every adapted
    layer). Written to a temporary directory and renamed into place, like checkpoints."""
    out, cfg = Path(out), ModelConfig(path=str(source))
    path = resolve_model_path(cfg.path)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with writing(out, "the exported model", partial=tmp):
        if is_adapter_dir(path) and not merge:
            tmp.mkdir(parents=True)
            for name in ADAPTER_FILES:
                shutil.copy2(path / name, tmp / name)
        else:
            load_model(cfg).save_pretrained(tmp, safe_serialization=True)
        load_tokenizer(cfg).save_pretrained(tmp)
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)
    return out
