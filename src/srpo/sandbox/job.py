"""One program and its tests (`SandboxJob`), and what came back (`SandboxOutcome`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SandboxJob:
    """One program and its tests.

    `kind` is ``"function"`` (`calls` are argument lists for `entry_point`; `test_code` runs in a separate
    tester sandbox with the candidate's functions bound as proxies, and ``check(<entry_point>)`` is called
    if it defines one) or ``"stdio"`` (the program runs once per string in `stdins`). `prelude` is trusted
    source the tester executes before `test_code` (imports and helpers the tests need). `timeout_s`
    overrides the config's.
    """

    kind: str
    program: str
    entry_point: str | None = None
    calls: list[list[Any]] = field(default_factory=list)
    test_code: str | None = None
    prelude: str | None = None
    stdins: list[str] = field(default_factory=list)
    timeout_s: float | None = None

    def runs(self) -> int:
        """How many timeout periods the job may use (one per stdio case, one for function jobs)."""
        return max(1, len(self.stdins)) if self.kind == "stdio" else 1

    def check(self) -> None:
        if self.kind not in ("function", "stdio"):
            raise ValueError(f"SandboxJob.kind must be 'function' or 'stdio', got {self.kind!r}")
        if self.kind == "function" and not self.entry_point:
            raise ValueError("SandboxJob.entry_point is required for kind 'function'")


@dataclass
class SandboxOutcome:
    """What the host saw of one verification.

    `status` is ``"ok"`` (the job ran; one entry per test in `tests`), ``"timeout"`` (the program did not
    load in time) or ``"error"`` (the sandbox or the program failed before any test; see `detail`).
    `tests` holds, in order, one entry per call (``{"name": "case i", "status": "done", "value": v}`` or a
    ``timeout``/``error`` status with a ``detail``), then one for `test_code` (``pass``, ``fail``,
    ``timeout`` or ``error``); for stdio jobs one per stdin (``done`` with ``stdout`` and ``stderr``, or
    ``timeout``/``error``). The host builds every entry itself: a sandbox cannot add, drop or reorder them.
    `load_error` is set when the program itself did not load (syntax error, missing entry point, ...).
    """

    status: str
    tests: list[dict[str, Any]] = field(default_factory=list)
    load_error: str | None = None
    detail: str = ""
    seconds: float = 0.0
    pid_namespaces: list[int] = field(default_factory=list)  # of its sandboxes (bwrap mode), for inspection
