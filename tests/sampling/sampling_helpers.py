"""Shared fixtures for the sampling tests: problems and deterministic fake graders."""

from __future__ import annotations

import json

from srpo.core.problem import Problem


def make_problems(n: int, domain: str = "math", prefix: str = "p") -> list[Problem]:
    return [Problem(uid=f"{prefix}{i:03d}", domain=domain, prompt=f"q{i}", answer=str(i)) for i in range(n)]


def uids(batch: list[Problem]) -> list[str]:
    return [p.uid for p in batch]


def outcome(uid: str, step: int, g: int = 4) -> list[bool]:
    """A fixed grader: kind 0 always solved, 1 never, 2 mixed, 3 solved from step 6 on."""
    kind = int(uid[-3:]) % 4
    if kind == 0 or (kind == 3 and step >= 6):
        return [True] * g
    if kind == 1 or kind == 3:
        return [False] * g
    return [True, False] * (g // 2)


def run(sampler, steps: int, n: int, start: int = 0, grader=outcome) -> list[list[str]]:
    """The trainer loop: next_batch, then one record per served prompt."""
    seen = []
    for step in range(start, start + steps):
        batch = sampler.next_batch(n)
        for p in batch:
            sampler.record(p.uid, grader(p.uid, step))
        seen.append(uids(batch))
    return seen


def json_roundtrip(state: dict) -> dict:
    return json.loads(json.dumps(state, allow_nan=False))
