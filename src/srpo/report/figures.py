"""What the report shows: one `FigureSpec` per topic, panels laid out per domain / per metric.

Domains and reflection families are discovered from the metric keys of all runs (math first, then code,
then others, ``all`` last); when none is found a figure falls back to the usual ones and its panels say
"no data", so every figure always exists.
"""

from __future__ import annotations

import re

from srpo.analysis.reflection import DEFAULT_FAMILIES
from srpo.report.plots import FigureSpec, Line, Panel
from srpo.report.runs import Run

DEFAULT_DOMAINS = ("math", "code", "all")


def _order(names: set[str]) -> list[str]:
    """math, code, other names alphabetically, all last.

    >>> _order({"all", "code", "logic", "math"})
    ['math', 'code', 'logic', 'all']
    """
    head = [d for d in ("math", "code") if d in names]
    tail = ["all"] if "all" in names else []
    return head + sorted(names - set(head) - set(tail)) + tail


def _captures(runs: list[Run], pattern: str) -> set[str]:
    regex = re.compile(pattern)
    return {m.group(1) for run in runs for key in run.series if (m := regex.fullmatch(key))}


def _domains(runs: list[Run], pattern: str, default=DEFAULT_DOMAINS) -> list[str]:
    found = _captures(runs, pattern)
    return _order(found) if found else list(default)


def _one(title: str, key: str, ylabel: str, **kw) -> Panel:
    return Panel(title, ylabel, (Line(key),), **kw)


def reward_figure(runs: list[Run]) -> FigureSpec:
    doms = _domains(runs, r"([^/]+)/(?:reward_mean|pass_rate)")
    return FigureSpec(
        "reward", "Reward and pass rate",
        "Mean training reward (top) and share of correct rollouts (bottom) per domain.",
        (
            tuple(_one(f"{d}: reward", f"{d}/reward_mean", "mean reward", zero_based=False) for d in doms),
            tuple(_one(f"{d}: pass rate", f"{d}/pass_rate", "correct rollouts", percent=True) for d in doms),
        ),
    )


def length_figure(runs: list[Run]) -> FigureSpec:
    doms = _domains(runs, r"([^/]+)/response_len_mean")
    switches = "; a dotted line marks a stage switch" if any(run.stage_starts for run in runs) else ""
    return FigureSpec(
        "length", "Response length",
        f"Mean response length per domain{switches}.",
        (tuple(_one(f"{d}: response length", f"{d}/response_len_mean", "tokens") for d in doms),),
    )


def zero_adv_figure(runs: list[Run]) -> FigureSpec:
    return FigureSpec(
        "zero_adv", "Zero-advantage groups",
        "Share of prompt groups whose rollouts all got the same reward (no gradient), split into all "
        "correct (too easy) and all wrong (too hard), and the share of groups left with a signal.",
        (
            (
                _one("zero advantage (total)", "groups/zero_adv_frac", "share of groups", percent=True),
                _one("all correct", "groups/all_correct_frac", "share of groups", percent=True),
            ),
            (
                _one("all wrong", "groups/all_wrong_frac", "share of groups", percent=True),
                _one("effective groups", "groups/effective_ratio", "share of groups", percent=True),
            ),
        ),
    )


def hr_figure(runs: list[Run]) -> FigureSpec:
    doms = _domains(runs, r"sampler/([^/]+)/active_size", default=("math", "code"))
    return FigureSpec(
        "hr_active", "History resampling: active prompts",
        "Prompts still sampled per domain (top) and prompts dropped so far because all their rollouts "
        "were correct (bottom).",
        (
            tuple(_one(f"{d}: active set", f"sampler/{d}/active_size", "prompts", smooth=False) for d in doms),
            tuple(_one(f"{d}: dropped (total)", f"sampler/{d}/dropped_total", "prompts", smooth=False)
                  for d in doms),
        ),
    )


