"""Generation engines behind one interface: prompts in, sampled responses with behaviour log-probs out."""

from srpo.engines.native.rollout.base import ROLLOUT_ENGINES, RolloutBatch, RolloutEngine, updating
from srpo.engines.native.rollout.hf import HFEngine, KVCacheEngine
from srpo.engines.native.rollout.vllm import VLLMEngine  # imports vllm only when an engine is built


def build_rollout_engine(cfg, model, tokenizer, *, seed: int):
    """The `cfg.engine` engine (`cfg`: a `RolloutConfig`), given the config fields it names in ``CONFIG_FIELDS``."""
    cls = ROLLOUT_ENGINES.get(cfg.engine)
    options = {name: getattr(cfg, name) for name in getattr(cls, "CONFIG_FIELDS", ())}
    return cls(model, tokenizer, seed=seed, **options)


__all__ = ["ROLLOUT_ENGINES", "RolloutBatch", "RolloutEngine", "HFEngine", "KVCacheEngine", "VLLMEngine",
           "build_rollout_engine", "updating"]
