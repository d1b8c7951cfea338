"""A comparison spec: named variants of one base config, several seeds, one rollout budget.

``srpo compare SPEC`` reads a YAML file (or a shipped spec by name, ``srpo/config/regimes/*.yaml``)::

    name: premise                 # labels the report
    base: demo                    # preset name or config file every variant starts from
    budget: 19200                 # rollouts per run (see below)
    seeds: [0, 1, 2]
    target: {domain: math, pass@1: 0.5}   # "rollouts to target" in the table
    overrides: ["curriculum.preset=math_only", "run.eval_every=25"]   # applied to every variant
    variants:                     # name -> its own key=value overrides, applied after the common ones
      uniform: [sampling.name=uniform]
      history_resampling: [sampling.name=history_resampling]

One rollout budget. Every run gets ``run.max_rollouts = budget`` and ``run.total_steps = ceil(budget /
(prompts_per_step * group_size))``, so a run that generates one batch per step spends exactly the budget
in that many steps. A rollout is one generated response; dynamic sampling's extra rounds (the groups it
generates and then discards) count like any other, so it runs fewer optimizer steps for the same budget.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from srpo.config.tree import TrainConfig, load_config
from srpo.core.configlib import ConfigError, load_yaml

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
KEYS = {"name", "description", "base", "budget", "seeds", "target", "overrides", "variants"}


@dataclass(frozen=True)
class Target:
    """Held-out pass@1 of `domain` that "rollouts to target" waits for."""

    domain: str
    pass_at_1: float


@dataclass(frozen=True)
class CompareSpec:
    name: str
    base: str
    budget: int
    seeds: list[int]
    variants: dict[str, list[str]]
    overrides: list[str] = field(default_factory=list)
    target: Target | None = None
    description: str = ""

    def run_name(self, variant: str, seed: int) -> str:
        return f"{variant}-s{seed}"

    def config(self, variant: str, seed: int, run_dir: Path) -> TrainConfig:
        """The resolved config of one run (validated; errors name the variant and the field)."""
        try:
            cfg = load_config(self.base, self.overrides + self.variants[variant])
            steps = math.ceil(self.budget / (cfg.rollout.prompts_per_step * cfg.rollout.group_size))
            fixed = [f"run.seed={seed}", f"run.output_dir={run_dir}", f"run.name={self.run_name(variant, seed)}",
                     f"run.max_rollouts={self.budget}", f"run.total_steps={steps}", "run.progress=false"]
            return load_config(self.base, self.overrides + self.variants[variant] + fixed)
        except ConfigError as err:
            raise ConfigError(f"variants.{variant}: {err}") from None


def spec_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("srpo.config.regimes").iterdir() if p.name.endswith(".yaml"))


def load_spec(name_or_path: str | Path) -> CompareSpec:
    """Read and check a spec file, or a shipped spec by name; errors say ``<file>: <field>: ...``."""
    path = Path(name_or_path)
    if not path.exists():
        if str(name_or_path) not in spec_names():
            raise ConfigError(f"{name_or_path}: no such spec file or shipped spec (shipped: {', '.join(spec_names())})")
        path = Path(str(resources.files("srpo.config.regimes") / f"{name_or_path}.yaml"))
    try:
        spec = parse_spec(load_yaml(path))
        for variant in spec.variants:  # every variant must resolve before anything runs
            spec.config(variant, spec.seeds[0], Path("runs") / spec.name)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    return spec


def parse_spec(data: Any) -> CompareSpec:
    """A `CompareSpec` from the parsed YAML mapping (see the module docstring)."""
    if not isinstance(data, dict):
        raise ConfigError("a spec must be a mapping with name, base, budget, seeds and variants")
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key (known: {', '.join(sorted(KEYS))})")
    name = _name(data.get("name"), "name")
    budget = data.get("budget")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ConfigError(f"budget: must be a positive int (rollouts per run), got {budget!r}")
    seeds = data.get("seeds")
    if not isinstance(seeds, list) or not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0
                                                       for s in seeds) or len(set(seeds)) < len(seeds):
        raise ConfigError(f"seeds: must be a non-empty list of distinct non-negative ints, got {seeds!r}")
    base = data.get("base")
    if not isinstance(base, str) or not base:
        raise ConfigError(f"base: must name a preset or config file, got {base!r}")
    variants = data.get("variants")
    if not isinstance(variants, dict) or not variants:
        raise ConfigError("variants: must map at least one variant name to its list of key=value overrides")
    return CompareSpec(name=name, base=base, budget=budget, seeds=list(seeds),
                       variants={_name(v, f"variants.{v}"): _overrides(o, f"variants.{v}") for v, o in variants.items()},
                       overrides=_overrides(data.get("overrides", []), "overrides"),
                       target=_target(data.get("target")), description=str(data.get("description", "")))


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise ConfigError(f"{where}: must be a name of letters, digits, '_', '-' or '.', got {value!r}")
    return value


def _overrides(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(o, str) and "=" in o for o in value):
        raise ConfigError(f"{where}: must be a list of key=value strings, got {value!r}")
    return list(value)


def _target(value: Any) -> Target | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"domain", "pass@1"}:
        raise ConfigError(f"target: must be {{domain: <domain>, pass@1: <number in (0, 1]>}}, got {value!r}")
    p = value["pass@1"]
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
        raise ConfigError(f"target.pass@1: must be a number in (0, 1], got {p!r}")
    return Target(str(value["domain"]), float(p))
