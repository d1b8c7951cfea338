"""``generate_fn(problems, n) -> n texts per problem`` as a config's ``eval`` and ``model`` sections say: over a
loaded model (`generate_fn_for`, what the trainer uses for held-out evaluation) or the config's model path
(`make_generate_fn`, the CLIs). Both go through `generate_fn_for`, so training's evaluation and the CLIs
format prompts (``model.prompt_template``, ``model.system_prompt``) and sample (`TrainConfig.resolved_eval`)
the same way.

It loads the model offline through `srpo.engines.hf_model` (``"toy"`` = the embedded default) and samples
with the KV-cache engine of `srpo.engines.native.rollout`, ``eval.batch_size`` problems of one domain per
engine call.
"""

from __future__ import annotations

from srpo.config import TrainConfig
from srpo.core.generation import GenerateFn
from srpo.core.problem import Problem


def generate_fn_for(model, tokenizer, cfg: TrainConfig, *, seed: int) -> GenerateFn:
    """A sampling function over an already loaded model, with its own seeded engines so that calling it
    never moves any other random stream (the trainer's resume relies on that).

    Each domain is sampled in its own batches by an engine seeded from ``(seed, domain)``, so within a call
    a domain's samples do not depend on the other domains' problems or their order, and callers that
    hand over `srpo.eval.evaluate.domain_batches` one by one get the same samples as one call with all.
    """
    from srpo.core.generation import SamplingParams
    from srpo.engines.hf_model import PromptFormatter
    from srpo.engines.native.rollout import KVCacheEngine
    from srpo.eval.evaluate import domain_batches
    from srpo.sampling.mixture import domain_seed

    ev = cfg.resolved_eval()
    formatter = PromptFormatter(tokenizer, cfg.model.prompt_template, cfg.model.system_prompt)
    engines: dict[str, KVCacheEngine] = {}

    def generate(problems: list[Problem], n: int) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in problems]
        call = SamplingParams(n, ev.temperature, ev.top_p, ev.max_new_tokens)
        for rows in domain_batches(problems, ev.batch_size):
            domain = problems[rows[0]].domain
            if domain not in engines:
                engines[domain] = KVCacheEngine(model, tokenizer, seed=domain_seed(seed, domain),
                                                compile=cfg.rollout.compile)
            batch = engines[domain].generate(formatter.ids([problems[i].prompt for i in rows]), call)
            for j, i in enumerate(rows):
                out[i] = batch.texts[j * n:(j + 1) * n]
        return out

    return generate


def make_generate_fn(cfg: TrainConfig) -> GenerateFn:
    """Load ``cfg.model`` once and return a sampling function over it, seeded with ``eval.seed``."""
    from srpo.engines.hf_model import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(cfg.model, train=False)  # LoRA adapters merged: faster sampling
    model.eval()
    return generate_fn_for(model, tokenizer, cfg, seed=cfg.eval.seed)
