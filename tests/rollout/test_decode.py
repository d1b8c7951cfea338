"""The kv_cache engine's decode loop: inverse-CDF sampling against float64 references, the preallocated and
static caches against a loop without any cache and against the loop they replaced (bench/rollout_speed.py),
compaction, host-check cadence and the compile switch."""

import copy
import importlib.util
from pathlib import Path

import pytest
import torch
from transformers import StaticCache

from srpo.core.configlib import ConfigError
from srpo.core.generation import SamplingParams
from srpo.engines.native.rollout import KVCacheEngine
from srpo.engines.native.rollout import decode as decode_mod
from srpo.engines.native.rollout.base import left_pad
from srpo.engines.native.rollout.decode import (DecodeSpec, PreallocatedCache, decode, draw_noise, sample_tokens,
                                                static_cache_length, top_p_filter)
from srpo.engines.native.rollout.hf import resolve_compile


@pytest.mark.parametrize("temperature,top_p", [(1.0, 1.0), (0.7, 1.0), (1.3, 0.8), (1.0, 0.3)])
def test_sample_tokens_draws_what_torch_multinomial_draws(temperature, top_p):
    """Same generator state, same tokens as ``torch.multinomial(q, 1)`` (the earlier loop's sampler); log-probs
    are the float64 temperature softmax of the raw logits."""
    logits = torch.randn(64, 37, generator=torch.Generator().manual_seed(0)) * 2
    noise = draw_noise(64, 37, torch.Generator().manual_seed(9), torch.device("cpu"))
    token, logp = sample_tokens(logits, noise, temperature, top_p)
    q = top_p_filter(logits / temperature, top_p).softmax(-1)
    assert torch.equal(token, torch.multinomial(q, 1, generator=torch.Generator().manual_seed(9)).squeeze(-1))
    ref = (logits.double() / temperature).log_softmax(-1).gather(-1, token[:, None]).squeeze(-1)
    torch.testing.assert_close(logp.double(), ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize("top_p", [1.0, 0.6])
def test_sampled_frequencies_follow_the_truncated_softmax(top_p):
    """Total variation between 20000 draws and q = softmax(top_p_filter(z)) (float64) is within sampling noise;
    tokens outside the nucleus never appear."""
    logits = torch.randn(1, 23, generator=torch.Generator().manual_seed(1)).expand(20000, -1)
    noise = draw_noise(20000, 23, torch.Generator().manual_seed(2), torch.device("cpu"))
    token, _ = sample_tokens(logits, noise, 0.9, top_p)
    q = top_p_filter(logits[0].double() / 0.9, top_p).softmax(-1)
    share = torch.bincount(token, minlength=23).double() / 20000
    assert 0.5 * (share - q).abs().sum() < 0.02
    assert (share[q == 0] == 0).all()


def test_zero_probability_tokens_are_never_drawn():
    logits = torch.tensor([[0.0, 2.0, float("-inf"), float("-inf")]]).expand(3, -1)
    noise = torch.tensor([[5.0, 5.0, 1e-30, 1e-30]]).expand(3, -1)
    token, logp = sample_tokens(logits, noise, 1.0, 1.0)
    assert set(token.tolist()) <= {0, 1} and torch.isfinite(logp).all()


def _float64_policy(tiny_policy):
    model, tokenizer = tiny_policy
    return copy.deepcopy(model).double(), tokenizer


def _batch(tokenizer, n=4):
    texts = ["Q: 1+2=?", "Q: 12*3-4=?", "7", "Q: (8-3)*2=?"]
    ids, mask = left_pad([tokenizer(t)["input_ids"] for t in texts for _ in range(n)], tokenizer.pad_token_id)
    return ids, mask


def _spec(tokenizer, eos_ids, **kw):
    return DecodeSpec(temperature=1.0, top_p=1.0, eos=torch.tensor(eos_ids), pad_id=tokenizer.pad_token_id, **kw)


def _no_cache_reference(model, ids, mask, steps, seed, spec):
    """Recompute the whole sequence every step (no cache, no compaction), drawing the same noise."""
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.full((len(ids), steps), spec.pad_id)
    logps = torch.zeros((len(ids), steps), dtype=torch.float32)
    done = torch.zeros(len(ids), dtype=torch.bool)
    seq, seq_mask = ids, mask
    for t in range(steps):
        pos = (seq_mask.cumsum(-1) - 1).clamp(min=0)
        with torch.no_grad():
            logits = model(input_ids=seq, attention_mask=seq_mask, position_ids=pos).logits[:, -1]
        noise = draw_noise(len(ids), logits.shape[-1], generator, torch.device("cpu"))
        token, logp = sample_tokens(logits, noise, spec.temperature, spec.top_p)
        tokens[:, t], logps[:, t] = token.masked_fill(done, spec.pad_id), logp.masked_fill(done, 0.0)
        token = tokens[:, t]
        done |= torch.isin(token, spec.eos)
        if done.all():
            return tokens[:, :t + 1], logps[:, :t + 1]
        seq = torch.cat([seq, token[:, None]], 1)
        seq_mask = torch.cat([seq_mask, torch.ones_like(token[:, None])], 1)
    return tokens, logps


def _static_step(model):
    """The compiled path's step function, uncompiled: same StaticCache and fixed shapes, eager execution."""
    def step(input_ids, attention_mask, position_ids, cache):
        return model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                     cache=cache, use_cache=True).logits[:, -1]
    return step


