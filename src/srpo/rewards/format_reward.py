"""Format reward: the response follows a template such as ``<think>...</think><answer>...</answer>``."""

from __future__ import annotations

import re
from functools import lru_cache

from srpo.core.problem import Problem
from srpo.core.results import RewardResult
from srpo.rewards.registry import register_reward

DEFAULT_TEMPLATE = "<think>{think}</think><answer>{answer}</answer>"
_SLOT = re.compile(r"\{(\w+)\}")
_TAG = re.compile(r"</?\w+>")


@lru_cache(maxsize=64)
def compile_template(template: str) -> re.Pattern:
    """Turn a template into a regex that must match the whole response.

    ``{name}`` slots match any text that contains none of the template's own tags (so a second
    ``<answer>`` block is a format error); whitespace is allowed around every fixed part; a slot may not be
    empty or blank.

    >>> bool(compile_template(DEFAULT_TEMPLATE).fullmatch("<think>a</think>\\n<answer>5</answer>\\n"))
    True
    """
    tags = sorted(set(_TAG.findall(template)), key=len, reverse=True)
    forbidden = "|".join(re.escape(t) for t in tags) or r"(?!)"
    pattern, pos = [r"\s*"], 0
    for m in _SLOT.finditer(template):
        pattern.append(_fixed(template[pos:m.start()]))
        free = rf"(?:(?!{forbidden})[\s\S])*?"
        pattern.append(rf"(?P<{m.group(1)}>{free}(?!{forbidden})\S{free})\s*")
        pos = m.end()
    pattern.append(_fixed(template[pos:]))
    return re.compile("".join(pattern))


def _fixed(text: str) -> str:
    """A literal stretch of the template, whitespace-tolerant between its tags."""
    pieces = [p.strip() for p in re.split(r"(</?\w+>)", text) if p.strip()]
    return "".join(re.escape(p) + r"\s*" for p in pieces)


@register_reward("format", config_defaults=lambda cfg: {"template": cfg.format_template})
def format_reward(response: str, problem: Problem, *, template: str = DEFAULT_TEMPLATE) -> RewardResult:
    """1.0 and correct if the whole response matches `template`, else 0.0.

    >>> p = Problem.create("math", "1+1?", answer="2")
    >>> format_reward("<think>1+1=2</think><answer>2</answer>", p).score
    1.0
    >>> format_reward("<answer>2</answer>", p).score
    0.0
    """
    m = compile_template(template).fullmatch(response)
    return RewardResult(1.0 if m else 0.0, m is not None, {"template": template, "matched": m is not None})
