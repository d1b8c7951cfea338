"""Builds the parts a `Trainer` wires together from a `TrainConfig` (data, sampler, curriculum, verifiers,
actor, evaluation, loggers), so the trainer itself only holds the loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from srpo.engines.native.actor import Actor
from srpo.config import TrainConfig
from srpo.core.configlib import ConfigError
from srpo.core.problem import Problem
from srpo.engines.native.rollout import ROLLOUT_ENGINES
from srpo.engines.capabilities import HONOURED, REFUSED, Capability
from srpo.engines.data import data_fingerprint, load_run_data
from srpo.engines.hf_model import load_model
from srpo.tracking import require_backends


@dataclass
class Components:
    scorer: Any
    train: list[Problem]
    sampler: Any
    curriculum: Any
    heldout: list[Problem]
    actor: Actor
    evaluator: Callable[..., dict[str, float]]
    data_fingerprint: dict[str, dict]


# The reference engine honours the whole tree; these rows are the options only it reads (docs/engines.md).
CAPABILITIES: tuple[Capability, ...] = (
    Capability("rollout.engine", HONOURED, note="srpo's generators: kv_cache, hf or vllm (an unregistered name is "
               "refused by the registry)"),
    Capability("rollout.vllm", HONOURED, note="rollout.engine=vllm"),
    Capability("rollout.compile", HONOURED, note="the kv_cache generator's compiled decode step"),
    Capability("algorithm.micro_batch_tokens", HONOURED, note="token-budget micro-batches"),
    Capability("algorithm.share_prompts", HONOURED, note="same loss and gradients up to float rounding"),
    Capability("algorithm.fused_head", HONOURED, note="same loss and gradients up to float rounding"),
    Capability("rollout.max_staleness", HONOURED, note="k > 0: a rollout thread generates steps t+1..t+k from its own "
               "copy of the weights while step t updates (kv_cache rollouts; docs/async.md)"),
    Capability("rollout.max_staleness=1", REFUSED, note="with rollout.engine hf (torch's process-wide RNG) or vllm "
               "(same-process weight pushes)", example=("rollout.max_staleness=1", "rollout.engine=hf")),
)


def check_config(cfg: TrainConfig) -> None:
    """Refuse the options this engine cannot honour (the config tree cannot know the engine's choices)."""
    if cfg.engine != "native":
        raise ConfigError(f"engine: {cfg.engine!r} runs through its own trainer (srpo train dispatches on it), "
                          "not the native Trainer")
    ROLLOUT_ENGINES.check(cfg.rollout.engine, "rollout.engine")
    if cfg.rollout.max_staleness > 0 and cfg.rollout.engine != "kv_cache":
        why = ("hf samples from torch's process-wide RNG, which the trainer's thread shares" if cfg.rollout.engine
               == "hf" else "vllm takes the trainer's weights after every update in the same process; on a GPU the "
               "asynchronous design needs vLLM on its own device, docs/async.md")
        raise ConfigError(f"rollout.max_staleness: asynchronous rollouts ({cfg.rollout.max_staleness}) run the "
                          f"kv_cache engine on a second thread with its own copy of the weights; "
                          f"rollout.engine={cfg.rollout.engine} cannot ({why}): use rollout.engine=kv_cache or "
                          "rollout.max_staleness=0")
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
        train=train,
        sampler=sampler,
        curriculum=curriculum,
        heldout=heldout,
        actor=_build_actor(cfg, model),
        evaluator=make_evaluator(cfg, model, tokenizer, scorer),
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
