"""Training curriculum: a list of stages, each with a domain mix and a rule for moving to the next.

SRPO trains in two stages in one run: challenging math first (long, reflective reasoning), then code next
to math, optionally ramped in. The switch happens at a set step or when the stage's reward plateaus. The
presets reproduce the four regimes the paper compares: ``staged`` (SRPO), ``mixed``, ``math_only``,
``code_only``; ``custom`` uses an explicit ``stages`` list.

Call order: the trainer calls ``weights(step)`` before drawing the batch of `step`, and
``observe(step, reward_mean)`` after scoring it. A switch decided by ``observe(step, .)`` takes effect
at ``step + 1``. The stage is a pure function of the config and the sequence of observations, so a
checkpointed `state_dict` resumes exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from srpo.core.configlib import ConfigError, option
from srpo.core.problem import DOMAINS

PRESETS = ("staged", "mixed", "math_only", "code_only", "custom")
STATE_VERSION = 1


def _check_weights(weights: dict[str, float] | None, name: str) -> None:
    if not weights:
        raise ConfigError(f"{name}: must name at least one domain with a weight > 0")
    for d, w in weights.items():
        if d not in DOMAINS:
            raise ConfigError(f"{name}.{d}: unknown domain (known: {', '.join(DOMAINS)})")
        if not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0):
            raise ConfigError(f"{name}.{d}: must be a finite number >= 0, got {w!r}")
    if sum(weights.values()) <= 0:
        raise ConfigError(f"{name}: weights sum to zero")


def normalized(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {d: w / total for d, w in weights.items()}


@dataclass(frozen=True)
class StageConfig:
    """One curriculum stage."""

    name: str = option("stage", "label in logs and switch records.")
    weights: dict[str, float] = option(factory=lambda: {"math": 1.0},
                                       doc="domain -> weight (``math``/``code``; >= 0, normalised, positive sum) of "
                                           "the stage's batches.")
    until_step: int | None = option(None, "the next stage starts at this (global, 0-based) step, i.e. this stage "
                                          "covers steps ``< until_step``. None: no step rule.")
    plateau_window: int | None = option(None, "plateau window W: once the stage has 2W observations, switch "
                                              "when ``mean(last W) - mean(the W before) < plateau_min_delta``. None: "
                                              "no plateau rule.")
    plateau_min_delta: float = option(0.0, "the improvement (in reward units) below which the reward counts as "
                                           "plateaued.")
    ramp_steps: int = option(0, "ramp length R: over the first R steps of the stage the weights move linearly "
                                "from `ramp_from` to `weights` (both normalised): at stage step k, "
                                "``(1 - k/R) * from + k/R * to``. 0: no ramp.")
    ramp_from: dict[str, float] | None = option(None, "start of the ramp; None = the previous stage's weights "
                                                      "(required for the first stage).")

    @property
    def has_switch(self) -> bool:
        return self.until_step is not None or self.plateau_window is not None

    def validate(self) -> None:
        _check_weights(self.weights, "weights")
        if self.until_step is not None and self.until_step < 1:
            raise ConfigError(f"until_step: must be >= 1, got {self.until_step}")
        if self.plateau_window is not None and self.plateau_window < 1:
            raise ConfigError(f"plateau_window: must be >= 1, got {self.plateau_window}")
        if not math.isfinite(self.plateau_min_delta):
            raise ConfigError(f"plateau_min_delta: must be finite, got {self.plateau_min_delta}")
        if self.ramp_steps < 0:
            raise ConfigError(f"ramp_steps: must be >= 0, got {self.ramp_steps}")
        if self.ramp_from is not None:
            _check_weights(self.ramp_from, "ramp_from")


@dataclass(frozen=True)
class CurriculumConfig:
    """The curriculum: a named preset or an explicit list of stages."""

    preset: str = option("mixed", "the regime. ``staged`` (SRPO: stage \"math\" = math only, then stage "
                                  "\"math+code\"), ``mixed`` (one stage, math and code from the start), "
                                  "``math_only``, ``code_only`` (one stage each), or ``custom`` (use `stages`).")
    stages: list[StageConfig] = option(factory=list,
                                       doc="explicit stages (preset custom), in order; every stage but the last "
                                           "needs a switch rule (``until_step`` and/or ``plateau_window``) and the "
                                           "last must have none. Must be empty for other presets.")
    code_share: float | None = option(None, "code weight of ``mixed`` and of stage 2 of ``staged`` (math gets the "
                                            "rest). None: in proportion to the number of problems per domain "
                                            "(``Curriculum(domain_sizes=...)``), i.e. as if the two sets were "
                                            "pooled.")
    switch_step: int | None = option(None, "``staged``: the step at which stage 2 starts (None: no step rule).")
    plateau_window: int | None = option(20, "``staged``: plateau window of stage 1 (None: no plateau rule). At least "
                                            "one of `switch_step` / `plateau_window` must be set for ``staged``.")
    plateau_min_delta: float = option(0.01, "``staged``: plateau threshold of stage 1 (reward units).")
    ramp_steps: int = option(0, "``staged``: steps over which the code share of stage 2 ramps up from 0 (0: at "
                                "once).")
    filter_solved_at_stage_start: bool = option(
        False, "Skywork-OR1's stage-start filtering: at the first step of every stage after the first, the prompts "
               "whose every rollout in the previous stage was correct are retired for the rest of the run (any "
               "sampler; at most down to the sampler's floor). Uses the verdicts already recorded: no extra "
               "rollouts. Off: SRPO as published.")

    def validate(self) -> None:
        if self.preset not in PRESETS:
            raise ConfigError(f"preset: unknown preset {self.preset!r} (known: {', '.join(PRESETS)})")
        if self.code_share is not None and not (0.0 <= self.code_share <= 1.0):
            raise ConfigError(f"code_share: must be in [0, 1], got {self.code_share}")
        if self.preset == "custom":
            validate_stages(self.stages)
            return
        if self.stages:
            raise ConfigError(f"stages: given, but preset is {self.preset!r}; set preset: custom to use them")
        if self.switch_step is not None and self.switch_step < 1:
            raise ConfigError(f"switch_step: must be >= 1, got {self.switch_step}")
        if self.plateau_window is not None and self.plateau_window < 1:
            raise ConfigError(f"plateau_window: must be >= 1, got {self.plateau_window}")
        if self.ramp_steps < 0:
            raise ConfigError(f"ramp_steps: must be >= 0, got {self.ramp_steps}")
        if self.preset == "staged" and self.switch_step is None and self.plateau_window is None:
            raise ConfigError("switch_step: the staged preset needs switch_step or plateau_window to leave stage 1")
        validate_stages(preset_stages(self, {"math": 1, "code": 1}))

    def resolve(self, domain_sizes: dict[str, int] | None = None) -> list[StageConfig]:
        """The stage list (presets expanded; code_share None needs `domain_sizes`)."""
        self.validate()
        return list(self.stages) if self.preset == "custom" else preset_stages(self, domain_sizes)


def validate_stages(stages: list[StageConfig]) -> None:
    """Checks across stages; messages name ``stages[i].field``."""
    if not stages:
        raise ConfigError("stages: empty; a custom curriculum needs at least one stage")
    last_until = 0
    for i, st in enumerate(stages):
        try:
            st.validate()
        except ConfigError as err:
            raise ConfigError(f"stages[{i}].{err}") from None
        last = i == len(stages) - 1
        if last and st.has_switch:
            raise ConfigError(f"stages[{i}].until_step: the last stage has nothing to switch to; "
                              "remove until_step / plateau_window")
        if not last and not st.has_switch:
            raise ConfigError(f"stages[{i}].until_step: stage {st.name!r} needs until_step or plateau_window")
        if st.until_step is not None:
            if st.until_step <= last_until:
                raise ConfigError(f"stages[{i}].until_step: must be > {last_until} (earlier stage), "
                                  f"got {st.until_step}")
            last_until = st.until_step
        if i == 0 and st.ramp_steps > 0 and st.ramp_from is None:
            raise ConfigError("stages[0].ramp_from: the first stage has no previous weights to ramp from")


def preset_stages(cfg: CurriculumConfig, domain_sizes: dict[str, int] | None) -> list[StageConfig]:
    """The stages of a named preset."""
    if cfg.preset == "math_only":
        return [StageConfig("math_only", {"math": 1.0})]
    if cfg.preset == "code_only":
        return [StageConfig("code_only", {"code": 1.0})]
    mix = _mix(cfg.code_share, domain_sizes)
    if cfg.preset == "mixed":
        return [StageConfig("mixed", mix)]
    stage1 = StageConfig("math", {"math": 1.0}, until_step=cfg.switch_step, plateau_window=cfg.plateau_window,
                         plateau_min_delta=cfg.plateau_min_delta)
    return [stage1, StageConfig("math+code", mix, ramp_steps=cfg.ramp_steps)]


def _mix(code_share: float | None, sizes: dict[str, int] | None) -> dict[str, float]:
    if code_share is not None:
        return {"math": 1.0 - code_share, "code": code_share}
    if sizes is None:
        raise ValueError("code_share: None means 'in proportion to the data', so Curriculum needs domain_sizes")
    mix = {d: float(sizes.get(d, 0)) for d in ("math", "code")}
    if sum(mix.values()) <= 0:
        raise ValueError(f"code_share: no math or code problems to weigh by (domain_sizes={sizes})")
    return mix


def lerp_weights(start: dict[str, float], end: dict[str, float], t: float) -> dict[str, float]:
    """``(1 - t) * normalized(start) + t * normalized(end)`` over the union of domains.

    >>> lerp_weights({"math": 1.0}, {"math": 1.0, "code": 1.0}, 0.5)
    {'code': 0.25, 'math': 0.75}
    """
    a, b = normalized(start), normalized(end)
    return {d: (1 - t) * a.get(d, 0.0) + t * b.get(d, 0.0) for d in sorted(set(a) | set(b))}


class Curriculum:
    """Tracks the current stage; see the module docstring for the call order."""

    def __init__(self, cfg: CurriculumConfig | None = None, domain_sizes: dict[str, int] | None = None) -> None:
        self.cfg = cfg if cfg is not None else CurriculumConfig()
        self.stages = self.cfg.resolve(domain_sizes)
        self._index = 0
        self._start = 0  # first step of the current stage
        self._rewards: list[float] = []  # this stage's observations, last 2W kept
        self._last_step = -1
        self._last_delta: float | None = None
        self._switches: list[dict[str, Any]] = []

    @property
    def domains(self) -> list[str]:
        """Every domain some stage samples, sorted."""
        return sorted({d for stage in self.stages for d, w in stage.weights.items() if w > 0})

    def require_domains(self, domains: list[str]) -> None:
        """Refuse a curriculum that samples a domain the training data does not have; with data of one
        domain, say which preset trains on it alone."""
        alone = {"math": "math_only", "code": "code_only"}.get(domains[0]) if len(set(domains)) == 1 else None
        hint = f"; to train on {domains[0]} alone set curriculum.preset={alone}" if alone else ""
        for domain in sorted(set(self.domains) - set(domains)):
            raise ConfigError(f"curriculum: a stage samples domain {domain!r} but data.train has no "
                              f"{domain} problems (domains found: {sorted(domains)}){hint}")

    @property
    def stage_index(self) -> int:
        return self._index

    @property
    def filters_solved_at_stage_start(self) -> bool:
        """Whether the stream retires the previous stage's solved prompts when a stage starts."""
        return self.cfg.filter_solved_at_stage_start

    def stage_at(self, step: int) -> int:
        """Index of the stage in force at `step` (as `weights` sees it)."""
        return self._stage_at(step)[0]

    @property
    def stage(self) -> StageConfig:
        return self.stages[self._index]

    @property
    def switches(self) -> list[dict[str, Any]]:
        """One ``{"stage", "name", "step", "reason"}`` per switch so far (step = first step of the new stage)."""
        return [dict(s) for s in self._switches]

    def describe_switch(self, switch: dict[str, Any]) -> str:
        """One console line for a record of `switches`: which stage starts at which step, and why.

        >>> c = Curriculum(CurriculumConfig(preset="staged", switch_step=3, code_share=0.5))
        >>> c.describe_switch({"stage": 1, "name": "math+code", "step": 3, "reason": "until_step"})
        'curriculum: stage 2 (math+code) starts at step 3: curriculum.switch_step=3'
        """
        index, left = switch["stage"], self.stages[switch["stage"] - 1]
        if switch["reason"] == "plateau":
            why = (f"the reward plateaued (mean of the last {left.plateau_window} steps less than "
                   f"{left.plateau_min_delta} above the {left.plateau_window} before)")
        elif self.cfg.preset == "custom":
            why = f"curriculum.stages[{index - 1}].until_step={left.until_step}"
        else:
            why = f"curriculum.switch_step={left.until_step}"
        return f"curriculum: stage {index + 1} ({switch['name']}) starts at step {switch['step']}: {why}"

    def _after_until(self, step: int) -> tuple[int, int]:
        """(stage index, stage start) at `step` once the until_step rules are applied; no mutation."""
        i, start = self._index, self._start
        while self.stages[i].until_step is not None and step >= self.stages[i].until_step:
            start = max(start, self.stages[i].until_step)
            i += 1
        return i, start

    def _stage_at(self, step: int) -> tuple[int, int]:
        """(stage index, stage start) in force at `step`: past switches from the log, future by until_step."""
        i, start = 0, 0
        for sw in self._switches:
            if sw["step"] > step:
                return i, start
            i, start = sw["stage"], sw["step"]
        return self._after_until(step)

    def weights(self, step: int) -> dict[str, float]:
        """Normalised domain weights for the batch of `step` (ramped when the stage has a ramp)."""
        i, start = self._stage_at(step)
        st = self.stages[i]
        k = step - start
        if st.ramp_steps > 0 and k < st.ramp_steps:
            src = st.ramp_from if st.ramp_from is not None else self.stages[i - 1].weights
            return lerp_weights(src, st.weights, max(0, k) / st.ramp_steps)
        return lerp_weights(st.weights, st.weights, 1.0)

    def observe(self, step: int, reward_mean: float, drawn_through: int | None = None) -> bool:
        """Feed the reward of `step` (NaN/None is skipped); returns True when a switch was decided.

        `drawn_through`: engines that draw ahead pass the last step whose batch is already drawn; a plateau
        switch then takes effect at the first step not yet drawn (``max(step, drawn_through) + 1``), so the
        logged weights are those each batch was really drawn with. Step-rule switches are unaffected.
        """
        if step <= self._last_step:
            raise ValueError(f"observe: step {step} is not after the last observed step {self._last_step}")
        before = self._index
        i, start = self._after_until(step)
        while self._index < i:
            self._switch(self.stages[self._index].until_step, "until_step")
        self._start = start
        self._last_step = step
        # a batch drawn before a plateau switch took effect belongs to the old stage: not this stage's reward
        if reward_mean is not None and math.isfinite(reward_mean) and step >= self._start:
            self._rewards.append(float(reward_mean))
        if self.stage.until_step == step + 1:
            self._switch(step + 1, "until_step")
        elif step >= self._start and self._plateaued():
            self._switch(max(step, drawn_through if drawn_through is not None else step) + 1, "plateau")
        return self._index != before

    def _plateaued(self) -> bool:
        w = self.stage.plateau_window
        if w is None:
            return False
        self._rewards = self._rewards[-2 * w:]
        if len(self._rewards) < 2 * w:
            return False
        self._last_delta = sum(self._rewards[w:]) / w - sum(self._rewards[:w]) / w
        return self._last_delta < self.stage.plateau_min_delta

    def _switch(self, start: int, reason: str) -> None:
        self._index += 1
        self._start = start
        self._rewards = []
        self._last_delta = None
        self._switches.append({"stage": self._index, "name": self.stage.name, "step": start, "reason": reason})

    def stats(self, step: int | None = None) -> dict[str, float]:
        """``curriculum/stage_index``, ``curriculum/switches``, ``curriculum/plateau_delta`` (when computed),
        and with `step` the weights used at it (`weight_metrics`)."""
        out = {"curriculum/stage_index": float(self._index), "curriculum/switches": float(len(self._switches))}
        if self._last_delta is not None:
            out["curriculum/plateau_delta"] = self._last_delta
        if step is not None:
            out.update(self.weight_metrics(self.weights(step)))
        return out

    def weight_metrics(self, weights: dict[str, float]) -> dict[str, float]:
        """``curriculum/weight_<domain>`` for every domain of any stage, 0 where `weights` leaves it out, so a
        domain's curve starts at step 1 (code's at 0 through stage 1), not at its first batch."""
        return {f"curriculum/weight_{d}": weights.get(d, 0.0) for d in sorted({*self.domains, *weights})}

    def state_dict(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "stage_names": [s.name for s in self.stages], "index": self._index,
                "start": self._start, "rewards": list(self._rewards), "last_step": self._last_step,
                "last_delta": self._last_delta, "switches": self.switches}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"curriculum state: version {state.get('version')!r} is not {STATE_VERSION}")
        names = [s.name for s in self.stages]
        if state["stage_names"] != names:
            raise ValueError(f"curriculum state: stages {state['stage_names']} do not match the config's {names}")
        self._index, self._start = int(state["index"]), int(state["start"])
        self._rewards = [float(r) for r in state["rewards"]]
        self._last_step = int(state["last_step"])
        self._last_delta = None if state["last_delta"] is None else float(state["last_delta"])
        self._switches = [dict(s) for s in state["switches"]]


__all__ = ["PRESETS", "Curriculum", "CurriculumConfig", "StageConfig", "lerp_weights"]
