"""The policy model and how it generates during training (`ModelConfig`, `RolloutConfig`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from srpo.core.configlib import ConfigError
from srpo.core.generation import SamplingParams, check_sampling


@dataclass(frozen=True)
class ModelConfig:
    """The policy model.

    path: a local Hugging Face model directory, or ``"toy"`` for the embedded default (`srpo.toy`).
        Nothing is ever downloaded: loading uses ``local_files_only=True``.
    dtype: dtype of the parameters (and of the optimizer's view of them).
    autocast_bf16: run forward passes under bfloat16 autocast while keeping float32 parameters
        (faster on CPUs with avx512_bf16 and on GPUs; off for bit-exact tests). Rollouts run without it, so
        when a step makes several optimizer steps (ppo_epochs > 1 or several mini-batches) it requires
        algorithm.old_logprobs=recompute.
    device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (cuda when available).
    prompt_template: ``"chat"`` applies the tokenizer's chat template (falls back to ``"plain"`` when the
        tokenizer has none), ``"plain"`` uses the prompt text as is, any other string is a format string
        with a ``{prompt}`` field.
    system_prompt: optional system message for the chat template.
    gradient_checkpointing: trade compute for memory on large models.
    """

    path: str = "toy"
    dtype: Literal["float32", "bfloat16"] = "float32"
    autocast_bf16: bool = False
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    prompt_template: str = "chat"
    system_prompt: str | None = None
    gradient_checkpointing: bool = False

    def validate(self) -> None:
        if self.prompt_template not in ("chat", "plain") and "{prompt}" not in self.prompt_template:
            raise ConfigError("prompt_template: must be 'chat', 'plain' or contain '{prompt}'")
        if self.path != "toy" and not Path(self.path).is_dir():
            raise ConfigError(f"path: {self.path!r} is not a local model directory (srpo never downloads)")


@dataclass(frozen=True)
class RolloutConfig:
    """How responses are generated during training.

    engine: ``"kv_cache"`` (srpo's own batched decode loop: computes behaviour log-probs on the fly, one
        vocabulary-sized row per sequence per step) or ``"hf"`` (``model.generate``; log-probs from its
        returned logits, which holds B x T x V floats: fine for small vocabularies). Both sample from
        temperature and top_p alone: the model's generation_config (repetition_penalty, top_k, ...) is
        ignored, since the recorded log-probs would not describe the tokens it shapes.
    group_size: responses per prompt (G in GRPO).
    prompts_per_step: prompts per training step; a step trains on prompts_per_step * group_size responses.
    temperature, top_p: the sampling distribution. Behaviour log-probs are those of the temperature-scaled
        softmax before top-p truncation, which is what the trainer's forward pass recomputes.
    max_new_tokens: response length cap; a response that hits it without EOS is marked truncated.
    """

    engine: Literal["kv_cache", "hf"] = "kv_cache"
    group_size: int = 8
    prompts_per_step: int = 8
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 64

    def validate(self) -> None:
        if self.group_size < 1:
            raise ConfigError(f"group_size: must be >= 1, got {self.group_size}")
        if self.prompts_per_step < 1:
            raise ConfigError(f"prompts_per_step: must be >= 1, got {self.prompts_per_step}")
        check_sampling(self.temperature, self.top_p, self.max_new_tokens)

    def sampling(self, n: int | None = None) -> SamplingParams:
        return SamplingParams(n or self.group_size, self.temperature, self.top_p, self.max_new_tokens)
