import sys
import types
from importlib import metadata

import pytest

from srpo.core.configlib import ConfigError
from srpo.core.registry import Registry, UnknownNameError


def test_register_get_names():
    reg = Registry("widget")

    @reg.register("b")
    def fb():
        return "b"

    @reg.register("a")
    def fa():
        return "a"

    assert reg.get("a") is fa and reg.get("b")() == "b"
    assert reg.names() == ("a", "b")
    assert "a" in reg and "c" not in reg and len(reg) == 2


def test_unknown_name_lists_known_names():
    reg = Registry("widget")
    reg.register("alpha")(lambda: None)
    reg.register("beta")(lambda: None)
    with pytest.raises(UnknownNameError) as exc:
        reg.get("gamma")
    assert str(exc.value) == "unknown widget 'gamma' (known: alpha, beta)"
    assert isinstance(exc.value, KeyError)


def test_duplicate_name_rejected():
    reg = Registry("widget")
    reg.register("x")(lambda: 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("x")(lambda: 2)


def test_check_names_the_config_field():
    reg = Registry("widget")
    reg.add("alpha", object())
    reg.check("alpha", "section.widget")
    with pytest.raises(ConfigError, match=r"^section.widget: unknown widget 'zeta' \(known: alpha\)$"):
        reg.check("zeta", "section.widget")


def test_entry_point_plugins_register_on_first_miss(monkeypatch):
    """A module named by the registry's entry-point group registers itself when a lookup misses."""
    reg = Registry("widget", entry_points="test.widgets")
    plugin = types.ModuleType("fake_widget_plugin")
    plugin.__dict__["loaded"] = False

    def load():
        reg.add("plugged", "from the plugin")
        plugin.loaded = True

    class FakeEntryPoint:
        def load(self):
            load()

    seen_groups = []

    def fake_entry_points(group):
        seen_groups.append(group)
        return [FakeEntryPoint()]

    monkeypatch.setattr(metadata, "entry_points", fake_entry_points)
    reg.add("local", "here")
    assert reg.get("local") == "here" and not plugin.loaded  # a hit loads nothing
    assert reg.get("plugged") == "from the plugin"
    assert seen_groups == ["test.widgets"]
    assert reg.names() == ("local", "plugged") and seen_groups == ["test.widgets"]  # loaded once


def test_toy_source_arrives_through_the_installed_entry_point():
    """`srpo.data` never imports the toy package; the ``toy`` prefix comes from its entry point."""
    from srpo.data.sources import DATA_SOURCES, load_source

    problems = load_source("toy:math?n=3&levels=1")
    assert len(problems) == 3 and all(p.domain == "math" for p in problems)
    assert "toy" in DATA_SOURCES.names() and "srpo.toy.suites" in sys.modules