# EOS = several frequent characters, so rows end early at different steps and compaction happens.
EOS_CHARS = "eaont 1"


@pytest.mark.parametrize("static", [False, True])
def test_decode_matches_a_loop_without_cache(tiny_policy, static):
    model, tokenizer = _float64_policy(tiny_policy)
    ids, mask = _batch(tokenizer)
    eos = tokenizer.convert_tokens_to_ids(list(EOS_CHARS))
    spec = _spec(tokenizer, eos, compact=not static)
    cache = StaticCache(config=model.config, max_cache_len=static_cache_length(ids.shape[1], 30, 64))
    out = decode(model, ids, mask, 30, torch.Generator().manual_seed(2), spec,
                 step_fn=_static_step(model) if static else None, static_cache=cache if static else None)
    ref_tokens, ref_logps = _no_cache_reference(model, ids, mask, 30, 2, spec)
    assert torch.equal(out.tokens_bt, ref_tokens)
    torch.testing.assert_close(out.logprobs_bt, ref_logps, atol=1e-6, rtol=0)


def test_compaction_and_check_cadence_change_no_sample(tiny_policy, monkeypatch):
    model, tokenizer = _float64_policy(tiny_policy)
    ids, mask = _batch(tokenizer, n=6)
    eos = tokenizer.convert_tokens_to_ids(list(EOS_CHARS))
    selected = []
    original = PreallocatedCache.batch_select_indices
    monkeypatch.setattr(PreallocatedCache, "batch_select_indices",
                        lambda self, idx: (selected.append(len(idx)), original(self, idx))[1])
    plain = decode(model, ids, mask, 40, torch.Generator().manual_seed(3), _spec(tokenizer, eos, compact=False))
    assert selected == []
    for check_every in (1, 3):
        spec = _spec(tokenizer, eos, compact=True, check_every=check_every)
        out = decode(model, ids, mask, 40, torch.Generator().manual_seed(3), spec)
        assert torch.equal(out.tokens_bt, plain.tokens_bt)
        torch.testing.assert_close(out.logprobs_bt, plain.logprobs_bt, atol=1e-9, rtol=0)
    assert selected and all(b < len(ids) for b in selected), "rows were dropped along the way"


def test_preallocated_cache_is_written_in_place(tiny_policy, monkeypatch):
    """Every step writes into the buffers allocated at prefill: no per-step reallocation or concatenation."""
    model, tokenizer = tiny_policy
    ids, mask = _batch(tokenizer)
    pointers = {}
    original = decode_mod._PreallocatedLayer.update

    def update(self, key_states, value_states, *args, **kwargs):
        keys, values = original(self, key_states, value_states, *args, **kwargs)
        if self.max_len > ids.shape[1]:  # the decode cache, not the prompt-width one that prefill expands from
            pointers.setdefault(id(self), set()).add((self.keys.data_ptr(), keys.data_ptr(), values.data_ptr()))
        return keys, values

    monkeypatch.setattr(decode_mod._PreallocatedLayer, "update", update)
    spec = _spec(tokenizer, [tokenizer.eos_token_id], compact=False)
    out = decode(model, ids, mask, 12, torch.Generator().manual_seed(4), spec)
    assert out.tokens_bt.shape[1] > 2
    assert len(pointers) == model.config.num_hidden_layers
    assert all(len(p) == 1 for p in pointers.values())


def test_resolve_compile_is_auto_on_cuda_only():
    assert resolve_compile(None, torch.device("cuda", 0)) is True
    assert resolve_compile(None, torch.device("cpu")) is False
    assert resolve_compile(True, torch.device("cpu")) is True
    assert resolve_compile(False, torch.device("cuda")) is False
    with pytest.raises(ConfigError, match="rollout.compile: must be true, false or null"):
        resolve_compile("on", torch.device("cpu"))


