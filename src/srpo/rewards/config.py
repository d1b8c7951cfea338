"""Reward settings (nested into the main config as ``rewards:``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from srpo.core.configlib import ConfigError, option
from srpo.rewards.format_reward import DEFAULT_TEMPLATE
from srpo.rewards.language import DEFAULT_SCRIPTS
from srpo.rewards.registry import REWARDS


@dataclass(frozen=True)
class RewardComponent:
    """One term of a domain's reward."""

    name: str = option(doc="a registered reward: ``math_accuracy``, ``code_accuracy``, ``format``, "
                           "``language``, or your own (`srpo.rewards.register_reward`).")
    weight: float = option(1.0, "multiplier in the weighted sum. A weight of 0 still computes and logs the "
                                "component.")
    params: dict[str, Any] = option(factory=dict,
                                    doc="keyword arguments for the reward function (e.g. ``{score: fraction}`` for "
                                        "code_accuracy); they override values taken from this config (format "
                                        "template, language settings).")


def _math_default() -> list[RewardComponent]:
    return [RewardComponent("math_accuracy", 1.0), RewardComponent("format", 0.0),
            RewardComponent("language", 0.0)]


def _code_default() -> list[RewardComponent]:
    return [RewardComponent("code_accuracy", 1.0), RewardComponent("language", 0.0)]


@dataclass(frozen=True)
class RewardsConfig:
    """How responses are scored, per domain.

    The reward of a response is ``sum(weight * score)`` over its domain's components (components that
    return None for a problem are skipped); its binary ``correct``, which history resampling, dynamic
    sampling and pass@k read, is the ``correct`` of the domain's deciding component.
    """

    math: list[RewardComponent] = option(factory=_math_default,
                                         doc="components for math problems (default: math_accuracy 1.0, format 0.0, "
                                             "language 0.0).")
    code: list[RewardComponent] = option(factory=_code_default,
                                         doc="components for code problems (default: code_accuracy 1.0, language "
                                             "0.0). An empty list means the domain is not used (no sandbox is "
                                             "started for an empty ``code``).")
    correct_from: dict[str, str] = option(factory=dict,
                                          doc="per domain, the component whose ``correct`` is the response's "
                                              "verdict; a domain left out uses its accuracy reward "
                                              "(``math_accuracy`` / ``code_accuracy``).")
    format_template: str = option(DEFAULT_TEMPLATE, "the format reward's template: ``{name}`` slots are free "
                                                    "non-blank text, tags are fixed, whitespace between parts is "
                                                    "allowed.")
    language_scripts: list[str] = option(factory=lambda: list(DEFAULT_SCRIPTS),
                                         doc="scripts a response may be written in (Unicode script names, lower "
                                             "case: latin, greek, cyrillic, han, japanese, hangul, arabic, ...); "
                                             "letters in any other script count towards the language-mixing share.")
    language_max_share: float = option(0.0, "the language component is ``correct`` while the foreign share is at "
                                            "most this.")
    math_timeout_s: float = option(5.0, "time limit of one math-verify comparison, enforced off the caller's thread "
                                        "in a worker process that is killed when it overruns.")
    math_workers: int = option(2, "math-verify worker processes (started on first use of math-verify; plain-number "
                                  "answers never need them).")

    def components(self, domain: str) -> list[RewardComponent]:
        return {"math": self.math, "code": self.code}[domain]

    def deciding(self, domain: str) -> str:
        """Name of the component whose ``correct`` is the verdict for `domain`."""
        return self.correct_from.get(domain, f"{domain}_accuracy")

    def validate(self) -> None:
        for domain in ("math", "code"):
            names = [c.name for c in self.components(domain)]
            for i, name in enumerate(names):
                REWARDS.check(name, f"{domain}[{i}].name")
            if len(set(names)) != len(names):
                raise ConfigError(f"{domain}: a reward is listed twice ({names})")
            if names and self.deciding(domain) not in names:
                raise ConfigError(f"correct_from.{domain}: {self.deciding(domain)!r} is not among the "
                                  f"{domain} components {names}")
        unknown = set(self.correct_from) - {"math", "code"}
        if unknown:
            raise ConfigError(f"correct_from.{sorted(unknown)[0]}: unknown domain (use math or code)")
        if "{" not in self.format_template:
            raise ConfigError("format_template: needs at least one {slot}, e.g. <answer>{answer}</answer>")
        if not 0.0 <= self.language_max_share <= 1.0:
            raise ConfigError(f"language_max_share: must be in [0, 1], got {self.language_max_share}")
        if self.math_timeout_s <= 0:
            raise ConfigError(f"math_timeout_s: must be > 0, got {self.math_timeout_s}")
        if self.math_workers < 1:
            raise ConfigError(f"math_workers: must be >= 1, got {self.math_workers}")
