"""The TRL engine: srpo's sampler (history resampling), curriculum, rewards and metrics inside TRL's
``GRPOTrainer``, which scales through accelerate (DDP, DeepSpeed ZeRO-3, FSDP2, several nodes) and vLLM.

``srpo train CONFIG engine=trl`` (or ``torchrun --nproc_per_node N -m srpo.cli train CONFIG engine=trl``).
`setup` maps the config tree onto ``trl.GRPOConfig`` and refuses what TRL cannot honour; `feedback` is the
prompt stream and its cross-rank feedback; `rewards` the reward functions; `metrics` the step metrics;
`trainer` the GRPOTrainer subclass and `train`. TRL is an optional extra (srpo's ``trl`` extra: ``pip install -e '.[trl]'`` in the source tree): nothing
outside this package imports it. See docs/trl.md.
"""
