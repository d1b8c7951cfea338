"""Reward functions registered by name.

A reward function has the signature ``fn(response: str, problem: Problem, **params) -> RewardResult | None``
and returns None where it does not apply (a math reward on a code problem). Registration may declare

* ``config_defaults``: ``RewardsConfig -> dict`` of parameters taken from the rewards config (the format
  template, the language settings) that a component's own ``params`` can still override;
* ``resources``: names of shared runtime objects the scorer passes in (``"sandbox"``: a `SandboxPool`,
  ``"math_verifier"``: a `MathVerifier`). Called on their own, the functions create a default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

RewardFn = Callable[..., Any]


@dataclass(frozen=True)
class RewardEntry:
    name: str
    fn: RewardFn
    config_defaults: Callable[[Any], dict[str, Any]] | None = None
    resources: tuple[str, ...] = ()


_REGISTRY: dict[str, RewardEntry] = {}


def register_reward(name: str, *, config_defaults: Callable[[Any], dict[str, Any]] | None = None,
                    resources: tuple[str, ...] = ()) -> Callable[[RewardFn], RewardFn]:
    """Decorator: make `fn` available to configs as `name`. Registering a name twice is an error."""

    def deco(fn: RewardFn) -> RewardFn:
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise ValueError(f"reward {name!r} is already registered (by {_REGISTRY[name].fn.__module__})")
        _REGISTRY[name] = RewardEntry(name, fn, config_defaults, tuple(resources))
        return fn

    return deco


def get_reward(name: str) -> RewardFn:
    """The reward function registered as `name`."""
    return get_entry(name).fn


def get_entry(name: str) -> RewardEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown reward {name!r}; registered: {', '.join(sorted(_REGISTRY))}") from None


def available_rewards() -> list[str]:
    return sorted(_REGISTRY)
