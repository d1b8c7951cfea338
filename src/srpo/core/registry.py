"""The one name -> object registry behind every choice made by name in a config:

    srpo.algo                                    ADVANTAGE_ESTIMATORS, POLICY_LOSSES, LOSS_AGGREGATIONS,
                                                 KL_ESTIMATORS (algorithm.*)
    srpo.sampling.SAMPLERS                       sampler classes (sampling.name)
    srpo.rewards.REWARDS                         reward entries (rewards.<domain>[i].name)
    srpo.data.sources.DATA_SOURCES               built-in problem sources (data.train, data.heldout specs)
    srpo.data.formats.FORMATS                    data file formats (data.format)
    srpo.tracking.LOGGING_BACKENDS               metric sinks (logging.backends)
    srpo.engines.native.rollout.ROLLOUT_ENGINES  the native engine's generators (rollout.engine)

Each is declared next to its entries and filled as they are defined:

    ADVANTAGE_ESTIMATORS = Registry("advantage estimator")

    @ADVANTAGE_ESTIMATORS.register("grpo")
    def grpo_advantages(rewards_b, group_ids_b, *, eps=1e-6, std_unbiased=True): ...

    fn = ADVANTAGE_ESTIMATORS.get("grpo")

A registry may name an entry-point group (``Registry("data source", entry_points="srpo.data_sources")``):
installed packages then add entries without the registry's module importing them. Each entry point of the
group is a module that registers its entries when imported; the group is loaded on the first lookup that
misses and before names are listed. This is how the embedded toy suites reach the data loaders, which sit
below them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """`Registry.get` was asked for a name that was never registered; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class Registry(Generic[T]):
    """Maps names to objects of one kind (functions of one signature, classes of one interface)."""

    def __init__(self, kind: str, *, entry_points: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_points
        self._entries: dict[str, T] = {}
        self._plugins_loaded = entry_points is None

    def add(self, name: str, obj: T) -> T:
        """Register `obj` as `name`. Registering a taken name to another object is an error."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")
        if name in self._entries and self._entries[name] is not obj:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = obj
        return obj

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of `add`."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")
        return lambda obj: self.add(name, obj)

    def get(self, name: str) -> T:
        """The object registered as `name`; raises `UnknownNameError` naming the known ones."""
        if name not in self._entries:
            self._load_plugins()
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(self.names()) or "<none>"
            raise UnknownNameError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def names(self) -> tuple[str, ...]:
        """Registered names (plugins included), sorted."""
        self._load_plugins()
        return tuple(sorted(self._entries))

    def check(self, name: str, field: str) -> None:
        """Raise a `ConfigError` naming `field` when `name` is not registered (config validation)."""
        from srpo.core.configlib import ConfigError

        if name not in self:
            raise ConfigError(f"{field}: unknown {self.kind} {name!r} (known: {', '.join(self.names())})")

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for entry in metadata.entry_points(group=self.entry_point_group):
            entry.load()

    def __contains__(self, name: object) -> bool:
        if name not in self._entries:
            self._load_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={list(self.names())})"
