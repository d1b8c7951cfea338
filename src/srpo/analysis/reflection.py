"""Reflective behaviour in responses: keyword families counted with word-boundary, case-insensitive matching.

Three families follow the SRPO paper's analysis of emergent self-reflection: *recheck* (the model goes
back over its work), *hesitation* (it doubts a step) and *exploration* (it tries another route). The
lists are heuristics, so the config can replace or extend them, or add families.

Matching rules, chosen so that counts mean what a reader expects:

- case-insensitive; a keyword matches only as whole words: ``wait`` does not match ``awaited``;
- words of a phrase may be separated by any run of whitespace (``let me   check`` across a line break);
- a hyphen in a keyword also matches a space or nothing: ``double-check`` matches ``double check`` and
  ``doublecheck``;
- within one family, occurrences are counted without overlap, longest keyword first, so ``but wait`` in a
  family that also lists ``wait`` counts once. Families are counted independently of each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from srpo.core.configlib import ConfigError, option

DEFAULT_FAMILIES: dict[str, list[str]] = {
    "recheck": [
        "recheck", "re-check", "double-check", "check again", "let me check", "let me verify",
        "verify again", "re-examine", "re-evaluate", "reconsider", "rethink", "go back", "look back",
    ],
    "hesitation": [
        "wait", "hmm", "hold on", "maybe", "perhaps", "not sure", "actually", "seems wrong", "I wonder",
    ],
    "exploration": [
        "alternatively", "another approach", "another way", "another method", "different approach",
        "let me try", "try another", "instead", "what if", "on the other hand",
    ],
}


def _default_families() -> dict[str, list[str]]:
    return {name: list(words) for name, words in DEFAULT_FAMILIES.items()}


@dataclass(frozen=True)
class AnalysisConfig:
    """What the per-step rollout analysis looks for."""

    families: dict[str, list[str]] = option(factory=_default_families,
                                            doc="reflective keyword families: name -> keywords/phrases. A response "
                                                "\"shows\" a family when at least one keyword occurs (matching rules "
                                                "in this module's docstring). Defaults: ``recheck``, ``hesitation``, "
                                                "``exploration`` (see `DEFAULT_FAMILIES`). Names become metric keys "
                                                "(``reflect/<domain>/<family>_frac``), so they must be identifiers.")
    enabled: bool = option(True, "compute the ``reflect/*`` and ``code_in_math/*`` metrics each step (the cost is a "
                                 "regex scan of every response).")

    def validate(self) -> None:
        if not self.families:
            raise ConfigError("families: at least one family is needed")
        for name, words in self.families.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name == "any":
                raise ConfigError(f"families.{name}: family names must be identifiers other than 'any'")
            if not words or any(not isinstance(w, str) or not w.strip() for w in words):
                raise ConfigError(f"families.{name}: needs a non-empty list of non-empty keywords")


def keyword_pattern(keyword: str) -> str:
    """Regex source for one keyword: whole words, flexible whitespace, hyphen optional.

    >>> bool(re.search(keyword_pattern("double-check"), "let me double check", re.I))
    True
    >>> bool(re.search(keyword_pattern("wait"), "it awaited", re.I))
    False
    """
    words = keyword.strip().split()
    parts = [r"[-\s]?".join(re.escape(piece) for piece in word.split("-")) for word in words]
    return r"(?<!\w)" + r"\s+".join(parts) + r"(?!\w)"


@lru_cache(maxsize=64)
def _compile(keywords: tuple[str, ...]) -> re.Pattern[str]:
    # Longest first: regex alternation takes the first branch that matches, not the longest.
    ordered = sorted(set(keywords), key=len, reverse=True)
    return re.compile("|".join(keyword_pattern(k) for k in ordered), re.IGNORECASE)


def detect_reflection(text: str, cfg: AnalysisConfig | None = None) -> dict[str, int]:
    """Count keyword occurrences per family in `text`.

    >>> detect_reflection("Wait, let me check: 2+2=4. Alternatively, count.")
    {'recheck': 1, 'hesitation': 1, 'exploration': 1}
    >>> detect_reflection("The task awaited; I checked it.")
    {'recheck': 0, 'hesitation': 0, 'exploration': 0}
    >>> detect_reflection("HMM... but wait", AnalysisConfig(families={"doubt": ["hmm", "but wait", "wait"]}))
    {'doubt': 2}
    """
    cfg = cfg or AnalysisConfig()
    return {name: len(_compile(tuple(words)).findall(text)) for name, words in cfg.families.items()}
