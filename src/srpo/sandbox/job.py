"""One program and its tests (`SandboxJob`), and the payload the judge inside the sandbox reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from srpo.sandbox.config import SandboxConfig


@dataclass
class SandboxJob:
    """One program and its tests.

    `kind` is ``"function"`` (`calls` are argument lists for `entry_point`; `test_code` runs in the judge
    with the candidate's functions bound as proxies, and ``check(<entry_point>)`` is called if defined) or
    ``"stdio"`` (the program runs once per string in `stdins`). `prelude` is trusted source the judge also
    executes before `test_code` (imports and helpers the tests need). `timeout_s` overrides the config's.
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


def job_payload(job: SandboxJob, cfg: SandboxConfig, pidns: bool = True) -> dict[str, Any]:
    """The dict the judge reads (see _judge.py)."""
    if job.kind not in ("function", "stdio"):
        raise ValueError(f"SandboxJob.kind must be 'function' or 'stdio', got {job.kind!r}")
    return {
        "kind": job.kind, "program": job.program, "entry_point": job.entry_point,
        "calls": [list(c) for c in job.calls], "test_code": job.test_code, "prelude": job.prelude,
        "stdins": list(job.stdins), "timeout_s": float(job.timeout_s or cfg.timeout_s),
        "max_output_bytes": cfg.max_output_bytes, "pidns": pidns,
        "limits": {"memory_bytes": cfg.memory_mb << 20, "cpu_s": cfg.cpu_s, "max_procs": cfg.max_procs,
                   "file_bytes": cfg.file_mb << 20, "open_files": cfg.open_files},
    }
