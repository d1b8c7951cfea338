"""Where the toy model's weights are: the shipped assets, or a deterministic rebuild into a cache."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ASSET_DIR = Path(__file__).resolve().parent / "assets"
_REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def _complete(path: Path) -> bool:
    return all((path / name).is_file() for name in _REQUIRED)


def cache_dir() -> Path:
    """Where a missing asset is rebuilt: ``$SRPO_CACHE/toy`` if SRPO_CACHE is set, else ``~/.cache/srpo/toy``."""
    root = os.environ.get("SRPO_CACHE")
    return Path(root) / "toy" if root else Path.home() / ".cache" / "srpo" / "toy"


def default_model_dir() -> Path:
    """The shipped toy model directory; if the package lacks it, build it once into `cache_dir()`.

    The build uses the default `WarmStartConfig` (byte-identical to the shipped weights on the machine
    that made them) and takes about 10 minutes on one CPU thread. It is written to a temporary sibling and
    renamed, so an interrupted build never leaves a half-written model behind.
    """
    if _complete(ASSET_DIR):
        return ASSET_DIR
    target = cache_dir()
    if _complete(target):
        return target
    from srpo.toy.build import WarmStartConfig, train_warm_start

    print(f"srpo: toy model assets missing; building them into {target} (about 10 minutes)", file=sys.stderr)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".toy-build-", dir=target.parent))
    try:
        train_warm_start(WarmStartConfig(), tmp)
        if target.exists():  # an incomplete leftover: replace it
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


__all__ = ["ASSET_DIR", "cache_dir", "default_model_dir"]
