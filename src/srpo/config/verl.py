"""The ``verl:`` section: options only the verl recipe reads (``engine: verl``). Everything else comes from the
same tree as the native engine; `srpo.engines.verl.setup` maps it onto verl's Hydra overrides and refuses what
verl cannot honour. This module imports nothing from verl, so the config layer stays engine-free."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from srpo.core.configlib import ConfigError, option


@dataclass(frozen=True)
class VerlConfig:
    """Options of the verl recipe (verl's v1 PPO trainer under Ray: FSDP, vLLM or SGLang, one or more nodes)."""

    nnodes: int = option(1, "nodes of the Ray cluster that train (trainer.nnodes).")
    n_gpus_per_node: int = option(8, "GPUs per node (trainer.n_gpus_per_node).")
    trainer_mode: Literal["sync", "colocate_async"] = option(
        "sync", "verl's v1 trainer mode. ``sync``: each step generates and trains its own prompts (on-policy, "
                "nothing drawn ahead). ``colocate_async``: generation runs ahead by ``num_warmup_batches`` "
                "batches with partial rollouts (off-policy by up to that many steps).")
    num_warmup_batches: int = option(1, "colocate_async: batches generated ahead of training "
                                        "(trainer.v1.colocate_async.num_warmup_batches).")
    strategy: Literal["fsdp", "fsdp2"] = option("fsdp2", "training backend of actor and reference "
                                                         "(actor_rollout_ref.actor.strategy).")
    rollout: Literal["vllm", "sglang"] = option("vllm", "inference engine of the rollouts "
                                                        "(actor_rollout_ref.rollout.name).")
    rollout_tp: int = option(1, "tensor-parallel size of one rollout engine "
                                "(actor_rollout_ref.rollout.tensor_model_parallel_size); 4 or 8 for 32B.")
    gpu_memory_utilization: float = option(0.6, "share of GPU memory the rollout engine may take "
                                                "(actor_rollout_ref.rollout.gpu_memory_utilization).")
    sequence_parallel: int = option(1, "Ulysses sequence-parallel size of the actor "
                                       "(actor_rollout_ref.actor.ulysses_sequence_parallel_size); > 1 for long "
                                       "responses.")
    param_offload: bool = option(False, "offload actor parameters to CPU between phases "
                                        "(actor_rollout_ref.actor.fsdp_config.param_offload).")
    optimizer_offload: bool = option(False, "offload the optimizer state to CPU "
                                            "(actor_rollout_ref.actor.fsdp_config.optimizer_offload).")
    max_tokens_per_gpu: int | None = option(None, "dynamic batch size: at most this many tokens per GPU per forward "
                                                  "(use_dynamic_bsz + ppo_max_token_len_per_gpu); None: fixed "
                                                  "micro-batches of algorithm.micro_batch_size.")
    max_prompt_length: int = option(2048, "prompt length budget in tokens (data.max_prompt_length); longer "
                                          "prompts are filtered out when the dataset loads.")
    reward_workers: int = option(8, "reward worker processes (reward.num_workers); each holds one srpo scorer "
                                    "and one sandbox pool of sandbox.workers processes.")
    project_name: str = option("srpo", "trainer.project_name (the experiment name is run.name).")
    data_dir: str | None = option(None, "where `srpo verl-recipe` writes the parquet files, the frozen srpo "
                                        "config and the launch script; None: ``<run.output_dir>/verl``.")
    overrides: list[str] = option(factory=list,
                                  doc="further Hydra overrides for verl, passed as they are (``key=value`` or "
                                      "``+key=value``), e.g. ``actor_rollout_ref.rollout.max_num_batched_tokens="
                                      "32768``. Keys srpo sets from the tree are refused here (see docs/verl.md), "
                                      "so each setting has one place.")

    def validate(self) -> None:
        for name in ("nnodes", "n_gpus_per_node", "rollout_tp", "sequence_parallel", "reward_workers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.num_warmup_batches < 0:
            raise ConfigError(f"num_warmup_batches: must be >= 0, got {self.num_warmup_batches}")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise ConfigError(f"gpu_memory_utilization: must be in (0, 1], got {self.gpu_memory_utilization}")
        if self.max_tokens_per_gpu is not None and self.max_tokens_per_gpu < 1:
            raise ConfigError(f"max_tokens_per_gpu: must be >= 1 or null, got {self.max_tokens_per_gpu}")
        if self.max_prompt_length < 1:
            raise ConfigError(f"max_prompt_length: must be >= 1, got {self.max_prompt_length}")
        for i, item in enumerate(self.overrides):
            if not isinstance(item, str) or "=" not in item or item.startswith("=") or item.startswith("~"):
                raise ConfigError(f"overrides[{i}]: must be a Hydra override 'key=value' or '+key=value', "
                                  f"got {item!r}")
