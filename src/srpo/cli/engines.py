"""``srpo engines [--markdown]``: what each engine does with the options it treats specially (docs/engines.md)."""

from __future__ import annotations

import argparse

from srpo.engines.capabilities import Capability, render_markdown


def engine_tables() -> dict[str, tuple[Capability, ...]]:
    """Each engine's ``CAPABILITIES`` table, keyed by its ``engine:`` name (none of them imports its engine)."""
    from srpo.engines.native import setup as native
    from srpo.engines.trl import setup as trl
    from srpo.engines.verl import setup as verl

    return {"native": native.CAPABILITIES, "trl": trl.CAPABILITIES, "verl": verl.CAPABILITIES}


def _lines(tables: dict[str, tuple[Capability, ...]]) -> list[str]:
    """One plain line per row: engine, status, option, the settings it maps to."""
    return [f"{engine:<6} {row.status:<8} {row.option}" + (f" -> {', '.join(row.to)}" if row.to else "")
            for engine, table in tables.items() for row in table]


def _cli(args: argparse.Namespace) -> int:
    tables = engine_tables()
    if args.engine:
        tables = {args.engine: tables[args.engine]}
    print(render_markdown(tables) if args.markdown else "\n".join(_lines(tables)), end="" if args.markdown else "\n")
    return 0


def add_cli(subparsers) -> argparse.ArgumentParser:
    """Add ``srpo engines``."""
    parser = subparsers.add_parser(
        "engines", help="which options each engine honours, maps to its own settings, refuses or ignores",
        description="Each engine's table of the options it treats specially (honoured, mapped to what, refused "
                    "at load, ignored). --markdown prints docs/engines.md.")
    parser.add_argument("--markdown", action="store_true", help="print docs/engines.md")
    parser.add_argument("--engine", choices=("native", "trl", "verl"), help="one engine only")
    parser.set_defaults(func=_cli)
    return parser
