"""Every docstring example in the package runs as a test: the examples are part of the contract."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import srpo


def _modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(srpo.__path__, "srpo."):
        spec = importlib.util.find_spec(info.name)
        if spec and spec.origin and ">>> " in Path(spec.origin).read_text():
            names.append(info.name)
    return sorted(names)


MODULES = _modules_with_examples()


def test_discovery_finds_the_known_examples():
    assert {"srpo.rewards.extract", "srpo.sampling.history", "srpo.eval.metrics", "srpo.curriculum",
            "srpo.core.configlib"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
