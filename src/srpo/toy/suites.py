"""``toy:<domain>?n=N&levels=1-4&seed=S&split=train|heldout``: the built-in suites as a data source.

`load_suite` spreads `n` problems evenly over the requested levels (the first levels take the remainder)
and concatenates the per-level streams of `srpo.toy.tasks`; ``split=heldout`` draws from the held-out
side of the split, which no training stream ever returns. Importing this module registers the ``toy``
prefix in `srpo.data.sources.DATA_SOURCES`; the package's ``srpo.data_sources`` entry point names it, so
the data loaders find it without importing the toy package.
"""

from __future__ import annotations

from typing import Any

from srpo.core.problem import Problem
from srpo.data.rows import DataError
from srpo.data.sources import DATA_SOURCES
from srpo.toy import tasks


def parse_levels(levels: int | str | list[int], domain: str) -> list[int]:
    """``"1-4"`` -> [1, 2, 3, 4]; ``"2,4"`` -> [2, 4]; ``3`` -> [3].

    >>> parse_levels("1-3", "math"), parse_levels("2,4", "code"), parse_levels(5, "math")
    ([1, 2, 3], [2, 4], [5])
    """
    if isinstance(levels, int):
        out = [levels]
    elif isinstance(levels, list):
        out = [int(x) for x in levels]
    else:
        out = []
        for part in str(levels).split(","):
            lo, _, hi = part.partition("-")
            out.extend(range(int(lo), int(hi or lo) + 1))
    bad = [x for x in out if not 1 <= x <= tasks.MAX_LEVEL[domain]]
    if not out or bad:
        raise DataError(f"toy:{domain}: levels must lie in 1..{tasks.MAX_LEVEL[domain]}, got {levels!r}")
    return out


def load_suite(name: str, n: int = 1000, levels: int | str | list[int] = "1-4", seed: int = 0,
               split: str = "train") -> list[Problem]:
    """Problems of the built-in `name` suite (``math`` or ``code``); see the module docstring."""
    if name not in tasks.MAX_LEVEL:
        raise DataError(f"toy:{name}: unknown suite (known: {', '.join(sorted(tasks.MAX_LEVEL))})")
    if split not in ("train", "heldout"):
        raise DataError(f"toy:{name}: split must be 'train' or 'heldout', got {split!r}")
    wanted = parse_levels(levels, name)
    out: list[Problem] = []
    for i, level in enumerate(wanted):
        count = n // len(wanted) + (1 if i < n % len(wanted) else 0)
        if split == "heldout":
            out.extend(tasks.heldout(name, count, level, seed))
        else:
            out.extend(tasks.problems(name, count, level, seed))
    return out


@DATA_SOURCES.register("toy")
def toy_source(name: str, params: dict[str, Any]) -> list[Problem]:
    """``toy:<suite>?k=v...`` -> `load_suite` (the data-source signature)."""
    try:
        return load_suite(name, **params)
    except DataError:
        raise
    except (TypeError, ValueError) as err:  # an unknown key, or more problems than a level holds
        raise DataError(f"toy:{name}: {err} (keys: n, levels, seed, split)") from None
