"""Language-mixing penalty: the share of letters written in scripts other than the expected ones.

A letter's script is read from its Unicode name (``LATIN SMALL LETTER A``, ``CJK UNIFIED IDEOGRAPH-4E00``,
``CYRILLIC ...``). Digits, punctuation, symbols and whitespace are not letters and never count. Letter-like
mathematical symbols (``DOUBLE-STRUCK CAPITAL R``, ``MATHEMATICAL ITALIC SMALL X``, ``PLANCK CONSTANT``)
belong to every script. Greek is expected by default because mathematics uses it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from srpo.core.problem import Problem
from srpo.core.results import RewardResult
from srpo.rewards.registry import register_reward

DEFAULT_SCRIPTS = ("latin", "greek")
_MARKUP = re.compile(r"</?\w+>")
# First word of a Unicode name -> script, where it differs from the lower-cased word itself.
_ALIASES = {"cjk": "han", "ideographic": "han", "hangul": "hangul", "hiragana": "japanese",
            "katakana": "japanese"}
_COMMON = {"mathematical", "double-struck", "script", "black-letter", "planck", "angstrom", "ohm",
           "kelvin", "modifier", "superscript", "subscript", "information", "numero", "estimated",
           "turned", "reversed", "small", "latin"}


@lru_cache(maxsize=65536)
def script_of(ch: str) -> str:
    """The script of one letter (``"common"`` for letter-like math symbols).

    >>> script_of("a"), script_of("π"), script_of("的"), script_of("ℝ"), script_of("Ж")
    ('latin', 'greek', 'han', 'common', 'cyrillic')
    """
    words = unicodedata.name(ch, "UNKNOWN").lower().split()
    if words[0] in ("fullwidth", "halfwidth") and len(words) > 1:
        words = words[1:]
    first = words[0]
    if first == "latin" or (first in _COMMON and "latin" in words):
        return "latin"
    if first in _COMMON:
        return "common"
    return _ALIASES.get(first, first)


def foreign_share(text: str, scripts: tuple[str, ...] = DEFAULT_SCRIPTS) -> tuple[float, dict[str, int]]:
    """Share of letters outside `scripts`, and the letter count per script.

    >>> foreign_share("four 答, 5")[0]
    0.2
    """
    if text.isascii():
        letters = sum(c.isalpha() for c in text)
        return 0.0, ({"latin": letters} if letters else {})
    counts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha():
            s = script_of(ch)
            counts[s] = counts.get(s, 0) + 1
    total = sum(counts.values())
    allowed = set(scripts) | {"common"}
    foreign = sum(n for s, n in counts.items() if s not in allowed)
    return (foreign / total if total else 0.0), counts


@register_reward("language", config_defaults=lambda cfg: {"scripts": tuple(cfg.language_scripts),
                                                           "max_share": cfg.language_max_share})
def language_penalty(response: str, problem: Problem, *, scripts: tuple[str, ...] = DEFAULT_SCRIPTS,
                     max_share: float = 0.0) -> RewardResult:
    """Score ``-share`` of letters (outside ``<tag>`` markup) in scripts other than `scripts` (0 for a clean response); correct if share <= max_share.

    >>> p = Problem.create("math", "1+1?", answer="2")
    >>> language_penalty("one plus one is two", p).score
    0.0
    >>> language_penalty("nine lette 加", p).score
    -0.1
    """
    prose = _MARKUP.sub(" ", response)  # <think>/<answer> tags are markup, not language
    share, counts = foreign_share(prose, tuple(s.lower() for s in scripts))
    return RewardResult(0.0 - share, share <= max_share, {"foreign_share": share, "letters_by_script": counts})
