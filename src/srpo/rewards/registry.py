"""Reward functions registered by name.

A reward function has the signature ``fn(response: str, problem: Problem, **params) -> RewardResult | None``
and returns None where it does not apply (a math reward on a code problem). `REWARDS` maps each name to a
`RewardEntry`; `register_reward` adds one and may declare

* ``config_defaults``: ``RewardsConfig -> dict`` of parameters taken from the rewards config (the format
  template, the language settings) that a component's own ``params`` can still override;
* ``resources``: names of shared runtime objects the scorer passes in (``"sandbox"``: a `SandboxPool`,
  ``"math_verifier"``: a `MathVerifier`). Called on their own, the functions create a default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from srpo.core.registry import Registry

RewardFn = Callable[..., Any]


@dataclass(frozen=True)
class RewardEntry:
    """A registered reward function and what the scorer passes it besides a component's params."""

    fn: RewardFn
    config_defaults: Callable[[Any], dict[str, Any]] | None = None
    resources: tuple[str, ...] = ()


REWARDS: Registry[RewardEntry] = Registry("reward")


def register_reward(name: str, *, config_defaults: Callable[[Any], dict[str, Any]] | None = None,
                    resources: tuple[str, ...] = ()) -> Callable[[RewardFn], RewardFn]:
    """Decorator: make `fn` available to configs as `name`. Registering a name twice is an error."""

    def deco(fn: RewardFn) -> RewardFn:
        REWARDS.add(name, RewardEntry(fn, config_defaults, tuple(resources)))
        return fn

    return deco