def test_compiled_engine_samples_what_the_eager_engine_samples(tiny_policy):
    """compile=True runs the StaticCache step through torch.compile (dynamo, eager backend on CPU): one graph
    for every step, and no recompilation for a later call whose prompts are wider (the cache length is bucketed)."""
    from torch._dynamo.utils import counters

    model, tokenizer = tiny_policy
    prompts = [tokenizer("Q: 1+2=?")["input_ids"], tokenizer("Q: 12*3-4=?")["input_ids"]]
    params = SamplingParams(n=3, temperature=0.8, top_p=0.9, max_new_tokens=10)
    eager = KVCacheEngine(model, tokenizer, seed=5, compile=False)
    engine = KVCacheEngine(model, tokenizer, seed=5, compile=True,
                           compile_options={"backend": "eager", "mode": None, "fullgraph": True})
    counters.clear()
    compiled = engine.generate(prompts, params)
    expected = eager.generate(prompts, params)
    assert compiled.texts == expected.texts
    torch.testing.assert_close(compiled.logprobs_bt, expected.logprobs_bt, atol=2e-5, rtol=1e-4)
    assert counters["stats"]["unique_graphs"] == 1
    cache = engine._cache
    wider = [tokenizer("Q: 1+2+3+4+5=?")["input_ids"], prompts[1]]
    with torch._dynamo.config.patch(error_on_recompile=True):
        assert engine.generate(wider, params).texts == eager.generate(wider, params).texts
    assert engine._cache is cache, "same (batch, bucketed length): the static cache is reused, not reallocated"


def test_rollout_compile_reaches_the_kv_cache_engine_and_is_refused_elsewhere(tiny_policy):
    from srpo.config import load_config
    from srpo.engines.native.rollout import HFEngine, build_rollout_engine

    model, tokenizer = tiny_policy
    assert load_config("grpo", []).rollout.compile is None
    engine = build_rollout_engine(load_config("grpo", ["rollout.compile=true"]).rollout, model, tokenizer, seed=0)
    assert isinstance(engine, KVCacheEngine) and engine.compiled
    assert not build_rollout_engine(load_config("grpo", []).rollout, model, tokenizer, seed=0).compiled
    hf = build_rollout_engine(load_config("grpo", ["rollout.engine=hf"]).rollout, model, tokenizer, seed=0)
    assert isinstance(hf, HFEngine)
    with pytest.raises(ConfigError, match=r"rollout\.compile: true applies to the kv_cache engine, not 'hf'"):
        load_config("grpo", ["rollout.engine=hf", "rollout.compile=true"])


def _old_loop_engine():
    path = Path(__file__).resolve().parents[2] / "bench" / "rollout_speed.py"
    spec = importlib.util.spec_from_file_location("rollout_speed", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.OldLoopEngine


@pytest.mark.parametrize("top_p", [1.0, 0.9])
def test_engine_samples_what_the_replaced_loop_sampled(tiny_policy, top_p):
    """Same seed, same tokens as srpo's earlier decode loop (torch.cat cache, multinomial), call after call."""
    model, tokenizer = tiny_policy
    prompts = [tokenizer(t)["input_ids"] for t in ("Q: 1+2=?", "Q: 12*3-4=?", "Q: 7=?")]
    params = SamplingParams(n=5, temperature=0.8, top_p=top_p, max_new_tokens=24)
    old, new = _old_loop_engine()(model, tokenizer, seed=4), KVCacheEngine(model, tokenizer, seed=4)
    for _ in range(2):
        expected, got = old.generate(prompts, params), new.generate(prompts, params)
        assert torch.equal(got.response_ids_bt, expected.response_ids_bt)
        assert torch.equal(got.response_mask_bt, expected.response_mask_bt)
        torch.testing.assert_close(got.logprobs_bt, expected.logprobs_bt, atol=2e-5, rtol=1e-4)


@pytest.mark.slow
def test_inductor_compiled_step_matches_eager(tiny_policy):
    """The real compiler (inductor, C++ on CPU; ~1 min here) over the StaticCache step gives the eager samples."""
    model, tokenizer = tiny_policy
    prompts = [tokenizer("Q: 1+2=?")["input_ids"], tokenizer("Q: 12*3-4=?")["input_ids"]]
    params = SamplingParams(n=3, temperature=0.8, top_p=0.9, max_new_tokens=10)
    expected = KVCacheEngine(model, tokenizer, seed=5, compile=False).generate(prompts, params)
    engine = KVCacheEngine(model, tokenizer, seed=5, compile=True, compile_options={"mode": "default"})
    got = engine.generate(prompts, params)
    assert got.texts == expected.texts
    torch.testing.assert_close(got.logprobs_bt, expected.logprobs_bt, atol=2e-5, rtol=1e-4)