def policy_figure(runs: list[Run]) -> FigureSpec:
    return FigureSpec(
        "policy", "Entropy, clipping and KL",
        "Token entropy of the policy, share of tokens clipped below / above / by the dual clip, and KL "
        "estimates (to the rollout policy and, when the KL term is on, to the reference).",
        (
            (
                _one("entropy", "actor/entropy", "nats / token"),
                _one("clipped low", "actor/clipfrac_low", "share of tokens", percent=True),
                _one("clipped high", "actor/clipfrac_high", "share of tokens", percent=True),
            ),
            (
                _one("dual clip", "actor/clipfrac_dual", "share of tokens", percent=True),
                _one("approx. KL (old policy)", "actor/approx_kl", "KL"),
                _one("KL to reference", "actor/kl_ref", "KL"),
            ),
        ),
    )


def _families(runs: list[Run]) -> list[str]:
    found = _captures(runs, r"reflect/[^/]+/(\w+?)_frac") - {"any"}
    known = [f for f in DEFAULT_FAMILIES if f in found]
    return (known + sorted(found - set(known))) if found else list(DEFAULT_FAMILIES)


def reflection_figure(runs: list[Run]) -> FigureSpec:
    doms = _domains(runs, r"reflect/([^/]+)/any_frac", default=("math", "code"))
    fams = _families(runs) + ["any"]
    return FigureSpec(
        "reflection", "Reflective behaviour",
        "Share of responses with at least one keyword of each family (recheck, hesitation, exploration; "
        "configurable) and of any family, per domain.",
        tuple(
            tuple(_one(f"{d}: {f}", f"reflect/{d}/{f}_frac", "share of responses", percent=True) for f in fams)
            for d in doms
        ),
    )


WITH, WITHOUT = Line("", "-", "with reflection"), Line("", "--", "without reflection")


def reflect_length_figure(runs: list[Run]) -> FigureSpec:
    doms = _domains(runs, r"reflect/([^/]+)/len_with(?:out)?", default=("math", "code"))
    panels = tuple(
        Panel(f"{d}: length by reflection", "tokens",
              (Line(f"reflect/{d}/len_with", "-"), Line(f"reflect/{d}/len_without", "--")))
        for d in doms
    )
    return FigureSpec(
        "reflect_length", "Response length with and without reflection",
        "Mean length of responses that contain a reflection keyword (solid) and of those that do not "
        "(dashed).",
        (panels,), line_legend=(WITH, WITHOUT),
    )


def code_in_math_figure(runs: list[Run]) -> FigureSpec:
    return FigureSpec(
        "code_in_math", "Code inside math answers",
        "Share of math responses that contain code (a fenced block, a function definition, a print call "
        "or an import): the model writing programs to check its math.",
        ((_one("math responses with code", "code_in_math/frac", "share of math responses", percent=True),),),
    )


def eval_figure(runs: list[Run]) -> FigureSpec:
    doms = _domains(runs, r"eval/([^/]+)/pass@1", default=("math", "code"))
    return FigureSpec(
        "eval", "Held-out pass@1",
        "pass@1 on the held-out sets, at the steps where evaluation ran.",
        (tuple(_one(f"{d}: pass@1", f"eval/{d}/pass@1", "pass@1", sparse=True, percent=True) for d in doms),),
    )


def training_figure(runs: list[Run]) -> FigureSpec:
    return FigureSpec(
        "training", "Optimisation",
        "Loss, gradient norm (before clipping), learning rate and the curriculum's code weight.",
        (
            (
                _one("loss", "train/loss", "loss", zero_based=False),
                _one("gradient norm", "train/grad_norm", "norm"),
                _one("learning rate", "train/lr", "lr", scientific=True, smooth=False),
                _one("code weight", "curriculum/weight_code", "share of code prompts", percent=True,
                     smooth=False),
            ),
        ),
    )


FIGURES = (
    reward_figure, length_figure, zero_adv_figure, hr_figure, policy_figure, reflection_figure,
    reflect_length_figure, code_in_math_figure, eval_figure, training_figure,
)


def figure_specs(runs: list[Run]) -> list[FigureSpec]:
    return [make(runs) for make in FIGURES]
