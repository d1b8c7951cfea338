"""Turning one raw row into a `Problem`: layouts, column mapping, and what is required.

Layouts (detected per row, or forced with ``layout=``):

``generic``
    srpo's own JSONL (``uid, domain, prompt, answer, tests, source, difficulty, metadata``) and TRL-style
    tables (a ``prompt`` column, plain text or a chat list, next to ``answer``/``solution``-like columns).
``verl``
    verl's RL parquet: ``prompt`` is a chat list, the gold answer is ``reward_model.ground_truth``, the
    benchmark is ``data_source``, the domain is ``ability``, anything else lives in ``extra_info``.
``humaneval``
    HumanEval rows (``task_id, prompt, canonical_solution, test, entry_point``).

Column mapping: ``mapping={"prompt": "question", "answer": "meta.final"}`` maps a Problem field (or
``solution``, the reference solution kept in ``metadata["solution"]``) to a column; dots reach into nested
objects. A mapped column that is missing is an error naming the row; unmapped fields are looked up among
the usual names below. Columns that feed no field are kept in ``metadata`` under their own names.

uids: a ``uid`` column (or the mapped one) is kept as is; HumanEval keeps its ``task_id``; every other row
gets the content hash of `Problem.create`, so the same problem has the same uid wherever it comes from.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from srpo.core.problem import DOMAINS, Problem, make_uid
from srpo.data.rows import DataError

MAPPABLE = ("uid", "domain", "prompt", "answer", "tests", "source", "difficulty", "metadata", "solution")

# Where each field is looked for when the mapping does not name a column (first hit wins).
CANDIDATES: dict[str, tuple[str, ...]] = {
    "uid": ("uid",),
    "domain": ("domain", "ability"),
    "prompt": ("prompt", "problem", "question"),
    "answer": ("answer", "reward_model.ground_truth", "ground_truth", "final_answer", "gold"),
    "tests": ("tests",),
    "source": ("source", "data_source"),
    "difficulty": ("difficulty", "level"),
    "metadata": ("metadata",),
    "solution": ("solution", "reference_solution", "canonical_solution"),
}
DOMAIN_ALIASES = {"math": "math", "mathematics": "math", "code": "code", "coding": "code",
                  "programming": "code", "python": "code"}
HUMANEVAL_INSTRUCTION = ("Complete the following Python function. Reply with the whole function "
                         "(and any imports it needs) in a ```python code block.\n\n")
_MISSING = object()


def detect_layout(row: dict[str, Any]) -> str:
    """``"humaneval"``, ``"verl"`` or ``"generic"`` from the columns a row has."""
    if "entry_point" in row and "test" in row and "prompt" in row:
        return "humaneval"
    if isinstance(row.get("reward_model"), dict) or isinstance(row.get("prompt"), list) and "data_source" in row:
        return "verl"
    return "generic"


def row_to_problem(row: dict[str, Any], where: str, *, mapping: dict[str, str] | None = None,
                   domain: str | None = None, source: str = "", layout: str | None = None) -> Problem:
    """Build a Problem from one row; raise `DataError` naming `where` for anything malformed."""
    mapping = dict(mapping or {})
    unknown = sorted(set(mapping) - set(MAPPABLE))
    if unknown:
        raise DataError(f"mapping: unknown field {unknown[0]!r} (known: {', '.join(MAPPABLE)})")
    layout = layout or detect_layout(row)
    if layout == "humaneval" and not mapping:
        return humaneval_problem(row, where, source=source or "humaneval")
    if layout not in ("generic", "verl", "humaneval"):
        raise DataError(f"layout: unknown {layout!r} (known: generic, verl, humaneval)")
    return _generic_problem(row, where, mapping, domain, source, verl=layout == "verl")


def _generic_problem(row: dict[str, Any], where: str, mapping: dict[str, str], domain: str | None,
                     source: str, verl: bool) -> Problem:
    used: set[str] = set()
    values = {name: _lookup(row, name, mapping, used, where) for name in MAPPABLE}
    prompt, system, messages = _prompt_text(values["prompt"], where)
    dom = _domain(values["domain"], values["tests"], domain, where)
    answer, tests = _answer_and_tests(values["answer"], values["tests"], dom, where)
    metadata = _metadata(values["metadata"], where)
    if values["solution"] is not _MISSING and values["solution"] is not None:
        metadata["solution"] = values["solution"]
    if system is not None:
        metadata["system_prompt"] = system
    if messages is not None:
        metadata["messages"] = messages
    extra_info = row.get("extra_info") if verl else None
    restored = _restore_srpo(extra_info, where) if isinstance(extra_info, dict) else {}
    if isinstance(extra_info, dict):
        used.add("extra_info")
        rest = {k: v for k, v in extra_info.items() if k not in ("srpo", "uid")}
        if rest:
            metadata["extra_info"] = rest
    for key, value in row.items():  # keep what no field took: reward functions may want it
        if key not in used and key not in metadata and key not in ("reward_model",):
            metadata[key] = value
    if restored:  # written by export_verl: its metadata is the whole truth
        metadata = dict(restored.get("metadata") or {})
    kept_uid = extra_info.get("uid") if isinstance(extra_info, dict) else None
    uid = _opt_str(values["uid"]) or kept_uid or make_uid(dom, prompt, answer, tests)
    difficulty = values["difficulty"] if values["difficulty"] is not _MISSING else restored.get("difficulty")
    return Problem(str(uid), dom, prompt, answer, tests, source=_opt_str(values["source"]) or source,
                   difficulty=_difficulty(difficulty), metadata=metadata)


def _lookup(row: dict[str, Any], name: str, mapping: dict[str, str], used: set[str], where: str) -> Any:
    if name in mapping:
        value = _get_path(row, mapping[name])
        if value is _MISSING:
            raise DataError(f"{where}: missing column {mapping[name]!r} (mapped to {name}); "
                            f"columns: {', '.join(sorted(row))}")
        used.add(mapping[name].split(".")[0])
        return value
    taken = {c.split(".")[0] for c in mapping.values()}
    for column in CANDIDATES[name]:
        if column.split(".")[0] in taken:
            continue
        value = _get_path(row, column)
        if value is not _MISSING:
            used.add(column.split(".")[0])
            return value
    if name == "prompt":
        raise DataError(f"{where}: no prompt column (looked for {', '.join(CANDIDATES['prompt'])}; "
                        f"set mapping={{'prompt': ...}}); columns: {', '.join(sorted(row))}")
    return _MISSING


def _get_path(row: dict[str, Any], path: str) -> Any:
    node: Any = row
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _prompt_text(value: Any, where: str) -> tuple[str, str | None, list | None]:
    """The user text of a prompt; a chat list gives its last user turn (system text and history kept)."""
    if isinstance(value, str):
        return value, None, None
    if isinstance(value, list) and value:
        for i, msg in enumerate(value):
            if not isinstance(msg, dict) or not isinstance(msg.get("content"), str) or "role" not in msg:
                raise DataError(f"{where}: prompt message {i} must be an object with 'role' and string 'content'")
        users = [m["content"] for m in value if m["role"] == "user"]
        if not users:
            raise DataError(f"{where}: prompt chat list has no 'user' message")
        systems = [m["content"] for m in value if m["role"] == "system"]
        history = value if sum(m["role"] != "system" for m in value) > 1 else None
        return users[-1], (systems[0] if systems else None), history
    raise DataError(f"{where}: prompt must be a string or a non-empty chat list, got {type(value).__name__}")


def _domain(value: Any, tests: Any, forced: str | None, where: str) -> str:
    if forced is not None:
        if forced not in DOMAINS:
            raise DataError(f"domain: must be one of {DOMAINS}, got {forced!r}")
        return forced
    if value is not _MISSING and value is not None:
        dom = DOMAIN_ALIASES.get(str(value).lower())
        if dom is None:
            raise DataError(f"{where}: unknown domain {value!r} (known: {', '.join(sorted(DOMAIN_ALIASES))}); "
                            f"pass domain='math' or 'code' to override")
        return dom
    return "code" if tests not in (_MISSING, None) else "math"


def _answer_and_tests(answer: Any, tests: Any, domain: str, where: str) -> tuple[str | None, dict | None]:
    answer = None if answer is _MISSING or answer == "" else answer
    tests = None if tests is _MISSING else tests
    if domain == "code" and tests is None and isinstance(answer, str) and answer.lstrip().startswith("{"):
        tests, answer = answer, None  # verl code sets keep their tests as a JSON string in ground_truth
    if isinstance(tests, str):
        try:
            tests = json.loads(tests)
        except json.JSONDecodeError as err:
            raise DataError(f"{where}: tests is not valid JSON ({err.msg})") from None
    if tests is not None and not isinstance(tests, dict):
        raise DataError(f"{where}: tests must be an object (see srpo.core.problem), got {type(tests).__name__}")
    if isinstance(answer, list):
        answer = ", ".join(str(a) for a in answer)  # several golds: curation flags them as not single-valued
    elif answer is not None and not isinstance(answer, str):
        if isinstance(answer, dict):
            raise DataError(f"{where}: answer must be a string or number, got an object")
        answer = str(answer)
    return answer, tests


def _metadata(value: Any, where: str) -> dict[str, Any]:
    if value is _MISSING or value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {"metadata": value}
    if not isinstance(value, dict):
        return {"metadata": value}
    return dict(value)


def _restore_srpo(extra_info: dict[str, Any], where: str) -> dict[str, Any]:
    blob = extra_info.get("srpo")
    if not blob:
        return {}
    try:
        data = json.loads(blob) if isinstance(blob, str) else blob
    except json.JSONDecodeError as err:
        raise DataError(f"{where}: extra_info.srpo is not valid JSON ({err.msg})") from None
    return data if isinstance(data, dict) else {}


def _opt_str(value: Any) -> str | None:
    return None if value is _MISSING or value is None or value == "" else str(value)


def _difficulty(value: Any) -> str | int | None:
    if value is _MISSING or value is None:
        return None
    return value if isinstance(value, (str, int)) and not isinstance(value, bool) else str(value)


def humaneval_problem(row: dict[str, Any], where: str, source: str = "humaneval") -> Problem:
    """A HumanEval row as a code Problem (uid = its task_id, tests kind "function" with check(candidate)).

    The prelude holds everything in the HumanEval prompt except the function to write (imports and helper
    functions such as ``is_palindrome``), so a response that gives only the function still runs. The
    reference solution (prompt + canonical_solution) goes to ``metadata["solution"]``.
    """
    for key in ("task_id", "prompt", "entry_point", "test"):
        if not isinstance(row.get(key), str):
            raise DataError(f"{where}: HumanEval row needs a string {key!r}")
    prompt, entry = row["prompt"], row["entry_point"]
    tests = {"kind": "function", "entry_point": entry, "test_code": row["test"],
             "prelude": _prelude(prompt, entry)}
    metadata = {"original_prompt": prompt}
    if isinstance(row.get("canonical_solution"), str):
        metadata["solution"] = prompt + row["canonical_solution"]
    return Problem(row["task_id"], "code", HUMANEVAL_INSTRUCTION + f"```python\n{prompt}```", None, tests,
                   source=source, metadata=metadata)


def _prelude(prompt: str, entry_point: str) -> str:
    """The prompt's top-level statements other than the entry point's definition."""
    try:
        tree = ast.parse(prompt + "    pass\n")
    except SyntaxError:
        return "\n".join(l for l in prompt.splitlines() if l.startswith(("import ", "from ")))
    keep = [ast.get_source_segment(prompt + "    pass\n", node) or "" for node in tree.body
            if not (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point)]
    return "\n\n".join(k for k in keep if k).strip() + ("\n" if keep else "")
