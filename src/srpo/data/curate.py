"""`srpo curate`: filter a problem set, keeping every dropped row with its reason.

Order (the first failing check names the reason): rows that do not load (``malformed``); per-problem
checks in `CHECKS` order; math-verify gold parse; exact then near duplicates (after the content checks, so
a clean copy wins over a noisy one); code reference solutions run against their own tests (last: it is the
only expensive step and only survivors pay for it).
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
    """Run every switched-on filter; each input ends up in exactly one of `kept` or `dropped`."""
    kept: list[Problem] = []
    dropped: list[Dropped] = []
    for item in items:
        if isinstance(item, LoadIssue):
            if not cfg.malformed:
                raise DataError(f"{item.where}: {item.message} (malformed rows are errors with curate.malformed=false; "
                                "fix the row or set curate.malformed=true to drop and count it)")
            dropped.append(Dropped("malformed", f"{item.where}: {item.message}", item.source, issue=item))
            continue
        drop = first_drop(item, cfg)
        if drop:
            dropped.append(Dropped(drop.reason, drop.detail, item.source, item))
        else:
            kept.append(item)
    kept = _dedup(kept, cfg, dropped)
    notes: dict[str, int] = {}
    kept = _reference_check(kept, cfg, score_fn, dropped, notes)
    return CurateResult(kept, dropped, notes)


def first_drop(problem: Problem, cfg: CurateConfig) -> F.Drop | None:
    for switch, domains, check in CHECKS:
        if getattr(cfg, switch) and problem.domain in domains:
            drop = check(problem, cfg)
            if drop:
                return drop
    return None


def _dedup(problems: list[Problem], cfg: CurateConfig, dropped: list[Dropped]) -> list[Problem]:
    seen: dict[tuple[str, str], str] = {}
    index: dict[str, NearDuplicateIndex] = {}
    kept = []
    for p in problems:
        key = (p.domain, normalise(p.prompt))
        if cfg.exact_dedup and key in seen:
            dropped.append(Dropped("exact_duplicate", f"same prompt as {seen[key]}", p.source, p))
            continue
        seen.setdefault(key, p.uid)
        if cfg.near_dedup:
            idx = index.setdefault(p.domain, NearDuplicateIndex(cfg.near_dup_threshold, cfg.near_dup_ngram,
                                                                cfg.near_dup_num_perm, cfg.near_dup_bands))
            hit = idx.add(p.uid, p.prompt)
            if hit:
                dropped.append(Dropped("near_duplicate", f"Jaccard {hit[1]:.3f} with {hit[0]}", p.source, p))
                continue
        kept.append(p)
    return kept


def reference_solution(problem: Problem) -> str | None:
    for key in ("solution", "reference_solution"):
        value = problem.metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _reference_check(problems: list[Problem], cfg: CurateConfig, score_fn: ScoreFn | None,
                     dropped: list[Dropped], notes: dict[str, int]) -> list[Problem]:
    code = [p for p in problems if p.domain == "code"]
    with_ref = [p for p in code if reference_solution(p)]
    without = {p.uid for p in code if not reference_solution(p)}
    if cfg.require_reference:
        for p in problems:
            if p.uid in without:
                dropped.append(Dropped("no_reference", "code problem without a reference solution", p.source, p))
        problems = [p for p in problems if p.uid not in without]
    elif without:
        notes["code_kept_without_reference"] = len(without)
    if not cfg.reference_check or not with_ref:
        if with_ref:
            notes["code_reference_not_checked"] = len(with_ref)
        return problems
    if score_fn is None:
        raise ValueError("reference_check is on but no score_fn was given (set reference_check=false to skip)")
    responses = [cfg.reference_template.replace("{solution}", reference_solution(p) or "") for p in with_ref]
    results = score_fn(responses, with_ref)
    failed = {}
    for p, r in zip(with_ref, results, strict=True):
        if not r.correct:
            failed[p.uid] = _short(r.info)
    notes["code_reference_verified"] = len(with_ref) - len(failed)
    out = []
    for p in problems:
        if p.uid in failed:
            dropped.append(Dropped("reference_fails", f"reference solution fails its tests: {failed[p.uid]}",
                                   p.source, p))
        else:
            out.append(p)
    return out


def _short(info: dict[str, Any], limit: int = 200) -> str:
    text = json.dumps(info, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


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
