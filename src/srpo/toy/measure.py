"""pass@1 / pass@k of a model per (domain, level) of the built-in suites: the table in docs/toy.md.

Generation and scoring are srpo's own (`srpo.engines.native.generation`, `srpo.rewards.RewardScorer` with the
sandbox); per cell, pass@1 and pass@k are the unbiased estimators of `srpo.eval.metrics.pass_at_k`.
`mode_rates` splits the sampled responses into terse and step-by-step ones (`response_mode`) and reports
the accuracy of each: the evidence that writing the steps out pays.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Sequence

from srpo.core.problem import Problem


def cell_rates(problems: Sequence[Problem], corrects: Sequence[Sequence[bool]], k: int) -> dict[str, dict]:
    """Per ``"<domain>/<difficulty>"`` cell and ``"all"``: ``{"n", "pass@1", f"pass@{k}"}``."""
    from srpo.eval.metrics import pass_at_k

    cells: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for problem, verdicts in zip(problems, corrects):
        n, c = len(verdicts), sum(map(bool, verdicts))
        row = (pass_at_k(n, c, 1), pass_at_k(n, c, k))
        cells[f"{problem.domain}/{problem.difficulty}"].append(row)
        cells["all"].append(row)
    return {name: {"n": len(rows), "pass@1": sum(r[0] for r in rows) / len(rows),
                   f"pass@{k}": sum(r[1] for r in rows) / len(rows)} for name, rows in sorted(cells.items())}


_THINK = re.compile(r"<think>(.*?)</think>", re.S)


def _equals_in_think(text: str) -> int | None:
    m = _THINK.search(text)
    return None if m is None else m.group(1).count("=")


def response_mode(response: str, problem: Problem) -> str:
    """``"terse"``, ``"steps"``, ``"partial"``, ``"single"`` or ``"unformatted"``, from the number of ``=``
    in the response's think compared with the problem's two references.

    With e = count in the response, t = in ``metadata["terse"]``, s = in ``metadata["solution"]``:
    single if t == s (one-operation problems, both forms coincide), terse if e <= t, steps if e >= s,
    else partial.

    >>> p = Problem.create("math", "Compute 2+3+4.", answer="9", metadata={
    ...     "terse": "<think>2+3+4=9</think><answer>9</answer>",
    ...     "solution": "<think>2+3=5 5+4=9</think><answer>9</answer>"})
    >>> [response_mode(r, p) for r in ("<think>2+3+4=8</think><answer>8</answer>",
    ...                                "<think>2+3=5 5+4=9</think><answer>9</answer>", "9")]
    ['terse', 'steps', 'unformatted']
    """
    e = _equals_in_think(response)
    t, s = _equals_in_think(problem.metadata["terse"]), _equals_in_think(problem.metadata["solution"])
    if e is None:
        return "unformatted"
    if t == s:
        return "single"
    return "terse" if e <= t else "steps" if e >= s else "partial"


def mode_rates(problems: Sequence[Problem], responses: Sequence[Sequence[str]],
               corrects: Sequence[Sequence[bool]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per ``"<domain>/<difficulty>"`` cell and response mode: ``{"share", "n", "accuracy", "chars"}``.

    share = responses of that mode / responses in the cell; accuracy = correct / n over those responses;
    chars = their mean length in characters.
    """
    cells: dict[str, dict[str, list[tuple[bool, int]]]] = defaultdict(lambda: defaultdict(list))
    for problem, group, verdicts in zip(problems, responses, corrects, strict=True):
        for response, ok in zip(group, verdicts, strict=True):
            cells[f"{problem.domain}/{problem.difficulty}"][response_mode(response, problem)].append(
                (bool(ok), len(response)))
    out: dict[str, dict[str, dict[str, float]]] = {}
    for cell, modes in sorted(cells.items()):
        total = sum(len(rows) for rows in modes.values())
        out[cell] = {mode: {"share": len(rows) / total, "n": len(rows),
                            "accuracy": sum(ok for ok, _ in rows) / len(rows),
                            "chars": sum(n for _, n in rows) / len(rows)} for mode, rows in sorted(modes.items())}
    return out


def format_modes(modes: dict[str, dict[str, dict[str, float]]]) -> str:
    """A Markdown table of `mode_rates` output."""
    lines = ["| cell | mode | share | n | accuracy | mean chars |", "|---|---|---:|---:|---:|---:|"]
    for cell, by_mode in modes.items():
        for mode, r in by_mode.items():
            lines.append(f"| {cell} | {mode} | {r['share']:.2f} | {r['n']} | {r['accuracy']:.3f} | {r['chars']:.0f} |")
    return "\n".join(lines)


def format_table(rates: dict[str, dict[str, float]], k: int) -> str:
    """A Markdown table of `measure_pass_rates` output."""
    lines = [f"| cell | n | pass@1 | pass@{k} |", "|---|---:|---:|---:|"]
    for name, r in rates.items():
        lines.append(f"| {name} | {r['n']} | {r['pass@1']:.3f} | {r[f'pass@{k}']:.3f} |")
    return "\n".join(lines)


def heldout_suite(n: int, seed: int = 0, math_levels=range(1, 6), code_levels=range(1, 5)) -> list[Problem]:
    """`n` held-out problems per (domain, level): the measurement set of docs/toy.md."""
    from srpo.toy import tasks

    out: list[Problem] = []
    for level in math_levels:
        out += tasks.heldout("math", n, level, seed)
    for level in code_levels:
        out += tasks.heldout("code", n, level, seed)
    return out
