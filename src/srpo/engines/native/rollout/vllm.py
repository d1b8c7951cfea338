"""The ``vllm`` rollout engine: a vLLM engine inside the trainer's process that samples from a copy of the
policy's weights, refreshed after every optimizer update.

Colocation. vLLM runs in this process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``), so the weights it receives are
the trainer's own tensors, passed by reference, never pickled to another process. During the update it can
sleep (``rollout.vllm.sleep``; vLLM's ``enable_sleep_mode``): level 1 moves its weights to host memory and
frees its KV cache, level 2 frees both. Where vLLM has no sleep mode (its CPU backend, see
`vllm.platforms.current_platform.is_sleep_mode_available`) the engine logs that and keeps its memory.

Weights. `VLLMEngine.sync_weights` hands the trainer's ``named_parameters()`` (Hugging Face checkpoint names)
to the workers' ``reload_weights`` (``LLM.collective_rpc``), vLLM 0.32's in-place reload: it fuses q/k/v and
gate/up itself and re-runs each layer's post-load processing. Two things it leaves stale are redone here:
the prefix cache (KV computed by the old weights; ``reset_prefix_cache``) and, on the CPU backend, the
LM head's prepacked GEMM copy when the head is tied to the embedding (no ``lm_head`` name reaches the
reload, so its processing is skipped and it would keep multiplying by the old embedding).

Behaviour log-probs come from vLLM itself (``SamplingParams(logprobs=0)``: the sampled token's log-prob),
not from a second forward pass of srpo's: they are those of the weights and kernels that actually drew the
tokens, and cost nothing extra. srpo's convention (`RolloutConfig.temperature`) is
log softmax(z / T)[y], before top-p; vLLM reports exactly that as ``processed_logprobs`` when top_p = 1
(temperature is its only processor then) and as ``raw_logprobs`` = log softmax(z)[y] when T = 1; other
combinations are refused when the config loads. Where vLLM's kernels (bf16 on a GPU) differ from the
trainer's forward, ``algorithm.old_logprobs=recompute`` makes pi_old srpo's own forward instead, as the
other engines' rollouts would be; on CPU in float32 the two agree to ~1e-5 (tests/engine_vllm).

Rows follow `srpo.engines.native.rollout.base`: one vLLM request per (prompt i, sample j) at row i*n+j,
each with its own seed drawn from this engine's generator, so a call is reproducible and resumable.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import torch

from srpo.config.model import VllmConfig
from srpo.core.generation import SamplingParams
from srpo.engines.native.rollout.base import (ROLLOUT_ENGINES, RolloutBatch, eos_ids, left_pad, response_mask_from_eos,
                                              truncated_rows)

log = logging.getLogger("srpo.rollout")


def logprobs_mode(temperature: float, top_p: float) -> str:
    """The vLLM ``logprobs_mode`` whose value is srpo's behaviour log-prob log softmax(z / T)[y] (before top-p).

    ``processed_logprobs`` = log softmax over the logits after vLLM's processors (z / T, then top-p masking),
    equal when top_p = 1; ``raw_logprobs`` = log softmax(z)[y], equal when T = 1.

    >>> logprobs_mode(0.7, 1.0), logprobs_mode(1.0, 0.9)
    ('processed_logprobs', 'raw_logprobs')
    """
    if top_p >= 1:
        return "processed_logprobs"
    if temperature == 1:
        return "raw_logprobs"
    raise ValueError(f"rollout.top_p: vLLM reports log softmax(logits / T) before top-p only when top_p=1 or "
                     f"temperature=1; got top_p={top_p}, temperature={temperature}")


def sleep_plan(level: int, available: bool, platform: str) -> tuple[int, str | None]:
    """The sleep level the engine uses, and a log line when the configured one cannot be honoured.

    >>> sleep_plan(1, False, "cpu")[0], sleep_plan(2, True, "cuda"), sleep_plan(0, False, "cpu")
    (0, (2, None), (0, None))
    """
    if level == 0 or available:
        return level, None
    return 0, (f"rollout.vllm.sleep={level}: vLLM has no sleep mode on {platform}, so it keeps its weights and KV "
               f"cache in memory while the trainer updates the policy")


@ROLLOUT_ENGINES.register("vllm")
class VLLMEngine:
    """Samples with vLLM (see the module docstring); ``sleep()`` / ``wake(model)`` bracket each update."""

    CONFIG_FIELDS = ("vllm", "temperature", "top_p")  # RolloutConfig fields `build_rollout_engine` passes

    def __init__(self, model, tokenizer, seed: int = 0, vllm: VllmConfig | None = None,
                 temperature: float = 1.0, top_p: float = 1.0):
        options = vllm or VllmConfig()
        self.tokenizer = tokenizer
        self.pad_id = tokenizer.pad_token_id
        self.eos_ids = eos_ids(model, tokenizer)
        self.generator = torch.Generator().manual_seed(seed)
        self.mode = logprobs_mode(temperature, top_p)
        self._asleep = False
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.llm, self.sleep_level = self._start(model, seed, options)
        self.sync_weights(model)

    def _start(self, model, seed: int, options: VllmConfig):
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"  # colocated: the engine core lives in this process
        from vllm import LLM
        from vllm.platforms import current_platform

        level, note = sleep_plan(options.sleep, current_platform.is_sleep_mode_available(),
                                 current_platform.device_type or "this platform")
        if note:
            log.warning(note)
        model_dir = self._model_dir(model)
        llm = LLM(model=str(model_dir), tokenizer=str(model_dir), seed=seed,
                  dtype=str(next(model.parameters()).dtype).removeprefix("torch."),
                  gpu_memory_utilization=options.gpu_memory_utilization, enforce_eager=options.enforce_eager,
                  enable_sleep_mode=level > 0, max_model_len=options.max_model_len,
                  generation_config="vllm", logprobs_mode=self.mode)
        return llm, level

    def _model_dir(self, model) -> Path:
        """A directory vLLM can build the model from: the one it was loaded from, else a saved copy.

        Its weights are replaced by `sync_weights` right after, so after a resume the engine samples from
        the checkpoint's weights even when the directory holds the original ones."""
        path = Path(getattr(model, "name_or_path", "") or ".")
        if (path / "config.json").is_file() and (Path(self.tokenizer.name_or_path) == path):
            return path
        self._tmp = tempfile.TemporaryDirectory(prefix="srpo-vllm-")
        model.save_pretrained(self._tmp.name)
        self.tokenizer.save_pretrained(self._tmp.name)
        return Path(self._tmp.name)

    # ----------------------------------------------------------------- weights and memory
    @torch.no_grad()
    def sync_weights(self, model) -> None:
        """Copy `model`'s parameters into vLLM's model and drop KV that the old weights computed."""
        weights = [(name, param.detach()) for name, param in model.named_parameters()]
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": weights,
                                                          "is_checkpoint_format": True})
        self.llm.apply_model(_repack_lm_head_on_cpu)
        self.llm.reset_prefix_cache()

    def sleep(self) -> None:
        """Before the update: free vLLM's memory at the planned level (nothing where it cannot sleep)."""
        if self.sleep_level:
            self.llm.sleep(level=self.sleep_level)
            self._asleep = True

    def wake(self, model) -> None:
        """After the update: weights memory back, the updated weights pushed into it, then the KV cache."""
        if self._asleep:
            self.llm.wake_up(tags=["weights"])
        self.sync_weights(model)
        if self._asleep:
            if not self.llm.wake_up(tags=["kv_cache"]):
                raise RuntimeError("vLLM did not fully wake up after the update (weights and KV cache woken)")
            self._asleep = False

    # ----------------------------------------------------------------- sampling
    def generate(self, prompt_ids: list[list[int]], params: SamplingParams) -> RolloutBatch:
        if logprobs_mode(params.temperature, params.top_p) != self.mode:
            raise ValueError(f"this vLLM engine records {self.mode} (built for the run's temperature/top_p); "
                             f"got temperature={params.temperature}, top_p={params.top_p}")
        from vllm import SamplingParams as VllmSampling
        from vllm.inputs import TokensPrompt

        rows = [list(ids) for ids in prompt_ids for _ in range(params.n)]
        base = int(torch.randint(0, 2**31 - 1 - len(rows), (1,), generator=self.generator))
        # ignore_eos + stop_token_ids: stop on exactly srpo's EOS set, not on the tokenizer's idea of it.
        sampling = [VllmSampling(n=1, temperature=params.temperature, top_p=params.top_p,
                                 max_tokens=params.max_new_tokens, logprobs=0, seed=base + row, ignore_eos=True,
                                 stop_token_ids=self.eos_ids, detokenize=False) for row in range(len(rows))]
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=ids) for ids in rows], sampling,
                                    use_tqdm=False)
        return self._batch(rows, [out.outputs[0] for out in outputs], params.n)

    def _batch(self, rows: list[list[int]], completions, n: int) -> RolloutBatch:
        tokens = [list(c.token_ids) for c in completions]
        logps = [[step[token].logprob for token, step in zip(toks, c.logprobs)] for toks, c in zip(tokens, completions)]
        width = max(1, max(len(t) for t in tokens))
        response_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        logprobs = torch.zeros((len(rows), width), dtype=torch.float32)
        for row, (toks, lps) in enumerate(zip(tokens, logps)):
            response_ids[row, :len(toks)] = torch.tensor(toks, dtype=torch.long)
            logprobs[row, :len(lps)] = torch.tensor(lps, dtype=torch.float32)
        # A row vLLM cut short without EOS (max_model_len) must not count its right padding.
        response_mask = response_mask_from_eos(response_ids, self.eos_ids) * _filled(tokens, width)
        response_ids = response_ids.masked_fill(response_mask == 0, self.pad_id)
        prompt_ids, prompt_mask = left_pad(rows, self.pad_id)
        texts = self.tokenizer.batch_decode(response_ids.tolist(), skip_special_tokens=True)
        return RolloutBatch(prompt_ids, prompt_mask, response_ids, response_mask, logprobs * response_mask,
                            torch.arange(len(rows) // n).repeat_interleave(n),
                            truncated_rows(response_ids, response_mask, self.eos_ids), texts)

    # ----------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


def _filled(tokens: list[list[int]], width: int) -> torch.Tensor:
    """[B, width] bool: True where row b has a generated token (the rest is right padding)."""
    lengths = torch.tensor([len(t) for t in tokens])
    return torch.arange(width)[None, :] < lengths[:, None]


def _repack_lm_head_on_cpu(vllm_model) -> None:
    """Runs inside vLLM's worker. The CPU backend multiplies by a prepacked copy of the LM head made at load
    time; a tied head never gets its own name in `reload_weights`, so pack it again from the (reloaded)
    embedding. GPUs keep no such copy for an unquantized head, so this does nothing there."""
    from vllm.platforms import current_platform

    head = getattr(vllm_model, "lm_head", None)
    method = getattr(head, "quant_method", None)
    if current_platform.is_cpu() and method is not None:
        method.process_weights_after_loading(head)
