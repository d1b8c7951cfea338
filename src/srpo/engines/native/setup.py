"""Builds the parts a `Trainer` wires together from a `TrainConfig` (data, sampler, curriculum, verifiers,
actor, evaluation, analysis, loggers), so the trainer itself only holds the loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from srpo.engines.native.actor import Actor
from srpo.config import TrainConfig
from srpo.core.configlib import ConfigError
from srpo.core.problem import Problem
from srpo.engines.native.experience import Experience
from srpo.engines.native.rollout import ROLLOUT_ENGINES
from srpo.engines.data import data_fingerprint, load_run_data
from srpo.engines.hf_model import load_model
from srpo.tracking import require_backends


@dataclass
class Components:
    scorer: Any
    sampler: Any
    curriculum: Any
    heldout: list[Problem]
    actor: Actor
    evaluator: Callable[..., dict[str, float]]
    analysis: "RolloutAnalysis"
    data_fingerprint: dict[str, dict]


def check_config(cfg: TrainConfig) -> None:
    """Refuse the options this engine cannot honour (the config tree cannot know the engine's choices)."""
    if cfg.engine != "native":
        raise ConfigError(f"engine: {cfg.engine!r} runs through its own trainer (srpo train dispatches on it), "
                          "not the native Trainer")
    ROLLOUT_ENGINES.check(cfg.rollout.engine, "rollout.engine")
    require_backends(cfg.logging.backends)


def build_components(cfg: TrainConfig, model, tokenizer, scorer=None) -> Components:
    from srpo.curriculum import Curriculum
    from srpo.rewards import RewardScorer
    from srpo.sampling import DomainMixture

    train, heldout = load_run_data(cfg)
    # Each domain's sampler is seeded from (run.seed, domain name), so adding a domain never reshuffles another.
    sampler = DomainMixture.from_problems(train, cfg.run.seed, cfg.sampling)
    curriculum = Curriculum(cfg.curriculum, domain_sizes=sampler.domain_sizes())
    curriculum.require_domains(sampler.domains)
    scorer = scorer or RewardScorer(cfg.rewards, cfg.sandbox)
    return Components(
        scorer=scorer,
        sampler=sampler,
        curriculum=curriculum,
        heldout=heldout,
        actor=_build_actor(cfg, model),
        evaluator=make_evaluator(cfg, model, tokenizer, scorer),
        analysis=RolloutAnalysis(cfg),
        data_fingerprint=data_fingerprint(train, heldout),
    )


def _build_actor(cfg: TrainConfig, model) -> Actor:
    ref_model = None
    # With LoRA the reference is `model` with its adapters disabled (the Actor's default): no second copy.
    if cfg.algorithm.kl_coef > 0 and not cfg.model.lora.enabled:
        # From cfg.model.path, never a copy of `model`: after a resume `model` holds the checkpoint's weights.
        ref_model = load_model(cfg.model).eval().requires_grad_(False)
    optimizer_steps = cfg.run.total_steps * cfg.updates_per_step()
    return Actor(model, cfg.algorithm, cfg.optim, temperature=cfg.rollout.temperature,
                 norm_len=cfg.algorithm.norm_len or cfg.rollout.max_new_tokens,
                 total_optimizer_steps=optimizer_steps, autocast=cfg.model.autocast_bf16, ref_model=ref_model)


def make_evaluator(cfg: TrainConfig, model, tokenizer, scorer):
    """A function ``(problems, seed) -> flat eval metrics`` using `srpo.eval.evaluate` as ``cfg.eval`` says."""
    from srpo.eval import evaluate
    from srpo.engines.native.generation import generate_fn_for

    def run(problems: list[Problem], seed: int) -> dict[str, float]:
        generate = generate_fn_for(model, tokenizer, cfg, seed=seed)
        result = evaluate(problems, generate, scorer.score, n=cfg.eval.samples, ks=cfg.eval.ks)
        return result.flat_metrics(prefix="eval")

    return run


class RolloutAnalysis:
    """Per-step behaviour metrics (reflection, code in math) and the rows offered to the sample log."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg

    def metrics(self, exp: Experience) -> dict[str, float]:
        from srpo.analysis import rollout_metrics

        if not len(exp):
            return {}
        return rollout_metrics(exp.texts, exp.domains, exp.response_lengths_b.tolist(), self.cfg.analysis)

    @staticmethod
    def sample_rows(step: int, stage: int, exp: Experience) -> list[dict[str, Any]]:
        from srpo.analysis import sample_rows

        return sample_rows(step, stage, [p.uid for p in exp.problems], exp.domains, exp.texts,
                           exp.rewards_b.tolist(), exp.corrects_b.tolist(), exp.response_lengths_b.tolist())
