"""The policy model and how it generates during training (`ModelConfig`, `RolloutConfig`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from srpo.core.configlib import ConfigError, option
from srpo.core.generation import SamplingParams, check_sampling


@dataclass(frozen=True)
class ModelConfig:
    """The policy model."""

    path: str = option("toy", "a local Hugging Face model directory, ``\"toy\"`` for the embedded default "
                              "(`srpo.toy`), a run directory (its latest checkpoint) or one of its checkpoints. "
                              "Nothing is ever downloaded: loading uses ``local_files_only=True``.", path=True)
    dtype: Literal["float32", "bfloat16"] = option(
        "float32", "dtype of the parameters (and of the optimizer's view of them).")
    autocast_bf16: bool = option(False, "bfloat16 autocast over float32 parameters: faster on CPUs with avx512_bf16 "
                                        "and on GPUs; off for bit-exact tests. Rollouts run without it, so a step "
                                        "with several optimizer steps (ppo_epochs > 1 or several mini-batches) "
                                        "requires algorithm.old_logprobs=recompute.")
    device: Literal["cpu", "cuda", "auto"] = option("cpu", "``\"cpu\"``, ``\"cuda\"`` or ``\"auto\"`` (cuda when "
                                                           "available).")
    prompt_template: str = option("chat", "how a prompt becomes the model's input text. ``chat`` applies the "
                                          "tokenizer's chat template (``plain`` when the tokenizer has none), "
                                          "``plain`` uses the prompt text as is, any other string is a format string "
                                          "with a ``{prompt}`` field.")
    system_prompt: str | None = option(None, "optional system message for the chat template.")
    gradient_checkpointing: bool = option(False, "trade compute for memory on large models.")

    def validate(self) -> None:
        if self.prompt_template not in ("chat", "plain") and "{prompt}" not in self.prompt_template:
            raise ConfigError("prompt_template: must be 'chat', 'plain' or contain '{prompt}'")
        path = Path(self.path)
        if self.path != "toy" and not path.is_dir() and not (path.is_file() and path.name == "latest"):
            raise ConfigError(f"path: {self.path!r} is not a local directory (srpo never downloads); give a model "
                              "directory, a run directory or one of its checkpoints, or toy")


@dataclass(frozen=True)
class RolloutConfig:
    """How responses are generated during training."""

    engine: str = option("kv_cache", "the rollout engine, checked by the training engine when a run is built. "
                                     "Native: ``kv_cache`` (srpo's own batched decode loop; behaviour log-probs "
                                     "on the fly, one vocabulary-sized row per sequence per step) or ``hf`` "
                                     "(``model.generate``; log-probs from its returned logits, B x T x V floats: "
                                     "fine for small vocabularies). Both sample from temperature and top_p alone: "
                                     "the model's generation_config (repetition_penalty, top_k, ...) is ignored, "
                                     "since the recorded log-probs would not describe the tokens it shapes.")
    group_size: int = option(8, "responses per prompt (G in GRPO).")
    prompts_per_step: int = option(8, "prompts per training step; a step trains on prompts_per_step * group_size "
                                      "responses.")
    temperature: float = option(1.0, "softmax temperature of sampling. Behaviour log-probs are those of the "
                                     "temperature-scaled softmax before top-p truncation, which is what the "
                                     "trainer's forward pass recomputes.")
    top_p: float = option(1.0, "nucleus mass kept when sampling (1: no truncation).")
    max_new_tokens: int = option(64, "response length cap; a response that hits it without EOS is marked truncated.")
    compile: bool | None = option(
        None, "``kv_cache`` engine only: run its one-token decode step through ``torch.compile(mode="
              "\"reduce-overhead\")`` over a static KV cache (CUDA graphs). ``null`` (auto): on for CUDA, off "
              "otherwise. When on, finished rows keep their slot until every row is done (shapes stay fixed) and "
              "each new (batch size, cache length) pair compiles once; the eager path drops finished rows instead.")

    def validate(self) -> None:
        if self.group_size < 1:
            raise ConfigError(f"group_size: must be >= 1, got {self.group_size}")
        if self.prompts_per_step < 1:
            raise ConfigError(f"prompts_per_step: must be >= 1, got {self.prompts_per_step}")
        check_sampling(self.temperature, self.top_p, self.max_new_tokens)
        if self.compile and self.engine != "kv_cache":
            raise ConfigError(f"compile: true applies to the kv_cache engine, not {self.engine!r}")

    def sampling(self, n: int | None = None) -> SamplingParams:
        return SamplingParams(n or self.group_size, self.temperature, self.top_p, self.max_new_tokens)
