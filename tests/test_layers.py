"""The package's layering, read from the source with `ast` (every import counts, also those inside functions).

Layers, lowest first; a module may import its own component and any component of a lower layer, never
one of the same layer or a higher one:

    __main__                ``python -m srpo``: runs the command line
    cli                     every command-line entry point
    engines                 native/ (the loop, actor, rollout, checkpoints), one subpackage per engine
    config                  the one config tree and its presets
    toy                     the embedded tiny model and its task suites (a data source like any other)
    data, report            loading, curation, difficulty labels; the HTML report
    eval                    pass@k / avg@k, the evaluation config
    rewards, sampling, curriculum, tracking
    algo, sandbox, analysis
    core                    shared records, the registry, config machinery, jsonl io

Inside ``engines``, each engine subpackage (native/, trl/, verl/) imports only itself, the shared engine modules
(``srpo.engines.<module>``: batching, data, records, run_dir) and lower layers, never a sibling engine; the shared
modules import no engine. The one exception is `ENGINE_REUSE`: native's model loading and generation helpers,
which the TRL engine reuses rather than copies.

Independently of the layers, the module graph has no cycles (a package's ``__init__`` counts as a module,
so a submodule importing its own package while the package imports it is a cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import srpo

SRC = Path(srpo.__file__).resolve().parent

LAYERS: list[set[str]] = [
    {"core"},
    {"algo", "sandbox", "analysis"},
    {"rewards", "sampling", "curriculum", "tracking"},
    {"eval"},
    {"data", "report"},
    {"toy"},
    {"config"},
    {"engines"},
    {"cli"},
    {"__main__"},  # srpo/__main__.py: ``python -m srpo`` runs the command line
]
LAYER_OF = {component: level for level, group in enumerate(LAYERS) for component in group}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exists(module: str) -> bool:
    base = SRC.parent / module.replace(".", "/")
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _imports(path: Path) -> set[str]:
    """srpo modules imported anywhere in `path` (``from pkg import sub`` counts as importing ``pkg.sub``)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "srpo")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != "srpo":
                continue
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names if _exists(f"{module}.{a.name}"))
    found.discard(name)
    return {m for m in found if _exists(m)}


GRAPH = {_module_name(p): _imports(p) for p in sorted(SRC.rglob("*.py"))}


def _component(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_component_has_a_layer():
    components = {_component(m) for m in GRAPH} - {None}
    assert components <= set(LAYER_OF), f"add these to LAYERS: {sorted(components - set(LAYER_OF))}"


def _breaches(module: str, targets: set[str]) -> list[str]:
    """The imports of `module` that reach into another component of its own or a higher layer."""
    own = _component(module)
    if own is None:
        return []
    return sorted(t for t in targets
                  if _component(t) not in (own, None) and LAYER_OF[_component(t)] >= LAYER_OF[own])


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_import_of_the_same_or_a_higher_layer(module):
    bad = _breaches(module, GRAPH[module])
    assert not bad, f"{module} (layer {LAYER_OF[_component(module)]}) imports {bad}"


def test_engine_agnostic_parts_never_import_an_engine():
    parts = {"algo", "sampling", "curriculum", "rewards", "sandbox", "data", "eval", "analysis", "report"}
    bad = {m: sorted(t for t in targets if _component(t) in {"engines", "cli", "config"})
           for m, targets in GRAPH.items() if _component(m) in parts}
    assert not {m: t for m, t in bad.items() if t}


def test_algo_imports_only_torch_and_the_registry():
    for path in (SRC / "algo").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            for name in names:
                top = name.split(".")[0]
                assert top in {"torch", "__future__", "typing", "collections", "dataclasses", "math"} \
                    or name.startswith(("srpo.algo", "srpo.core.registry")), f"{path.name} imports {name}"


# engine -> the modules of a sibling engine it may import. native's generate function is native code through
# and through (it samples with native's rollout engines), so it stays there and is named here instead of being
# moved to a shared module.
ENGINE_REUSE: dict[str, set[str]] = {
    "trl": {"srpo.engines.native.generation"},
}


def _engine_of(module: str) -> str | None:
    """The engine subpackage `module` belongs to, ``"shared"`` for the shared engine modules, None outside
    ``srpo.engines``."""
    parts = module.split(".")
    if parts[:2] != ["srpo", "engines"]:
        return None
    if len(parts) > 2 and (SRC / "engines" / parts[2] / "__init__.py").is_file():
        return parts[2]
    return "shared"


def _sibling_breaches(module: str, targets: set[str], reuse: dict[str, set[str]] = ENGINE_REUSE) -> list[str]:
    """The imports of `module` that reach into another engine's subpackage (`reuse` aside)."""
    own = _engine_of(module)
    if own is None:
        return []
    return sorted(t for t in targets if _engine_of(t) not in (None, "shared", own) and t not in reuse.get(own, ()))


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _engine_of(m) is not None))
def test_no_engine_imports_a_sibling_engine(module):
    bad = _sibling_breaches(module, GRAPH[module])
    assert not bad, f"{module} imports another engine: {bad} (move what both need to a shared srpo.engines module)"


