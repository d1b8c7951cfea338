"""The one problem record every part of srpo keys on.

A `Problem` is a prompt plus what a verifier needs to judge a response to it: a gold answer for math, a
test specification for code. Its `uid` is stable: samplers, history resampling, curation, difficulty labels
and evaluation all refer to a problem by it.

Code tests (``Problem.tests``) are a dict with these keys (docs/data.md, "srpo's code test format", has
examples; `srpo.data.formats` converts the common data sets' tests to it):

``kind``
    ``"function"`` (HumanEval/MBPP style: call an entry point) or ``"stdio"`` (feed stdin, compare stdout).
``entry_point``
    Name of the function under test (``kind == "function"``).
``cases``
    Optional list of ``{"input": ..., "output": ...}``. For ``function``: ``input`` is the list of
    positional arguments and ``output`` the expected return value (JSON values). For ``stdio``: strings
    for stdin and the expected stdout.
``test_code``
    Optional Python source run after the solution. If it defines ``check(candidate)`` the harness calls
    ``check(<entry_point>)`` (HumanEval); otherwise it is run as is (plain ``assert`` lines, MBPP).
``prelude``
    Optional source placed before the solution (imports a HumanEval prompt carries).
``timeout_s``
    Optional per-problem wall-clock limit for the whole test run (default: the sandbox config's).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

DOMAINS = ("math", "code")


def make_uid(domain: str, prompt: str, answer: str | None = None, tests: dict | None = None) -> str:
    """A content hash: the same problem gets the same uid wherever it is loaded from.

    >>> make_uid("math", "1+1?", "2") == make_uid("math", "1+1?", "2")
    True
    """
    payload = json.dumps([domain, prompt, answer, tests], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


@dataclass
class Problem:
    """One task: a prompt and what a verifier needs to judge a response.

    Exactly one of `answer` (math) or `tests` (code) is normally set; `difficulty` is a label such as
    ``"easy"``/``"medium"``/``"hard"`` or a generator level, and `metadata` carries anything else.
    """

    uid: str
    domain: str
    prompt: str
    answer: str | None = None
    tests: dict[str, Any] | None = None
    source: str = ""
    difficulty: str | int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.domain not in DOMAINS:
            raise ValueError(f"Problem {self.uid!r}: domain must be one of {DOMAINS}, got {self.domain!r}")

    @classmethod
    def create(cls, domain: str, prompt: str, answer: str | None = None, tests: dict | None = None,
               **kwargs: Any) -> "Problem":
        """Build a problem whose uid is the hash of its content (see `make_uid`)."""
        return cls(make_uid(domain, prompt, answer, tests), domain, prompt, answer, tests, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> "Problem":
        return cls(**row)
