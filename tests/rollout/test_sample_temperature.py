"""``rollout.sample_temperature``: the kv_cache engine samples (and records mu) at another temperature than the
trainer's, a behaviour policy deliberately off the training policy for measuring rollout correction."""

import pytest
import torch

from srpo.config import load_config
from srpo.config.model import RolloutConfig
from srpo.core.configlib import ConfigError
from srpo.core.generation import SamplingParams
from srpo.engines.native.rollout import KVCacheEngine, build_rollout_engine
from test_engine import _assert_behaviour_logprobs


def _prompts(tokenizer):
    return [tokenizer("Q: 1+2=?")["input_ids"], tokenizer("Q: 12*3-4=?")["input_ids"]]


def test_samples_and_records_at_the_sample_temperature(tiny_policy):
    """The same tokens and log-probs as an engine asked for that temperature: mu describes the sampler."""
    model, tokenizer = tiny_policy
    params = SamplingParams(n=4, temperature=1.0, max_new_tokens=10)
    skewed = KVCacheEngine(model, tokenizer, seed=7, sample_temperature=1.7).generate(_prompts(tokenizer), params)
    asked = KVCacheEngine(model, tokenizer, seed=7).generate(
        _prompts(tokenizer), SamplingParams(n=4, temperature=1.7, max_new_tokens=10))
    assert torch.equal(skewed.response_ids_bt, asked.response_ids_bt)
    assert torch.equal(skewed.logprobs_bt, asked.logprobs_bt)
    _assert_behaviour_logprobs(model, skewed, 1.7)
    # ... and not the trainer's temperature: log-probs at T=1 of the same tokens differ (pi_old != mu).
    with pytest.raises(AssertionError):
        _assert_behaviour_logprobs(model, skewed, 1.0)


def test_null_changes_nothing(tiny_policy):
    model, tokenizer = tiny_policy
    params = SamplingParams(n=3, temperature=0.8, max_new_tokens=8)
    plain = KVCacheEngine(model, tokenizer, seed=2).generate(_prompts(tokenizer), params)
    null = KVCacheEngine(model, tokenizer, seed=2, sample_temperature=None).generate(_prompts(tokenizer), params)
    assert torch.equal(plain.response_ids_bt, null.response_ids_bt) and torch.equal(plain.logprobs_bt, null.logprobs_bt)


def test_the_trainer_builds_the_engine_with_it(tiny_policy):
    model, tokenizer = tiny_policy
    engine = build_rollout_engine(RolloutConfig(sample_temperature=1.5), model, tokenizer, seed=0)
    assert engine.sample_temperature == 1.5
    assert build_rollout_engine(RolloutConfig(), model, tokenizer, seed=0).sample_temperature is None


@pytest.mark.parametrize("overrides,message", [
    (["rollout.sample_temperature=0"], "rollout.sample_temperature: must be > 0 or null"),
    (["rollout.sample_temperature=1.5", "rollout.engine=hf"],
     "rollout.sample_temperature: only the kv_cache engine samples at a temperature other than rollout.temperature, "
     "not 'hf'"),
])
def test_refused_at_load(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config("demo", overrides)


def test_refused_by_the_engine_itself(tiny_policy):
    model, tokenizer = tiny_policy
    with pytest.raises(ConfigError, match="rollout.sample_temperature: must be > 0"):
        KVCacheEngine(model, tokenizer, sample_temperature=-1.0)


def test_held_out_evaluation_keeps_the_configured_temperature(tiny_policy):
    """Only training rollouts are skewed: the evaluation sampler ignores rollout.sample_temperature."""
    from srpo.core.problem import Problem
    from srpo.engines.native.generation import generate_fn_for

    model, tokenizer = tiny_policy
    problems = [Problem(uid="p0", domain="math", prompt="Q: 1+2=?", answer="3")]
    texts = [generate_fn_for(model, tokenizer, load_config("demo", overrides + ["model.prompt_template=plain"]),
                             seed=1)(problems, 4)
             for overrides in ([], ["rollout.sample_temperature=3.0"], ["eval.temperature=3.0"])]
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]  # the control: a temperature the evaluation does read changes the samples
