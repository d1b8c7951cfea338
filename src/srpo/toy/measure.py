"""pass@1 / pass@k of a model per (domain, level) of the built-in suites: the table in docs/toy.md.

Generation and scoring are srpo's own (`srpo.engines.native.generation`, `srpo.rewards.RewardScorer` with the
sandbox); per cell, pass@1 and pass@k are the unbiased estimators of `srpo.eval.metrics.pass_at_k`.
`mode_rates` splits the sampled responses into terse and step-by-step ones (`response_mode`) and reports
the accuracy of each: the evidence that writing the steps out pays. `check_rates` splits them by whether
they contain a check of their own work (the ``recheck`` family of `srpo.analysis.reflection`, which the
reflective variant's ``let me check`` belongs to) and reports accuracy with and without one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache
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
    else partial. A response whose think holds a recheck phrase (`has_check`) is ``"checked"`` whatever
    its count (only the reflective variant writes one).

    >>> p = Problem.create("math", "Compute 2+3+4.", answer="9", metadata={
    ...     "terse": "<think>2+3+4=9</think><answer>9</answer>",
    ...     "solution": "<think>2+3=5 5+4=9</think><answer>9</answer>"})
    >>> [response_mode(r, p) for r in ("<think>2+3+4=8</think><answer>8</answer>",
    ...                                "<think>2+3=5 5+4=9</think><answer>9</answer>", "9")]
    ['terse', 'steps', 'unformatted']
    """
    e = _equals_in_think(response)
    if e is not None and has_check(_THINK.search(response).group(1)):
        return "checked"
    t, s = _equals_in_think(problem.metadata["terse"]), _equals_in_think(problem.metadata["solution"])
    if e is None:
        return "unformatted"
    if t == s:
        return "single"
    return "terse" if e <= t else "steps" if e >= s else "partial"


def has_check(text: str) -> bool:
    """True iff `text` contains a keyword of the default ``recheck`` family of `srpo.analysis.reflection`.

    >>> has_check("2+3+4=8 let me check 2+3=5 5+4=9"), has_check("2+3=5 5+4=9")
    (True, False)
    """
    from srpo.analysis.reflection import detect_reflection

    return detect_reflection(text, _recheck_config())["recheck"] > 0


@lru_cache(maxsize=1)
def _recheck_config():
    from srpo.analysis.reflection import DEFAULT_FAMILIES, AnalysisConfig

    return AnalysisConfig(families={"recheck": list(DEFAULT_FAMILIES["recheck"])})


def _draft(response: str) -> int | None:
    """The drafted result before the recheck phrase (``...=<n> let me check``), or None."""
    m = _DRAFT.search(response)
    return None if m is None else int(m.group(1))


_DRAFT = re.compile(r"=(-?\d+)\s+let\s+me\s+check", re.I)


def check_rates(problems: Sequence[Problem], responses: Sequence[Sequence[str]],
                corrects: Sequence[Sequence[bool]]) -> dict[str, dict[str, float]]:
    """Per ``"<domain>/<difficulty>"`` cell, per domain and ``"all"``: how often a response checks its work
    and whether the check pays.

    ``share`` = responses with a check (`has_check`) / responses; ``acc_with`` / ``acc_without`` = accuracy of
    those with / without one (None where the subset is empty); ``n_with`` / ``n_without``; and, among the
    checked responses whose draft (``...=<n> let me check``) can be read, ``draft_wrong`` = share whose
    draft differs from the reference answer and ``corrected`` = share of those that end correct.
    """
    cells: dict[str, list[tuple[bool, bool, bool | None]]] = defaultdict(list)
    for problem, group, verdicts in zip(problems, responses, corrects, strict=True):
        for response, ok in zip(group, verdicts, strict=True):
            checked = has_check(response)
            draft = _draft(response) if checked else None
            wrong = None if draft is None or problem.answer is None else str(draft) != str(problem.answer).strip()
            row = (checked, bool(ok), wrong)
            for key in (f"{problem.domain}/{problem.difficulty}", problem.domain, "all"):
                cells[key].append(row)

    def acc(rows):
        return sum(ok for _, ok, _ in rows) / len(rows) if rows else None

    out: dict[str, dict[str, float]] = {}
    for cell, rows in sorted(cells.items()):
        with_, without = [r for r in rows if r[0]], [r for r in rows if not r[0]]
        drafts = [r for r in with_ if r[2] is not None]
        wrong = [r for r in drafts if r[2]]
        out[cell] = {"n": len(rows), "share": len(with_) / len(rows), "n_with": len(with_),
                     "n_without": len(without), "acc_with": acc(with_), "acc_without": acc(without),
                     "draft_wrong": len(wrong) / len(drafts) if drafts else None,
                     "corrected": acc(wrong)}
    return out


def format_checks(checks: dict[str, dict[str, float]]) -> str:
    """A Markdown table of `check_rates` output."""
    def f(v):
        return "-" if v is None else f"{v:.3f}"

    lines = ["| cell | n | check share | acc with check | acc without | drafts wrong | wrong drafts corrected |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for cell, r in checks.items():
        lines.append(f"| {cell} | {r['n']} | {r['share']:.3f} | {f(r['acc_with'])} (n={r['n_with']}) | "
                     f"{f(r['acc_without'])} | {f(r['draft_wrong'])} | {f(r['corrected'])} |")
    return "\n".join(lines)


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


def check_trend(samples_path, first: int = 10, last: int = 10) -> dict[str, dict[str, float | None]]:
    """Share of training rollouts that check their work, and accuracy with / without a check, over the first
    and the last steps of a run, read from its ``samples.jsonl`` (logged with ``logging.samples.share=1``
    for the whole batch; a smaller share gives a sample of it). Math rows only.

    Returns ``{"first": {...}, "last": {...}}`` with ``steps`` (the step range), ``n``, ``share``,
    ``acc_with``, ``acc_without`` (None for an empty subset) and ``acc`` (all rows).
    """
    import json
    from pathlib import Path

    rows = [json.loads(line) for line in Path(samples_path).read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("domain") == "math"]
    steps = sorted({r["step"] for r in rows})
    out: dict[str, dict[str, float | None]] = {}
    for name, window in (("first", steps[:first]), ("last", steps[-last:])):
        sel = [r for r in rows if r["step"] in set(window)]
        with_ = [bool(r["correct"]) for r in sel if has_check(r["response"])]
        without = [bool(r["correct"]) for r in sel if not has_check(r["response"])]
        out[name] = {"steps": f"{window[0]}-{window[-1]}" if window else "", "n": len(sel),
                     "share": len(with_) / len(sel) if sel else None,
                     "acc_with": sum(with_) / len(with_) if with_ else None,
                     "acc_without": sum(without) / len(without) if without else None,
                     "acc": (sum(with_) + sum(without)) / len(sel) if sel else None}
    return out
