"""srpo's reward components as TRL reward functions, and the prompts GRPOTrainer sees (no training)."""

from types import SimpleNamespace

import pytest

pytest.importorskip("trl")

from srpo.config import load_config  # noqa: E402
from srpo.core.problem import Problem  # noqa: E402
from srpo.core.results import RewardResult  # noqa: E402
from srpo.engines.trl.rewards import StepScorer  # noqa: E402


class FakeStream:
    def __init__(self):
        self.fed = []

    def on_scored(self, records):
        self.fed.append(records)
        return {"step": len(self.fed)}


class FakeScorer:
    calls = 0

    def score(self, texts, problems):
        FakeScorer.calls += 1
        return [RewardResult(1.0 if "ok" in t else 0.0, "ok" in t,
                             {"components": {"math_accuracy": float("ok" in t), "format": 0.5, "language": None}
                              if p.domain == "math" else {"code_accuracy": 1.0, "language": 0.0}})
                for t, p in zip(texts, problems)]


class CharTokenizer:
    eos_token_id = 0

    def batch_decode(self, ids, skip_special_tokens=True):
        return ["".join(chr(i) for i in row if i) for row in ids]


def test_one_function_per_domain_component_and_one_scoring_per_batch():
    cfg = load_config("srpo", ["engine=trl", "rewards.math=[{name: math_accuracy, weight: 1.0}, "
                                             "{name: format, weight: 0.2}, {name: language, weight: 0.0}]"])
    problems = [Problem(uid="m", domain="math", prompt="1+1", answer="2"), Problem(uid="c", domain="code", prompt="f")]
    stream = FakeStream()
    s = StepScorer(cfg, FakeScorer(), stream, problems, CharTokenizer())
    funcs, weights = s.functions(["math", "code"])
    assert [f.__name__ for f in funcs] == ["code/code_accuracy", "code/language", "math/math_accuracy",
                                           "math/format", "math/language"]
    assert weights == [1.0, 0.0, 1.0, 0.2, 0.0]
    ids = [[ord(c) for c in "ok"], [ord(c) for c in "no"], [ord(c) for c in "x"]]
    batch = dict(prompts=["p"] * 3, completions=["?"] * 3, completion_ids=ids, srpo_uid=["m", "m", "c"],
                 trainer_state=SimpleNamespace(global_step=0))
    FakeScorer.calls = 0
    out = [f(**batch) for f in funcs]
    assert out == [[None, None, 1.0], [None, None, 0.0], [1.0, 0.0, None], [0.5, 0.5, None], [None, None, None]]
    assert FakeScorer.calls == 1 and len(stream.fed) == 1  # scored and fed back once for the batch
    fed = stream.fed[0]
    assert [(r.uid, r.correct, r.reward, r.length, r.text) for r in fed] == [
        ("m", True, 1.0, 2, "ok"), ("m", False, 0.0, 2, "no"), ("c", False, 0.0, 1, "x")]
    funcs[0](**{**batch, "trainer_state": SimpleNamespace(global_step=1)})  # the next step: scored again
    assert FakeScorer.calls == 2


def test_trl_prompt_ids_equal_the_native_engines():
    from srpo.engines.hf_model import PromptFormatter, resolve_model_path
    from srpo.engines.trl.trainer import dataset_prompt, load_trl_tokenizer

    tok = load_trl_tokenizer(str(resolve_model_path("toy")))
    for template, system in (("chat", None), ("chat", "Be brief."), ("plain", None), ("Q: {prompt}\nA:", None)):
        fmt = PromptFormatter(tok, template, system)
        prompt = dataset_prompt(fmt, "What is 2+3?")
        if isinstance(prompt, list):  # what GRPOTrainer does with conversational prompts
            ids = tok.apply_chat_template([prompt], add_generation_prompt=True, tokenize=True,
                                          return_dict=True)["input_ids"][0]
        else:
            ids = tok(text=[prompt])["input_ids"][0]
        assert ids == fmt.ids(["What is 2+3?"])[0], template


def test_truncated_reads_every_eos_id_of_the_model():
    """A completion ending with any of the model's EOS ids (tokenizer + generation config) is not truncated, at
    any length; one ending without one is (the shared `srpo.engines.records.is_truncated`)."""
    cfg = load_config("srpo", ["engine=trl", "rollout.max_new_tokens=3"])
    problems = [Problem(uid="m", domain="math", prompt="1+1", answer="2")]
    stream = FakeStream()
    s = StepScorer(cfg, FakeScorer(), stream, problems, CharTokenizer(), eos_ids=[0, 9])
    ids = [[111, 107, 9], [111, 107, 0], [111, 107, 110], [111, 9]]
    s.score(ids, ["m"] * 4, SimpleNamespace(global_step=0))
    assert [r.truncated for r in stream.fed[0]] == [False, False, True, False]
    assert StepScorer(cfg, FakeScorer(), FakeStream(), problems, CharTokenizer()).eos_ids == [0]
