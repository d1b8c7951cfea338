"""A run's problem pool: every source loaded, every problem checked for being scorable, counted per source.

``on_unusable="error"`` (the default) stops at the first unusable row of a source with an error that names
the file, the row and the reason, and counts what else in that source is unusable; ``"drop"`` drops such
rows and counts them. Either way a source with no usable problem is an error naming it. With `references`
(`srpo.data.references`), the reference solutions of code rows from files and tables run against their
tests too (``reference_fails``); built-in sources (``toy:``, ``humaneval``, ``gym:``) are srpo's own, their
references checked by its tests, and skip it. `format_sources` renders the counts as the table a run
prints before its first step.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from srpo.core.problem import Problem
from srpo.data.formats import AUTO, FORMATS
from srpo.data.loaders import LoadedSource, Note, read_source
from srpo.data.references import ReferenceCheck
from srpo.data.rows import DataError
from srpo.data.usable import Checked, Unusable, check_usable

ON_UNUSABLE = ("error", "drop")
HINTS = {
    "no_answer": "name the gold column with data.column_mapping.answer=<column> (CLI: --map answer=<column>) "
                 "or set data.format",
    "gold_unparseable": "the gold must be a final answer (a number or expression), not a worked solution",
    "no_tests": "name the tests column with data.column_mapping.tests=<column> or set data.format",
    "bad_tests": "srpo's test format is described in docs/data.md",
    "malformed": "fix the row",
    "reference_fails": "fix the row's reference solution or its tests",
}
# The reasons whose hint names a column to map: where the format reads fixed columns, what they are instead.
MAPPED_FIELD = {"no_answer": "gold answer", "no_tests": "tests"}


@dataclass
class SourceCounts:
    """One source of a pool: its rows, their domains, and how many were kept or dropped, by reason."""

    split: str
    name: str
    format: str
    rows: int = 0
    domains: Counter = field(default_factory=Counter)
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)


def load_pool(specs: list[str], *, mapping: dict[str, str] | None = None, format: str = AUTO,
              on_unusable: str = "error", split: str = "train", note: Note | None = None,
              references: ReferenceCheck | None = None) -> tuple[list[Problem], list[SourceCounts]]:
    """The scorable problems of every source (first occurrence of each uid) and the counts per source;
    `references` checks the reference solutions of file and table sources."""
    if on_unusable not in ON_UNUSABLE:
        raise ValueError(f"on_unusable must be one of {ON_UNUSABLE}, got {on_unusable!r}")
    pool: dict[str, Problem] = {}
    counts = []
    for spec in specs:
        loaded = read_source(spec, mapping=mapping, format=format)
        if note and loaded.note():
            note(loaded.note())
        checked = check_usable(loaded.items, None if loaded.builtin else references)
        count = _count(split, loaded.name, loaded.format or "-", loaded.items, checked)
        if checked.dropped and (on_unusable == "error" or _format_looks_wrong(checked.dropped, loaded)):
            raise DataError(_unusable_error(checked.dropped, count, loaded))
        for problem in checked.kept:
            if problem.uid in pool:
                count.dropped["duplicate"] += 1
            else:
                pool[problem.uid] = problem
        count.kept = len(checked.kept) - count.dropped["duplicate"]
        if not checked.kept:
            raise DataError(_empty_error(split, count))
        counts.append(count)
    return list(pool.values()), counts


def _count(split: str, name: str, format: str, items: list[tuple[str, Any]], checked: Checked) -> SourceCounts:
    count = SourceCounts(split, name, format, rows=len(items))
    count.domains.update(p.domain for _, p in items if isinstance(p, Problem))
    count.dropped.update(d.reason for d in checked.dropped)
    return count


def _unusable_error(dropped: list[Unusable], count: SourceCounts, loaded: LoadedSource) -> str:
    first = dropped[0]
    head = f"{first.where}: {first.detail} ({first.reason}); "
    if _format_looks_wrong(dropped, loaded):
        return (head + f"all {count.rows} rows of {count.name} fail the same way, so its format looks wrong: "
                + _format_hint(loaded))
    reasons = ", ".join(f"{reason} {n}" for reason, n in count.dropped.most_common())
    hint = _hint(first.reason, count.format)
    return (head + f"{len(dropped)} of {count.rows} rows of {count.name} cannot be scored ({reasons}). "
            f"{hint[:1].upper() + hint[1:]}; or set data.on_unusable=drop to train on the rest and count what "
            "is dropped")


def _hint(reason: str, format: str) -> str:
    """`HINTS[reason]`, unless it would map a column for a format that reads fixed ones: then those."""
    fmt = FORMATS.get(format) if format in FORMATS else None
    if reason in MAPPED_FIELD and fmt is not None and not fmt.mappable:
        return (f"format '{format}' reads the {MAPPED_FIELD[reason]} from its own columns ({fmt.summary}), "
                "and this row's are empty: fix the row, or set data.format if the file is in another format")
    return HINTS[reason]


def _format_looks_wrong(dropped: list[Unusable], loaded: LoadedSource) -> bool:
    """Every row (two or more) of a file or table fails for the same reason (not its references': those
    run only on rows the format read well)."""
    reasons = {d.reason for d in dropped}
    return (not loaded.builtin and loaded.format is not None and len(loaded.items) >= 2
            and len(dropped) == len(loaded.items) and len(reasons) == 1 and reasons != {"reference_fails"})


def _format_hint(loaded: LoadedSource) -> str:
    how = "detected" if loaded.assumed else "forced with data.format"
    said = f"it was read as format '{loaded.format}' ({how}; columns: {', '.join(loaded.columns)})"
    if loaded.detected and loaded.detected != loaded.format:
        return (f"{said}, but its columns look like format '{loaded.detected}': "
                f"set data.format={loaded.detected} or auto")
    return (f"{said}: set data.format (CLI: --format) to the format it is in (one of {', '.join(FORMATS.names())}), "
            "or name its columns with data.column_mapping.<field>=<column> (formats srpo, trl, verl)")


def _empty_error(split: str, count: SourceCounts) -> str:
    if not count.rows:
        return f"data.{split}: {count.name} holds no rows"
    reasons = ", ".join(f"{reason} {n}" for reason, n in count.dropped.most_common())
    return f"data.{split}: {count.name} has no usable problem (all {count.rows} rows dropped: {reasons})"


def format_sources(counts: list[SourceCounts]) -> str:
    """One line per source: split, source, format, rows, domain, kept, dropped by reason."""
    header = ["split", "source", "format", "rows", "domain", "kept", "dropped"]
    body = [[c.split, c.name, c.format, str(c.rows), _domains(c.domains), str(c.kept),
             ", ".join(f"{reason} {n}" for reason, n in sorted(c.dropped.items()) if n) or "-"] for c in counts]
    widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]
    numeric = {3, 5}
    lines = ["  ".join(cell.rjust(w) if i in numeric else cell.ljust(w) for i, (cell, w) in
                       enumerate(zip(row, widths))).rstrip() for row in [header] + body]
    return "\n".join(lines)


def _domains(domains: Counter) -> str:
    if len(domains) <= 1:
        return next(iter(domains), "-")
    return " + ".join(f"{d} {n}" for d, n in sorted(domains.items()))
