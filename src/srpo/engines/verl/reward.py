"""srpo's reward as verl's ``reward.custom_reward_function``: math, sandboxed code, format and language.

verl calls ``compute_score(data_source, solution_str, ground_truth, extra_info, **reward_kwargs)`` once per
response, from the threads of its reward workers (``reward.num_workers`` Ray processes). The row becomes a
srpo `Problem` through srpo's own reader of verl's layout (`srpo.data.formats`): the domain is
``extra_info.domain`` (written by `srpo verl-recipe`), else ``code`` when the gold is a tests object (srpo's
tests, or APPS-style inputs/outputs) and ``math`` otherwise, so verl data sets made elsewhere route too.
The components and weights are those of the srpo config's ``rewards`` section, as in every srpo engine.

Returns ``{"score": float, "acc": float}``: ``score`` is srpo's weighted reward (verl's dapo reward manager adds
the soft overlong penalty on top), ``acc`` is 1.0 or 0.0, the deciding verifier's binary verdict, which
srpo's trainer hook feeds to history resampling (never the shaped score). Every call returns the same keys,
as verl's reward managers stack them into arrays.

One `RewardScorer` (and so one sandbox pool and one set of math-verify workers) per process and config,
created on first use and closed at interpreter exit. The config is the frozen srpo YAML that
``reward_kwargs.srpo_config`` names (or the ``SRPO_CONFIG`` environment variable; without either, srpo's
default rewards). Nothing here imports verl.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

from srpo.core.problem import Problem

CONFIG_ENV = "SRPO_CONFIG"
PLACEHOLDER_PROMPT = "(prompt not passed to verl's reward function)"

_LOCK = threading.Lock()
_SCORERS: dict[str, Any] = {}  # config path ("" = defaults) -> RewardScorer


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                  srpo_config: str | None = None, **_: Any) -> dict[str, float]:
    """verl's reward-function signature; see the module docstring."""
    problem = problem_from_verl(data_source, ground_truth, extra_info)
    result = scorer(srpo_config).score([solution_str], [problem])[0]
    return {"score": float(result.score), "acc": 1.0 if result.correct else 0.0}


def problem_from_verl(data_source: str, ground_truth: Any, extra_info: dict | None) -> Problem:
    """The srpo `Problem` a verl reward call describes (the prompt itself is not passed to reward functions)."""
    from srpo.data.formats import row_to_problem

    info = dict(extra_info or {})
    row: dict[str, Any] = {"data_source": data_source or "verl",
                           "prompt": [{"role": "user", "content": PLACEHOLDER_PROMPT}],
                           "reward_model": {"style": "rule", "ground_truth": _plain(ground_truth)},
                           "extra_info": {k: v for k, v in info.items() if k in ("uid", "srpo", "index")}}
    if info.get("domain"):
        row["ability"] = info["domain"]
    return row_to_problem(row, f"verl row {info.get('index', '?')} ({data_source})", format="verl")


def _plain(value: Any) -> Any:
    """numpy scalars and arrays (verl's non-tensor batch) as plain Python values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def scorer(config_path: str | None = None):
    """This process's scorer for `config_path` (created once; closed at exit)."""
    key = config_path or os.environ.get(CONFIG_ENV, "")
    with _LOCK:
        found = _SCORERS.get(key)
        if found is None:
            found = _SCORERS[key] = _build(key)
            if len(_SCORERS) == 1:
                atexit.register(close_all)
        return found


def _build(config_path: str):
    from srpo.rewards import RewardScorer

    if not config_path:
        return RewardScorer()
    from srpo.config import load_config

    cfg = load_config(config_path)
    return RewardScorer(cfg.rewards, cfg.sandbox)


def close_all() -> None:
    """Close every scorer of this process (sandbox pool, math-verify workers)."""
    with _LOCK:
        scorers = list(_SCORERS.values())
        _SCORERS.clear()
    for s in scorers:
        s.close()
