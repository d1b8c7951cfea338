"""The ``trl:`` section: options only the TRL engine reads (``engine: trl``). Everything else comes from the
same tree as the native engine; `srpo.engines.trl.setup` maps it onto ``trl.GRPOConfig`` and refuses what
TRL cannot honour. This module imports nothing from TRL, so the config layer stays engine-free."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from srpo.core.configlib import ConfigError, option


@dataclass(frozen=True)
class TrlConfig:
    """Options of the TRL engine (`GRPOTrainer` under accelerate: DDP, DeepSpeed, FSDP, vLLM)."""

    use_vllm: bool = option(False, "generate with vLLM (GRPOConfig.use_vllm); needs the ``vllm`` package and a GPU.")
    vllm_mode: Literal["colocate", "server"] = option(
        "colocate", "``colocate``: vLLM runs inside every training process; ``server``: a separate ``trl "
                    "vllm-serve`` process (GRPOConfig.vllm_mode).")
    vllm_server_base_url: str | None = option(None, "server mode: the ``trl vllm-serve`` URL, e.g. "
                                                    "``http://10.0.0.5:8000`` (GRPOConfig.vllm_server_base_url).")
    vllm_gpu_memory_utilization: float = option(0.3, "colocate mode: GPU memory share vLLM may take "
                                                     "(GRPOConfig.vllm_gpu_memory_utilization).")
    vllm_tensor_parallel_size: int = option(1, "colocate mode: tensor-parallel size of the vLLM engine "
                                               "(GRPOConfig.vllm_tensor_parallel_size).")
    report_to: list[str] = option(factory=list, doc="transformers integrations TRL itself reports to (e.g. "
                                                    "``[wandb]``), next to srpo's own ``logging`` section, which "
                                                    "writes metrics.jsonl with the same keys as the native engine.")
    state_check_every: int = option(10, "every this many steps, all ranks compare a hash of the sampler (HR "
                                        "history) and curriculum state and stop with an error if they differ "
                                        "(0: only at the end).")
    max_lookahead: int = option(2, "batches the engine may draw beyond the last scored one. accelerate reads one "
                                   "batch ahead (measured: 1). History resampling waits for every record of an "
                                   "epoch up to this bound, and the engine stops with an error if it is exceeded "
                                   "(e.g. dataloader workers prefetching further).")
    grpo_args: dict[str, Any] = option(factory=dict,
                                       doc="further ``trl.GRPOConfig`` fields passed as they are (``deepspeed``, "
                                           "``fsdp``, ``fsdp_config``, ``ddp_timeout``, ``torch_compile``, ...). "
                                           "Fields srpo sets from the tree (see docs/trl.md) are refused here, so "
                                           "each setting has one place.")

    def validate(self) -> None:
        if self.vllm_mode == "server" and self.use_vllm and not self.vllm_server_base_url:
            raise ConfigError("vllm_server_base_url: vllm_mode=server needs the URL of `trl vllm-serve`")
        if not 0 < self.vllm_gpu_memory_utilization <= 1:
            raise ConfigError(f"vllm_gpu_memory_utilization: must be in (0, 1], got {self.vllm_gpu_memory_utilization}")
        if self.vllm_tensor_parallel_size < 1:
            raise ConfigError(f"vllm_tensor_parallel_size: must be >= 1, got {self.vllm_tensor_parallel_size}")
        if self.state_check_every < 0:
            raise ConfigError(f"state_check_every: must be >= 0, got {self.state_check_every}")
        if self.max_lookahead < 1:
            raise ConfigError(f"max_lookahead: must be >= 1 (accelerate reads one batch ahead), got "
                              f"{self.max_lookahead}")
