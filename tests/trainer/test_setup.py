"""What `build_components` builds from a config, checked without running a step."""

import json

from srpo.config import load_config
from srpo.engines.native.setup import build_components

MATH = "toy:math?n=12&levels=2&seed=5"
CODE = "toy:code?n=8&levels=1&seed=5"


def _math_draws(tiny_policy, tmp_path, train: list[str]) -> list[list[str]]:
    """uids of the first batches a run over `train` draws, with the curriculum giving math all the weight."""
    model, tokenizer = tiny_policy
    cfg = load_config("grpo", [f"data.train={json.dumps(train)}", "curriculum.preset=math_only",
                               "run.seed=3", f"run.output_dir={tmp_path}"])
    parts = build_components(cfg, model, tokenizer, scorer=object())
    return [[p.uid for p in parts.sampler.next_batch(5, parts.curriculum.weights(step))] for step in range(1, 7)]


def test_math_prompts_do_not_depend_on_other_domains(tiny_policy, tmp_path):
    """Adding a code source must not reshuffle math: regimes are compared on the same math stream."""
    math_only = _math_draws(tiny_policy, tmp_path, [MATH])
    assert _math_draws(tiny_policy, tmp_path, [MATH, CODE]) == math_only
    assert _math_draws(tiny_policy, tmp_path, [CODE, MATH]) == math_only
