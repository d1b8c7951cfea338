"""Engines over a Hugging Face causal LM: `KVCacheEngine` (own decode loop) and `HFEngine` (``generate``)."""

from __future__ import annotations

import contextlib

import torch

from srpo.core.configlib import ConfigError
from srpo.core.generation import SamplingParams
from srpo.engines.hf_model import cache_kwarg
from srpo.engines.native.rollout.base import (ROLLOUT_ENGINES, RolloutBatch, eos_ids, left_pad,
                                              response_mask_from_eos, truncated_rows)
from srpo.engines.native.rollout.decode import DecodeSpec, decode, static_cache_length


class _EngineBase:
    def __init__(self, model, tokenizer, seed: int = 0):
        self.model = model
        self.tokenizer = tokenizer
        self.pad_id = tokenizer.pad_token_id
        self.eos_ids = eos_ids(model, tokenizer)
        self.device = next(model.parameters()).device
        # On the model's device: sampling draws from it where the probabilities live, with no host copies.
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def _prompts(self, prompt_ids: list[list[int]], n: int):
        rows = [ids for ids in prompt_ids for _ in range(n)]
        ids, mask = left_pad(rows, self.pad_id)
        index = torch.arange(len(prompt_ids)).repeat_interleave(n)
        return ids.to(self.device), mask.to(self.device), index

    def _finish(self, ids, mask, index, response_ids, logprobs) -> RolloutBatch:
        response_mask = response_mask_from_eos(response_ids, self.eos_ids)
        response_ids = response_ids.masked_fill(response_mask == 0, self.pad_id)
        truncated = truncated_rows(response_ids, response_mask, self.eos_ids)
        texts = self.tokenizer.batch_decode(response_ids.tolist(), skip_special_tokens=True)
        return RolloutBatch(ids.cpu(), mask.cpu(), response_ids.cpu(), response_mask.cpu(),
                            (logprobs * response_mask).cpu(), index, truncated, texts)

    def state_dict(self) -> dict:
        # get_state() is a CPU byte tensor on every device, so the checkpoint loads anywhere.
        return {"generator": self.generator.get_state(), "device": self.device.type}

    def load_state_dict(self, state: dict) -> None:
        saved = state.get("device", self.device.type)
        if saved != self.device.type:
            raise ConfigError(f"model.device: the run's rollout RNG was saved on {saved} and this model is on "
                              f"{self.device.type}; {saved} and {self.device.type} generators differ, so a run "
                              f"resumes exactly only on a {saved} device (set model.device={saved})")
        self.generator.set_state(state["generator"])


@ROLLOUT_ENGINES.register("kv_cache")
class KVCacheEngine(_EngineBase):
    """Batched ancestral sampling with a preallocated KV cache, recording behaviour log-probs as it goes
    (`srpo.engines.native.rollout.decode`).

    Each distinct prompt is prefilled once and its keys/values copied to the ``n`` rows that answer it; per
    step it keeps only a [B, V] row of logits, drops finished rows from the batch, and stops as soon as
    every row has produced EOS. ``compile``: None (auto: on for CUDA, off otherwise), True or False; when
    on, the one-token step runs through ``torch.compile(mode="reduce-overhead")`` (CUDA graphs on a GPU) over
    transformers' `StaticCache`, with every shape fixed: finished rows are then not dropped, and a new
    (batch size, cache length) pair compiles once. `compile_options` go to ``torch.compile`` as they are.
    ``sample_temperature`` (``rollout.sample_temperature``, experiments only): when set, every call samples at
    it instead of ``params.temperature`` and records the behaviour log-probs at it too, so they describe the
    sampler truthfully while the trainer's pi_old stays at the configured temperature (a deliberately
    off-policy behaviour policy; docs/algo.md).
    """

    # RolloutConfig fields `build_rollout_engine` passes to the constructor
    CONFIG_FIELDS = ("compile", "sample_temperature")
    # Steps between host reads of the finished count on an accelerator (each read waits for the GPU queue).
    CHECK_EVERY_ACCELERATOR = 16
    # The compiled path rounds the cache length up to a multiple of this, so prompt widths share graphs.
    CACHE_LEN_BUCKET = 256

    def __init__(self, model, tokenizer, seed: int = 0, compile: bool | None = None,
                 compile_options: dict | None = None, sample_temperature: float | None = None):
        super().__init__(model, tokenizer, seed=seed)
        if sample_temperature is not None and not sample_temperature > 0:
            raise ConfigError(f"rollout.sample_temperature: must be > 0 or null, got {sample_temperature!r}")
        self.sample_temperature = sample_temperature
        self.compiled = resolve_compile(compile, self.device)
        self.compile_options = {"mode": "reduce-overhead", **(compile_options or {})}
        self._eos = torch.tensor(self.eos_ids, device=self.device)
        self._step_fn = None
        self._cache, self._cache_key = None, None

    @torch.no_grad()
    def generate(self, prompt_ids: list[list[int]], params: SamplingParams) -> RolloutBatch:
        ids, mask, index = self._prompts(prompt_ids, params.n)
        temperature = params.temperature if self.sample_temperature is None else self.sample_temperature
        spec = DecodeSpec(temperature, params.top_p, self._eos, self.pad_id,
                          check_every=1 if self.device.type == "cpu" else self.CHECK_EVERY_ACCELERATOR,
                          compact=not self.compiled)
        if self.compiled:
            cache = self._static_cache(len(ids), static_cache_length(ids.shape[1], params.max_new_tokens,
                                                                     self.CACHE_LEN_BUCKET))
            out = decode(self.model, ids, mask, params.max_new_tokens, self.generator, spec,
                         step_fn=self._compiled_step(), static_cache=cache)
        else:
            out = decode(self.model, ids, mask, params.max_new_tokens, self.generator, spec)
        return self._finish(ids, mask, index, out.tokens_bt, out.logprobs_bt)

    def _static_cache(self, batch: int, length: int):
        """The StaticCache for this (batch, length), kept for the next call of the same shape so that the CUDA
        graphs recorded over its buffers replay instead of re-recording (it stays allocated between calls)."""
        from transformers import StaticCache

        if self._cache_key != (batch, length):
            self._cache, self._cache_key = None, None  # drop the old buffers before allocating new ones
            self._cache = StaticCache(config=self.model.config, max_cache_len=length)
            self._cache_key = (batch, length)
        return self._cache

    def _compiled_step(self):
        """The one-token forward, compiled once per engine: (input_ids, attention_mask, position_ids, cache)
        -> last-position logits [B, V]."""
        if self._step_fn is None:
            model, cache_kw = self.model, cache_kwarg(self.model)

            def step(input_ids, attention_mask, position_ids, cache):
                return model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                             use_cache=True, **{cache_kw: cache}).logits[:, -1]

            self._step_fn = torch.compile(step, dynamic=False, **self.compile_options)
        return self._step_fn


