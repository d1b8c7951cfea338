"""``generate_fn(problems, n) -> n texts per problem``: over a loaded model (`generate_fn_for`, what the
trainer uses for held-out evaluation) or a model path (`make_generate_fn`, the CLIs).

It loads the model offline through `srpo.engines.native.model` (``"toy"`` = the embedded default), formats prompts with
`srpo.engines.native.model.PromptFormatter` (the tokenizer's chat template when it has one, else the plain prompt) and
samples with the KV-cache engine of `srpo.engines.native.rollout`, `batch_size` problems of one domain per
engine call.
"""

from __future__ import annotations

from typing import Callable

from srpo.eval.config import GenerationConfig
from srpo.core.problem import Problem

GenerateFn = Callable[[list[Problem], int], list[list[str]]]


def generate_fn_for(model, tokenizer, formatter, params, *, seed: int, batch_size: int) -> GenerateFn:
    """A sampling function over an already loaded model, with its own seeded engines so that calling it
    never moves any other random stream (the trainer's resume relies on that).

    Each domain is sampled in its own batches by an engine seeded from ``(seed, domain)``, so within a call
    a domain's samples do not depend on the other domains' problems or their order (the trainer's
    evaluator passes all held-out problems in one call).
    """
    from srpo.core.generation import SamplingParams
    from srpo.engines.native.rollout import KVCacheEngine
    from srpo.sampling.mixture import domain_seed

    engines: dict[str, KVCacheEngine] = {}

    def generate(problems: list[Problem], n: int) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in problems]
        call = SamplingParams(n, params.temperature, params.top_p, params.max_new_tokens)
        for domain, rows in _rows_by_domain(problems).items():
            if domain not in engines:
                engines[domain] = KVCacheEngine(model, tokenizer, seed=domain_seed(seed, domain))
            for start in range(0, len(rows), batch_size):
                chunk = rows[start:start + batch_size]
                batch = engines[domain].generate(formatter.ids([problems[i].prompt for i in chunk]), call)
                for j, i in enumerate(chunk):
                    out[i] = batch.texts[j * n:(j + 1) * n]
        return out

    return generate


def _rows_by_domain(problems: list[Problem]) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = {}
    for i, problem in enumerate(problems):
        rows.setdefault(problem.domain, []).append(i)
    return rows


def make_generate_fn(model_path: str, sampling: GenerationConfig, *, device: str = "cpu",
                     prompt_template: str = "chat", system_prompt: str | None = None) -> GenerateFn:
    """Load `model_path` once and return a sampling function over it."""
    from srpo.config.model import ModelConfig
    from srpo.engines.native.model import PromptFormatter, load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(ModelConfig(path=model_path, device=device))
    model.eval()
    formatter = PromptFormatter(tokenizer, prompt_template, system_prompt)
    return generate_fn_for(model, tokenizer, formatter, sampling, seed=sampling.seed,
                           batch_size=sampling.batch_size)
