"""Generation engines behind one interface: prompts in, sampled responses with behaviour log-probs out."""

from srpo.engines.native.rollout.base import ROLLOUT_ENGINES, RolloutBatch, RolloutEngine, updating
from srpo.engines.native.rollout.hf import HFEngine, KVCacheEngine
from srpo.engines.native.rollout.vllm import VLLMEngine  # imports vllm only when an engine is built

__all__ = ["ROLLOUT_ENGINES", "RolloutBatch", "RolloutEngine", "HFEngine", "KVCacheEngine", "VLLMEngine",
           "updating"]
