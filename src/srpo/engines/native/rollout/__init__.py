"""Generation engines behind one interface: prompts in, sampled responses with behaviour log-probs out."""

from srpo.engines.native.rollout.base import ROLLOUT_ENGINES, RolloutBatch, RolloutEngine
from srpo.engines.native.rollout.hf import HFEngine, KVCacheEngine

__all__ = ["ROLLOUT_ENGINES", "RolloutBatch", "RolloutEngine", "HFEngine", "KVCacheEngine"]
