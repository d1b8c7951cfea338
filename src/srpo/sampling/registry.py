"""Samplers by config name (`SamplingConfig.name`). Each sampler module registers its class here; a class
is called as ``cls(problems, seed, cfg)`` (see `srpo.sampling.base.PromptSampler`)."""

from __future__ import annotations

from srpo.core.registry import Registry

SAMPLERS: Registry[type] = Registry("sampler")
