"""The kv_cache engine's decode loop: inverse-CDF sampling against float64 references, the preallocated and
static caches against a loop without any cache, compaction, host-check cadence and the compile switch."""

import copy

import pytest
import torch

from srpo.core.configlib import ConfigError
from srpo.core.generation import SamplingParams
from srpo.engines.native.rollout import KVCacheEngine
from srpo.engines.native.rollout import decode as decode_mod
from srpo.engines.native.rollout.base import left_pad
from srpo.engines.native.rollout.decode import DecodeSpec, PreallocatedCache, decode, sample_tokens
from srpo.engines.native.rollout.hf import resolve_compile, top_p_filter


def _reference_token(logits_v: torch.Tensor, u: float, temperature: float, top_p: float) -> int:
    """Float64 loop: order tokens (by decreasing probability under top-p), keep the nucleus, walk the CDF."""
    probs = (logits_v.double() / temperature).softmax(-1).tolist()
    order = sorted(range(len(probs)), key=lambda i: -probs[i]) if top_p < 1 else list(range(len(probs)))
    kept, mass = [], 0.0
    for i in order:
        if top_p < 1 and mass >= top_p:
            break
        kept.append(i)
        mass += probs[i]
    total = sum(probs[i] for i in kept)
    cdf = 0.0
    for i in kept:
        cdf += probs[i]
        if cdf > u * total:
            return i
    return kept[-1]


@pytest.mark.parametrize("temperature,top_p", [(1.0, 1.0), (0.7, 1.0), (1.3, 0.8), (1.0, 0.3)])
def test_sample_tokens_matches_float64_reference(temperature, top_p):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 37, generator=gen) * 2
    u = torch.rand(64, generator=gen)
    token, logp = sample_tokens(logits, u, temperature, top_p)
    assert token.tolist() == [_reference_token(logits[r], float(u[r]), temperature, top_p) for r in range(64)]
    ref = (logits.double() / temperature).log_softmax(-1).gather(-1, token[:, None]).squeeze(-1)
    torch.testing.assert_close(logp.double(), ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize("top_p", [1.0, 0.6])
def test_stratified_uniforms_reproduce_the_sampling_distribution(top_p):
    """With u on an even grid of N points each token's share is its probability within 1/N (no sampling noise)."""
    logits = torch.randn(1, 23, generator=torch.Generator().manual_seed(1))
    grid = (torch.arange(4000) + 0.5) / 4000
    token, _ = sample_tokens(logits.expand(4000, -1), grid, 0.9, top_p)
    q = top_p_filter(logits[0].double() / 0.9, top_p).softmax(-1)
    share = torch.bincount(token, minlength=23).double() / 4000
    torch.testing.assert_close(share, q, atol=1.5 / 4000, rtol=0)


def test_zero_probability_tokens_are_never_drawn():
    logits = torch.tensor([[0.0, 2.0, float("-inf"), float("-inf")]]).expand(3, -1)
    u = torch.tensor([0.0, 0.5, 1.0 - 2**-24])
    token, logp = sample_tokens(logits, u, 1.0, 1.0)
    assert set(token.tolist()) <= {0, 1} and torch.isfinite(logp).all()
    token, _ = sample_tokens(torch.tensor([[5.0, 0.0, -1.0]]), torch.tensor([1.0 - 2**-24]), 1e-4, 0.5)
    assert token.tolist() == [0]


def _float64_policy(tiny_policy):
    model, tokenizer = tiny_policy
    return copy.deepcopy(model).double(), tokenizer


def _batch(tokenizer, n=4):
    texts = ["Q: 1+2=?", "Q: 12*3-4=?", "7", "Q: (8-3)*2=?"]
    ids, mask = left_pad([tokenizer(t)["input_ids"] for t in texts for _ in range(n)], tokenizer.pad_token_id)
    return ids, mask


def _spec(tokenizer, eos_ids, **kw):
    return DecodeSpec(temperature=1.0, top_p=1.0, eos=torch.tensor(eos_ids), pad_id=tokenizer.pad_token_id, **kw)


def _no_cache_reference(model, ids, mask, u_bt, spec):
    """Recompute the whole sequence every step (no cache, no compaction), sampling with the same uniforms."""
    tokens = torch.full(u_bt.shape, spec.pad_id)
    logps = torch.zeros(u_bt.shape, dtype=torch.float32)
    done = torch.zeros(len(ids), dtype=torch.bool)
    seq, seq_mask = ids, mask
    for t in range(u_bt.shape[1]):
        pos = (seq_mask.cumsum(-1) - 1).clamp(min=0)
        with torch.no_grad():
            logits = model(input_ids=seq, attention_mask=seq_mask, position_ids=pos).logits[:, -1]
        token, logp = sample_tokens(logits, u_bt[:, t], spec.temperature, spec.top_p)
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
    u_bt = torch.rand(len(ids), 30, generator=torch.Generator().manual_seed(2))
    spec = _spec(tokenizer, eos, compact=not static, cache_bucket=64 if static else 1)
    out = decode(model, ids, mask, u_bt, spec, step_fn=_static_step(model) if static else None)
    ref_tokens, ref_logps = _no_cache_reference(model, ids, mask, u_bt, spec)
    assert torch.equal(out.tokens_bt, ref_tokens)
    torch.testing.assert_close(out.logprobs_bt, ref_logps, atol=1e-6, rtol=0)


def test_compaction_and_check_cadence_change_no_sample(tiny_policy, monkeypatch):
    model, tokenizer = _float64_policy(tiny_policy)
    ids, mask = _batch(tokenizer, n=6)
    eos = tokenizer.convert_tokens_to_ids(list(EOS_CHARS))
    u_bt = torch.rand(len(ids), 40, generator=torch.Generator().manual_seed(3))
    selected = []
    original = PreallocatedCache.batch_select_indices
    monkeypatch.setattr(PreallocatedCache, "batch_select_indices",
                        lambda self, idx: (selected.append(len(idx)), original(self, idx))[1])
    plain = decode(model, ids, mask, u_bt, _spec(tokenizer, eos, compact=False))
    assert selected == []
    for check_every in (1, 3):
        out = decode(model, ids, mask, u_bt, _spec(tokenizer, eos, compact=True, check_every=check_every))
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
        pointers.setdefault(id(self), set()).add((self.keys.data_ptr(), keys.data_ptr(), values.data_ptr()))
        return keys, values

    monkeypatch.setattr(decode_mod._PreallocatedLayer, "update", update)
    u_bt = torch.rand(len(ids), 12, generator=torch.Generator().manual_seed(4))
    out = decode(model, ids, mask, u_bt, _spec(tokenizer, [tokenizer.eos_token_id], compact=False))
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
    """compile=on runs the StaticCache step through torch.compile (dynamo, eager backend on CPU): one graph
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
    wider = [tokenizer("Q: 1+2+3+4+5=?")["input_ids"], prompts[1]]
    with torch._dynamo.config.patch(error_on_recompile=True):
        assert engine.generate(wider, params).texts == eager.generate(wider, params).texts


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
