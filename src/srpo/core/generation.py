"""What a generation request asks for (`SamplingParams`, checked by `check_sampling`), and the signature of a
function that samples responses for problems (`GenerateFn`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from srpo.core.configlib import ConfigError
from srpo.core.problem import Problem

# (problems, n) -> n response texts per problem. Evaluation and labelling take one; engines build them.
GenerateFn = Callable[[list[Problem], int], list[list[str]]]


def check_sampling(temperature: float | None, top_p: float | None, max_new_tokens: int | None) -> None:
    """Reject sampling parameters no engine can use (raises `ConfigError` naming the field); None = unset."""
    if temperature is not None and temperature <= 0:
        raise ConfigError(f"temperature: must be > 0, got {temperature}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ConfigError(f"top_p: must be in (0, 1], got {top_p}")
    if max_new_tokens is not None and max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens: must be >= 1, got {max_new_tokens}")


@dataclass
class SamplingParams:
    """n: samples per prompt; temperature, top_p: the sampling distribution; max_new_tokens: response cap."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 64
