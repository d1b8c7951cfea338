"""Running untrusted programs: bubblewrap + rlimits + wall-clock timeouts, and a worker pool.

>>> from srpo.sandbox import SandboxConfig, SandboxJob, SandboxPool
>>> with SandboxPool(SandboxConfig(workers=1)) as pool:
...     pool.run(SandboxJob("function", "def f(x): return x*2", "f", calls=[[3]])).tests[0]["value"]
6
"""

from srpo.sandbox.backend import Backend, SandboxUnavailable
from srpo.sandbox.resolve import resolve_backend
from srpo.sandbox.config import SandboxConfig
from srpo.sandbox.job import SandboxJob, SandboxOutcome
from srpo.sandbox.pool import SandboxPool

__all__ = ["Backend", "SandboxConfig", "SandboxJob", "SandboxOutcome", "SandboxPool", "SandboxUnavailable",
           "resolve_backend"]