def test_the_engines_exist_as_the_sibling_rule_expects():
    """The rule above looks at real packages: if an engine moved, it would silently check nothing."""
    assert {_engine_of(m) for m in GRAPH} >= {"native", "trl", "verl", "shared"}
    assert all(_engine_of(m) not in (None, "shared") for names in ENGINE_REUSE.values() for m in names)
    assert all(m in GRAPH for names in ENGINE_REUSE.values() for m in names)


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycles():
    cycle = _find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_checker_sees_a_cycle_and_a_layer_breach():
    """The two checks above can fail: a made-up graph with a cycle is caught, and so is an upward import."""
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None
    assert _breaches("srpo.data.loaders", {"srpo.toy.suites", "srpo.core.problem"}) == ["srpo.toy.suites"]
    assert _breaches("srpo.rewards.scorer", {"srpo.data.formats"}) == ["srpo.data.formats"]
    assert _breaches("srpo.engines.native.trainer", {"srpo.sampling", "srpo.engines.native.actor"}) == []


def test_the_checker_sees_an_engine_importing_a_sibling():
    """The sibling rule can fail: verl reaching into the TRL engine, a shared module into native, and native
    into verl are caught; shared modules, the engine's own modules and `ENGINE_REUSE` pass."""
    assert _sibling_breaches("srpo.engines.verl.metrics", {"srpo.engines.trl.feedback", "srpo.engines.records",
                                                           "srpo.engines.verl.stream", "srpo.analysis"}) \
        == ["srpo.engines.trl.feedback"]
    assert _sibling_breaches("srpo.engines.records", {"srpo.engines.native.generation", "srpo.engines.data"}) \
        == ["srpo.engines.native.generation"]
    assert _sibling_breaches("srpo.engines.native.trainer", {"srpo.engines.verl", "srpo.engines.run_dir"}) \
        == ["srpo.engines.verl"]
    assert _sibling_breaches("srpo.engines.trl.trainer", {"srpo.engines.native.generation"}) == []
    assert _sibling_breaches("srpo.engines.verl.setup", {"srpo.engines.native.generation"}) \
        == ["srpo.engines.native.generation"]
    assert _sibling_breaches("srpo.engines.trl.trainer", {"srpo.engines.native.generation"}, reuse={}) \
        == ["srpo.engines.native.generation"]


def test_test_file_basenames_are_unique():
    """tests/ has no packages (rootdir-relative imports), so two test files of one basename stop collection."""
    from collections import Counter
    from pathlib import Path

    names = Counter(p.name for p in Path(__file__).parent.rglob("test_*.py"))
    assert [n for n, c in names.items() if c > 1] == []
