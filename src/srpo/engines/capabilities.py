"""What each engine does with the config options it treats specially: plain data next to each engine's
`check_config`, rendered into docs/engines.md (``srpo engines --markdown > docs/engines.md``).

Each engine's setup module declares ``CAPABILITIES``, a tuple of `Capability` rows. tests/test_engine_capabilities.py
holds the rows to the code: every refusal `check_config` can raise is a ``refused`` row whose example
overrides make it raise, every ``mapped`` row names settings the engine's mapping function really sets, and
docs/engines.md is `render_markdown` of the tables. This module imports no engine (tests/test_layers.py);
``srpo.cli.engines`` gathers the tables.

>>> row = Capability("algorithm.advantage=rloo", REFUSED, note="no GRPOTrainer equivalent")
>>> row.field, row.overrides
('algorithm.advantage', ('algorithm.advantage=rloo',))
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Mapping, Sequence

HONOURED, MAPPED, REFUSED, IGNORED = "honoured", "mapped", "refused", "ignored"
STATUSES = (HONOURED, MAPPED, REFUSED, IGNORED)
REGENERATE = "srpo engines --markdown > docs/engines.md"


@dataclasses.dataclass(frozen=True)
class Capability:
    """One option an engine treats specially.

    `option` is a dotted config field, or ``field=value`` when the row is about that value. `status`:
    ``honoured`` (srpo's own code does it inside the engine, as on the native engine), ``mapped`` (it becomes
    the engine's own settings `to`), ``refused`` (`check_config` raises a ConfigError naming the field) or
    ``ignored`` (the engine does not read it). `note` says how it maps or why it is refused; `example` is the
    ``key=value`` overrides that make `check_config` refuse it (default: `option` itself when it has a value).
    """

    option: str
    status: str
    to: tuple[str, ...] = ()
    note: str = ""
    example: tuple[str, ...] = ()

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"{self.option}: status {self.status!r} is not one of {STATUSES}")

    @property
    def field(self) -> str:
        """The dotted config field the row is about (`option` without its value)."""
        return re.match(r"[\w.]*", self.option).group().rstrip(".")

    @property
    def overrides(self) -> tuple[str, ...]:
        """The overrides that exercise this row (`example`, else `option` when it names a value)."""
        return self.example or ((self.option,) if "=" in self.option else ())


ENGINE_SECTIONS = ("native", "trl", "verl")  # a top-level section named after an engine is read by it alone


def cell(table: Sequence[Capability], option: str, engine: str) -> str:
    """`engine`'s status for `option`: its own row, else its row for the bare field or the nearest section
    above it, else ``honoured`` (``ignored`` for another engine's section, e.g. ``trl.*`` on verl)."""
    rows = {row.option: row for row in table}
    field = Capability(option, HONOURED).field
    parents = [field.rsplit(".", depth)[0] for depth in range(field.count(".") + 1)]  # a.b.c, a.b, a
    for key in [option] + parents:
        if key in rows:
            return rows[key].status
    section = parents[-1]
    return IGNORED if section != engine and section in ENGINE_SECTIONS else HONOURED


_INTRO = """\
# Engine capabilities

<!-- Generated from the CAPABILITIES tables next to each engine's check_config; do not edit by hand.
     Regenerate: {regenerate} -->

Every engine (`engine: native | trl | verl`) reads the same config tree. Each engine refuses at load, with
the dotted field and the reason, the options it cannot honour; this page lists, per engine, the options it
treats specially:

- **honoured**: srpo's own code does it inside the engine, as on the native engine;
- **mapped**: it becomes the engine's own setting(s), named in the table;
- **refused**: the engine's `check_config` raises a `ConfigError` naming the field;
- **ignored**: the engine does not read it.

An option not listed for an engine is honoured as on the native engine: srpo's parts (`data.*`,
`sampling.*` other than where refused, `curriculum.*`, `rewards.*`, `sandbox.*`, `analysis.*`, `difficulty.*`,
`curate.*`) run unchanged inside every engine. The `trl:` and `verl:` sections are read only by their engine.
Every engine also refuses a config whose `engine` names another one, and the checks of the config tree itself
(`srpo config`) apply to all. docs/trl.md and docs/verl.md explain the mappings at length.

The tables are tested against the code (tests/test_engine_capabilities.py): every refusal a `check_config`
can raise is listed and its example makes it raise, and every mapped setting is one the engine sets.
"""


@functools.lru_cache(maxsize=1)
def tree_fields() -> tuple[str, ...]:
    """Every dotted field and section of the config tree, in declaration order (``run``, ``run.name``, ...)."""
    from srpo.config import TrainConfig

    def walk(obj, prefix: str):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            yield prefix + f.name
            if dataclasses.is_dataclass(value):
                yield from walk(value, prefix + f.name + ".")

    return tuple(walk(TrainConfig(), ""))


def _tree_index(option: str) -> tuple[int, bool]:
    """Where `option`'s field sits in the config tree (rows about one field stay together, the bare field first)."""
    fields = tree_fields()
    field = Capability(option, HONOURED).field
    return (fields.index(field) if field in fields else len(fields)), option != field


def _code(names: Sequence[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def status_matrix(tables: Mapping[str, Sequence[Capability]]) -> list[str]:
    """The engine x option matrix of statuses, one markdown line per row (options in first-seen order)."""
    options = sorted(dict.fromkeys(row.option for table in tables.values() for row in table), key=_tree_index)
    lines = ["| option | " + " | ".join(tables) + " |", "|---" * (len(tables) + 1) + "|"]
    for option in options:
        cells = [cell(table, option, engine) for engine, table in tables.items()]
        lines.append(f"| `{option}` | " + " | ".join(cells) + " |")
    return lines


def engine_section(engine: str, table: Sequence[Capability]) -> list[str]:
    """One engine's rows as a markdown table: option, status, what it maps to, note."""
    lines = [f"## {engine}", ""]
    if not table:
        return lines + ["Nothing special: this engine is the reference.", ""]
    lines += ["| option | status | engine setting | note |", "|---|---|---|---|"]
    for row in table:
        lines.append(f"| `{row.option}` | {row.status} | {_code(row.to)} | {_escape(row.note)} |")
    return lines + [""]


def render_markdown(tables: Mapping[str, Sequence[Capability]]) -> str:
    """docs/engines.md: the intro, the engine x option matrix, then each engine's table."""
    lines = [_INTRO.format(regenerate=REGENERATE), "## Summary", ""] + status_matrix(tables) + [""]
    for engine, table in tables.items():
        lines += engine_section(engine, table)
    return "\n".join(lines).rstrip("\n") + "\n"
