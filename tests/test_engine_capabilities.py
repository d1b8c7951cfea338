"""The engines' capability tables (`srpo.engines.capabilities`) held to the code, so docs/engines.md cannot drift:
every refusal a `check_config` can raise (read from its source) is a declared ``refused`` row, every declared
refusal is raised by its example, every mapped setting is one the mapping function sets, and the doc is the
rendered tables."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from pathlib import Path

import pytest

from srpo.algo import ADVANTAGE_ESTIMATORS, KL_ESTIMATORS, LOSS_AGGREGATIONS, POLICY_LOSSES
from srpo.cli.engines import engine_tables
from srpo.config import load_config
from srpo.core.configlib import ConfigError
from srpo.engines.capabilities import MAPPED, REFUSED, REGENERATE, Capability, render_markdown, tree_fields
from srpo.engines.native import setup as native
from srpo.engines.trl import setup as trl
from srpo.engines.verl import setup as verl

DOC = Path(__file__).resolve().parents[1] / "docs" / "engines.md"
CHECKS = {"native": native.check_config, "trl": trl.check_config, "verl": verl.check_config}
TABLES = engine_tables()


def _literal_prefix(node: ast.expr) -> str:
    """The leading literal text of a str or f-string expression."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values[:next(
            (i for i, v in enumerate(node.values) if not isinstance(v, ast.Constant)), len(node.values))])
    return ""


def _field_of(message: str) -> str:
    """The dotted field a ConfigError message starts with (``verl.overrides[0]: ...`` -> verl.overrides)."""
    return re.match(r"[\w.]*", message).group().rstrip(".")


def raised_fields(func, seen: set | None = None) -> set[str]:
    """The fields of every ``raise ConfigError(...)`` in `func` and in the srpo functions it calls by name."""
    seen = set() if seen is None else seen
    if func in seen:
        return set()
    seen.add(func)
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    fields = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) \
                and getattr(node.exc.func, "id", None) == "ConfigError":
            fields.add(_field_of(_literal_prefix(node.exc.args[0])) or "<no field>")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            target = func.__globals__.get(node.func.id)
            if inspect.isfunction(target) and target.__module__.startswith("srpo."):
                fields |= raised_fields(target, seen)
    return fields


def base_config(engine: str, tmp_path, *overrides: str):
    """A config each engine's `check_config` accepts, plus `overrides`."""
    extra = {"native": [], "trl": ["engine=trl"],
             "verl": ["engine=verl", "model.device=cuda", f"model.path={tmp_path}", "verl.n_gpus_per_node=1"]}
    return load_config("srpo", [*extra[engine], *overrides])


@pytest.fixture
def plugins(monkeypatch):
    """``plugin`` registered in every algorithm registry: the value a table's plugin-refusal examples use."""
    for registry in (ADVANTAGE_ESTIMATORS, POLICY_LOSSES, KL_ESTIMATORS, LOSS_AGGREGATIONS):
        monkeypatch.setitem(registry._entries, "plugin", object())


def test_the_checker_reads_refusals_through_helpers():
    assert {"algorithm.loss_agg", "algorithm.norm_len", "trl.grpo_args", "algorithm.mini_batch_size"} \
        <= raised_fields(trl.check_config)
    assert {"verl.overrides", "verl.sequence_parallel", "optim.warmup_steps"} <= raised_fields(verl.check_config)


@pytest.mark.parametrize("engine", sorted(CHECKS))
def test_every_refusal_in_the_code_is_declared_and_every_declared_one_is_in_the_code(engine):
    in_code = raised_fields(CHECKS[engine]) - {"engine"}  # every engine refuses another engine's config
    declared = {row.field for row in TABLES[engine] if row.status == REFUSED}
    assert in_code - declared == set(), f"add refused rows to {engine}'s CAPABILITIES for {in_code - declared}"
    assert declared - in_code == set(), f"{engine}'s CAPABILITIES refuses {declared - in_code}; check_config does not"


ROWS = [(engine, row) for engine, table in TABLES.items() for row in table]


@pytest.mark.parametrize("engine, row", [(e, r) for e, r in ROWS if r.status == REFUSED],
                         ids=lambda x: getattr(x, "option", x))
def test_each_declared_refusal_is_raised_by_its_example(engine, row, tmp_path, plugins):
    if engine == "trl":
        pytest.importorskip("trl")
    assert row.overrides, f"{engine}: {row.option} needs an example"
    CHECKS[engine](base_config(engine, tmp_path))  # the base alone is accepted
    with pytest.raises(ConfigError) as err:
        CHECKS[engine](base_config(engine, tmp_path, *row.overrides))
    field = _field_of(str(err.value))  # a dict option's key counts as the option: trl.grpo_args.learning_rate
    assert field == row.field or field.startswith(row.field + "."), str(err.value)


def _trl_settings(tmp_path) -> set[str]:
    cfg = base_config("trl", tmp_path)
    return set(trl.grpo_args(cfg, trl.batch_plan(cfg, 1))) | set(trl._owned_keys()) | {"peft_config"}


def _verl_settings(tmp_path) -> set[str]:
    overrides = verl.verl_overrides(base_config("verl", tmp_path), verl.Layout.under(tmp_path))
    return {o.split("=", 1)[0].lstrip("+") for o in overrides} | verl._OPTIONAL_KEYS


@pytest.mark.parametrize("engine, settings", [("trl", _trl_settings), ("verl", _verl_settings)])
def test_each_mapped_option_names_settings_the_engine_sets(engine, settings, tmp_path):
    known = settings(tmp_path)
    for row in TABLES[engine]:
        assert (row.status == MAPPED) == bool(row.to), f"{engine}: {row.option}: mapped rows, and only they, name `to`"
        assert set(row.to) <= known, f"{engine}: {row.option} maps to {set(row.to) - known}, which it never sets"


def test_the_peft_config_mapping_exists(tmp_path):
    assert trl.peft_config(base_config("trl", tmp_path)) is None  # off by default; on, GRPOTrainer gets LoraConfig


@pytest.mark.parametrize("engine", sorted(TABLES))
def test_rows_name_real_fields_once(engine):
    fields = set(tree_fields())
    options = [row.option for row in TABLES[engine]]
    assert len(options) == len(set(options)), f"{engine}: an option listed twice"
    assert {Capability(o, MAPPED).field for o in options} <= fields


def test_docs_engines_md_is_the_rendered_tables():
    assert DOC.read_text(encoding="utf-8") == render_markdown(TABLES), f"docs/engines.md is stale: run `{REGENERATE}`"


def test_srpo_engines_prints_the_doc(capsys):
    from srpo.cli import main

    assert main(["engines", "--markdown"]) == 0
    assert capsys.readouterr().out == render_markdown(TABLES)
    assert main(["engines", "--engine", "verl"]) == 0
    assert "verl   refused  model.device=cpu" in capsys.readouterr().out
