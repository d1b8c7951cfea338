import pytest

import srpo.algo as algo
from srpo.algo.registry import Registry, UnknownNameError


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


def test_shipped_registries():
    assert algo.ADVANTAGE_ESTIMATORS.names() == ("dr_grpo", "grpo", "rloo")
    assert algo.POLICY_LOSSES.names() == ("ppo_clip",)
    assert algo.LOSS_AGGREGATIONS.names() == (
        "seq_mean_token_mean",
        "seq_mean_token_sum",
        "seq_mean_token_sum_norm",
        "token_mean",
    )
    assert algo.KL_ESTIMATORS.names() == ("k1", "k2", "k3")


def test_algo_imports_only_torch():
    import ast
    from pathlib import Path

    stdlib = {"__future__", "collections", "typing"}
    for path in Path(algo.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for mod in modules:
                ok = mod.split(".")[0] in stdlib | {"torch"} or mod.startswith("srpo.algo")
                assert ok, f"{path.name} imports {mod}"


def test_no_item_calls_in_algo():
    from pathlib import Path

    for path in Path(algo.__file__).parent.glob("*.py"):
        assert ".item()" not in path.read_text(), path.name