def resolve_compile(compile: bool | None, device: torch.device) -> bool:
    """``rollout.compile`` to a decision: None (auto) compiles on CUDA only, where CUDA graphs pay off."""
    if compile is not None and not isinstance(compile, bool):
        raise ConfigError(f"rollout.compile: must be true, false or null (auto), got {compile!r}")
    return device.type == "cuda" if compile is None else compile


@ROLLOUT_ENGINES.register("hf")
class HFEngine(_EngineBase):
    """``model.generate`` with sampling; behaviour log-probs come from its returned raw logits.

    It samples from exactly the distribution it records (softmax(logits / T), then top-p): the model's own
    generation_config (repetition_penalty, top_k, min_p, bad words, forced tokens, ...) takes no part.
    HF's sampler draws from torch's global RNG on the model's device, so this engine seeds that from its
    own generator per call and restores it after, staying reproducible (and resumable) without touching
    the caller's RNG streams.
    """

    @torch.no_grad()
    def generate(self, prompt_ids: list[list[int]], params: SamplingParams) -> RolloutBatch:
        ids, mask, index = self._prompts(prompt_ids, params.n)
        config = self._generation_config(params)
        # Drawn on the generator's own device: a CUDA generator cannot fill a CPU tensor.
        seed = int(torch.randint(0, 2**62, (1,), generator=self.generator, device=self.device))
        with _seeded_global_rng(self.device, seed), _only_generation_config(self.model, config):
            out = self.model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
        response_ids = out.sequences[:, ids.shape[1]:]
        logits_btv = torch.stack(out.logits, 1).float() / params.temperature
        logprobs = logits_btv.log_softmax(-1).gather(-1, response_ids[..., None]).squeeze(-1)
        return self._finish(ids, mask, index, response_ids, logprobs)

    def _generation_config(self, params: SamplingParams):
        from transformers import GenerationConfig

        return GenerationConfig(do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0,
                                max_new_tokens=params.max_new_tokens, pad_token_id=self.pad_id,
                                eos_token_id=self.eos_ids, return_dict_in_generate=True, output_logits=True)


@contextlib.contextmanager
def _only_generation_config(model, config):
    """Make `config` the model's generation_config for one call, then put the model's own back.

    ``generate`` fills every field a passed config leaves unset (transformers 5: None; 4.5x: the global
    default) from ``model.generation_config``, so passing `config` alone would still apply e.g. a shipped
    repetition_penalty. With `config` in both places only srpo's values and transformers' neutral
    global defaults remain.
    """
    own = model.generation_config
    model.generation_config = config
    try:
        yield
    finally:
        model.generation_config = own


@contextlib.contextmanager
def _seeded_global_rng(device: torch.device, seed: int):
    """Seed the global RNGs (`generate` samples from the one of `device`) and restore all of them after.

    ``torch.manual_seed`` reseeds the CPU and every accelerator of the device's type, so all of those are
    forked, not just `device`.
    """
    accelerators = [] if device.type == "cpu" else range(torch.get_device_module(device.type).device_count())
    with torch.random.fork_rng(devices=accelerators, device_type=device.type):
        torch.manual_seed(seed)
        yield
