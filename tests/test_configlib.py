from dataclasses import dataclass, field
from typing import Literal

import pytest

from srpo.core.configlib import ConfigError, apply_overrides, build


@dataclass
class Inner:
    """lr: learning rate; mode: which mode."""

    lr: float = 1e-3
    mode: Literal["a", "b"] = "a"
    tags: list[str] = field(default_factory=list)

    def validate(self):
        if self.lr <= 0:
            raise ConfigError(f"lr: must be > 0, got {self.lr}")


@dataclass
class Outer:
    name: str = "x"
    inner: Inner = field(default_factory=Inner)
    limit: int | None = None


def test_build_nested_and_overrides():
    data = apply_overrides({"inner": {"lr": 1}}, ["inner.mode=b", "limit=3", "inner.tags=[u, v]"])
    assert build(Outer, apply_overrides({}, ["inner.lr=1e-5"])).inner.lr == 1e-5
    cfg = build(Outer, data)
    assert cfg.inner.lr == 1.0 and isinstance(cfg.inner.lr, float)
    assert cfg.inner.mode == "b" and cfg.limit == 3 and cfg.inner.tags == ["u", "v"]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"inner": {"lrr": 1}}, "inner.lrr: unknown field"),
        ({"inner": {"mode": "c"}}, "inner.mode: must be one of"),
        ({"inner": {"lr": -1}}, "inner.lr: must be > 0"),
        ({"limit": "many"}, "limit"),
        ({"name": 3}, "name: expected str"),
    ],
)
def test_errors_name_the_field(data, message):
    with pytest.raises(ConfigError, match=message):
        build(Outer, data)
