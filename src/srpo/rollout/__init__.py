"""Generation engines behind one interface: prompts in, sampled responses with behaviour log-probs out."""

from srpo.rollout.base import RolloutBatch, RolloutConfig, RolloutEngine, SamplingParams
from srpo.rollout.hf import HFEngine, KVCacheEngine, build_engine

__all__ = ["RolloutBatch", "RolloutConfig", "RolloutEngine", "SamplingParams", "HFEngine", "KVCacheEngine",
           "build_engine"]
