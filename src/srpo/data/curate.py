"""`srpo curate`: filter a problem set, keeping every dropped row with its reason.

Order (the first failing check names the reason): rows that do not load (``malformed``); per-problem
checks in `CHECKS` order, then ``no_reference`` (``require_reference``); then exact and near duplicates
together with the reference run (`_dedup_verified`): duplicates are judged only against problems that
passed every check, their reference included, so neither a noisy nor a broken copy takes a good one with
it, and only the problems dedup keeps pay for the reference run (the only expensive step).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from srpo.data import filters as F
from srpo.data.curate_config import CurateConfig
from srpo.data.dedup import NearDuplicateIndex, normalise
from srpo.data.loaders import LoadIssue
from srpo.data.references import ReferenceCheck, reference_failures, reference_solution
from srpo.data.rows import DataError
from srpo.core.problem import Problem
from srpo.core.results import ScoreFn


# (config switch, domains it applies to, check) in the order they run.
CHECKS: list[tuple[str, tuple[str, ...], Callable[[Problem, CurateConfig], F.Drop | None]]] = [
    ("incomplete", ("math", "code"), F.check_incomplete),
    ("noise", ("math", "code"), F.check_noise),
    ("multi_part", ("math",), F.check_multi_part),
    ("proof", ("math",), F.check_proof),
    ("figure", ("math",), F.check_figure),
    ("single_answer", ("math",), F.check_answer),
    ("runtime", ("code",), F.check_runtime),
    ("gold_parse", ("math",), F.check_gold_parse),
]


@dataclass
class Dropped:
    """A dropped row: the problem (or the raw row that did not load), its reason code and detail."""

    reason: str
    detail: str
    source: str
    problem: Problem | None = None
    issue: LoadIssue | None = None

    def to_dict(self) -> dict[str, Any]:
        body = self.problem.to_dict() if self.problem else {"source": self.source, **self.issue.to_dict()}
        return {**body, "drop_reason": self.reason, "drop_detail": self.detail}


@dataclass
class CurateResult:
    kept: list[Problem]
    dropped: list[Dropped]
    notes: dict[str, int] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        """Counts per reason and per source: ``{total, kept, dropped, by_reason, by_source, notes}``."""
        by_source: dict[str, dict[str, Any]] = defaultdict(lambda: {"total": 0, "kept": 0, "dropped": 0,
                                                                    "by_reason": Counter()})
        for p in self.kept:
            by_source[p.source]["kept"] += 1
        for d in self.dropped:
            by_source[d.source]["dropped"] += 1
            by_source[d.source]["by_reason"][d.reason] += 1
        for stats in by_source.values():
            stats["total"] = stats["kept"] + stats["dropped"]
            stats["by_reason"] = dict(sorted(stats["by_reason"].items()))
        reasons = Counter(d.reason for d in self.dropped)
        return {"total": len(self.kept) + len(self.dropped), "kept": len(self.kept), "dropped": len(self.dropped),
                "by_reason": dict(sorted(reasons.items())), "by_source": dict(sorted(by_source.items())),
                "notes": dict(self.notes)}


def curate(items: Iterable[Problem | LoadIssue], cfg: CurateConfig, score_fn: ScoreFn | None = None) -> CurateResult:
    """Run every switched-on filter; each input ends up in exactly one of `kept` or `dropped`.

    A duplicate is judged only against problems that pass every check, the reference run included, so a
    broken copy never takes a good one with it (see `_dedup_verified`).
    """
    dropped: list[Dropped] = []
    notes: dict[str, int] = {}
    screened = [p for p in (_screen(item, cfg, dropped) for item in items) if p is not None]
    check = _reference_check(cfg, score_fn, notes)
    kept = _dedup_verified(screened, cfg, check, dropped)
    _count_references(kept, cfg, notes)
    return CurateResult(kept, dropped, notes)


def _screen(item: Problem | LoadIssue, cfg: CurateConfig, dropped: list[Dropped]) -> Problem | None:
    """The problem if it passes the per-problem checks (`CHECKS`, then `require_reference`), else None
    with its `Dropped` appended."""
    if isinstance(item, LoadIssue):
        if not cfg.malformed:
            raise DataError(f"{item.where}: {item.message} (malformed rows are errors with curate.malformed=false; "
                            "fix the row or set curate.malformed=true to drop and count it)")
        dropped.append(Dropped("malformed", f"{item.where}: {item.message}", item.source, issue=item))
        return None
    drop = first_drop(item, cfg)
    if drop is None and cfg.require_reference and item.domain == "code" and not reference_solution(item):
        drop = F.Drop("no_reference", "code problem without a reference solution")
    if drop:
        dropped.append(Dropped(drop.reason, drop.detail, item.source, item))
        return None
    return item


def first_drop(problem: Problem, cfg: CurateConfig) -> F.Drop | None:
    """The first `CHECKS` entry that drops `problem` (switched on and for its domain), or None."""
    for switch, domains, check in CHECKS:
        if getattr(cfg, switch) and problem.domain in domains:
            drop = check(problem, cfg)
            if drop:
                return drop
    return None


def _reference_check(cfg: CurateConfig, score_fn: ScoreFn | None, notes: dict[str, int]) -> ReferenceCheck:
    """Per problem None or why its reference fails; counts the verified ones in `notes`."""
    def check(problems: list[Problem]) -> list[str | None]:
        with_ref = [p for p in problems if reference_solution(p)]
        if not cfg.reference_check or not with_ref:
            return [None] * len(problems)
        if score_fn is None:
            raise ValueError("reference_check is on but no score_fn was given (set reference_check=false to skip)")
        failures = reference_failures(problems, score_fn, cfg.reference_template)
        verified = len(with_ref) - sum(1 for f in failures if f)
        notes["code_reference_verified"] = notes.get("code_reference_verified", 0) + verified
        return failures

    return check


def _dedup_verified(problems: list[Problem], cfg: CurateConfig, check: ReferenceCheck,
                    dropped: list[Dropped]) -> list[Problem]:
    """Deduplicate over the problems whose references pass.

    Dedup picks representatives (earliest first) and only their references run; a representative that
    fails is dropped (``reference_fails``) and dedup runs again without it, so its duplicates are judged
    against what is left, until every representative passes. References of problems that stay duplicates
    never run. Output order: input order, reference failures before duplicates.
    """
    failed: dict[int, str] = {}
    checked: set[int] = set()
    while True:
        live = [i for i in range(len(problems)) if i not in failed]
        keep, dups = _dedup([problems[i] for i in live], cfg)
        todo = [live[j] for j in keep if live[j] not in checked]
        checked.update(todo)
        new = {i: why for i, why in zip(todo, check([problems[i] for i in todo])) if why}
        if not new:
            break
        failed.update(new)
    for i in sorted(failed):
        dropped.append(Dropped("reference_fails", failed[i], problems[i].source, problems[i]))
    for j in sorted(dups):
        p = problems[live[j]]
        dropped.append(Dropped(dups[j].reason, dups[j].detail, p.source, p))
    return [problems[live[j]] for j in keep]


def _dedup(problems: list[Problem], cfg: CurateConfig) -> tuple[list[int], dict[int, F.Drop]]:
    """Indices of the problems kept (earliest of each duplicate set) and, for the others, the `Drop`
    naming the kept one they duplicate."""
    seen: dict[tuple[str, str], str] = {}
    index: dict[str, NearDuplicateIndex] = {}
    keep: list[int] = []
    dups: dict[int, F.Drop] = {}
    for i, p in enumerate(problems):
        key = (p.domain, normalise(p.prompt))
        if cfg.exact_dedup and key in seen:
            dups[i] = F.Drop("exact_duplicate", f"same prompt as {seen[key]}")
            continue
        seen.setdefault(key, p.uid)
        if cfg.near_dedup:
            idx = index.setdefault(p.domain, NearDuplicateIndex(cfg.near_dup_threshold, cfg.near_dup_ngram,
                                                                cfg.near_dup_num_perm, cfg.near_dup_bands))
            hit = idx.add(p.uid, p.prompt)
            if hit:
                dups[i] = F.Drop("near_duplicate", f"Jaccard {hit[1]:.3f} with {hit[0]}")
                continue
        keep.append(i)
    return keep, dups


def _count_references(kept: list[Problem], cfg: CurateConfig, notes: dict[str, int]) -> None:
    """Notes on the kept code problems: without a reference, and (check off) with an unchecked one."""
    code = [p for p in kept if p.domain == "code"]
    without = sum(1 for p in code if not reference_solution(p))
    if without:
        notes["code_kept_without_reference"] = without
    if not cfg.reference_check and len(code) > without:
        notes["code_reference_not_checked"] = len(code) - without


# ----------------------------------------------------------------------------------------------- output


def write_outputs(result: CurateResult, out_dir: str | Path) -> dict[str, Any]:
    """kept.jsonl, dropped.jsonl (each row with drop_reason, drop_detail), report.json; returns the report."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "kept.jsonl").open("w", encoding="utf-8") as fh:
        for p in result.kept:
            fh.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
    with (out / "dropped.jsonl").open("w", encoding="utf-8") as fh:
        for d in result.dropped:
            fh.write(json.dumps(d.to_dict(), ensure_ascii=False, default=str) + "\n")
    report = result.report()
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table: one row per reason, one column per source, plus totals."""
    sources = list(report["by_source"])
    reasons = list(report["by_reason"])
    header = ["reason"] + sources + ["total"]
    rows = [["kept"] + [str(report["by_source"][s]["kept"]) for s in sources] + [str(report["kept"])]]
    for r in reasons:
        rows.append([r] + [str(report["by_source"][s]["by_reason"].get(r, 0)) for s in sources]
                    + [str(report["by_reason"][r])])
    rows.append(["total"] + [str(report["by_source"][s]["total"]) for s in sources] + [str(report["total"])])
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in [header] + rows]
    lines.insert(1, "-" * len(lines[0]))
    notes = [f"{k}: {v}" for k, v in report.get("notes", {}).items()]
    return "\n".join(lines + notes)
