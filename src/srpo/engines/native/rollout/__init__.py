"""Generation engines behind one interface: prompts in, sampled responses with behaviour log-probs out."""

from srpo.engines.native.rollout.base import RolloutBatch, RolloutEngine
from srpo.engines.native.rollout.hf import HFEngine, KVCacheEngine, build_engine

__all__ = ["RolloutBatch", "RolloutEngine", "HFEngine", "KVCacheEngine", "build_engine"]
