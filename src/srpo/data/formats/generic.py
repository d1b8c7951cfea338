"""The formats read field by field through a column lookup (and ``data.column_mapping``): srpo, trl, verl.

``srpo``
    srpo's own JSONL (``uid, domain, prompt, answer, tests, source, difficulty, metadata``) and any table
    with a prompt-like column (``prompt``, ``problem``, ``question``) next to ``answer``/``tests``.
``trl``
    TRL's prompt datasets: ``prompt`` (text or a conversational list) and the gold in ``answer`` or in
    ``solution`` (TRL's own name; a worked solution gives its last ``\\boxed{}``, or what follows ``####``).
``verl``
    verl's RL parquet: ``prompt`` is a chat list, the gold is ``reward_model.ground_truth`` (a math answer,
    or for code a tests dict: srpo's own or APPS-style ``{"inputs", "outputs"[, "fn_name"]}``), the benchmark
    is ``data_source``, the domain is ``ability``, anything else lives in ``extra_info``.

Column mapping: ``{"prompt": "question", "answer": "meta.final"}`` maps a Problem field (or ``solution``,
the reference solution kept in ``metadata["solution"]``) to a column; dots reach into nested objects. A
mapped column that is missing is an error naming the row; unmapped fields are looked up among the usual
names below. Columns that feed no field are kept in ``metadata`` under their own names.
"""

from __future__ import annotations

import json
from typing import Any

from srpo.core.problem import DOMAINS, Problem, make_uid
from srpo.data.formats.base import Format, RowContext, final_answer, register_format
from srpo.data.formats.code_sets import io_tests
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
_MISSING = object()


def check_mapping(mapping: dict[str, str]) -> None:
    unknown = sorted(set(mapping) - set(MAPPABLE))
    if unknown:
        raise DataError(f"mapping: unknown field {unknown[0]!r} (known: {', '.join(MAPPABLE)})")


def srpo_problem(row: dict[str, Any], where: str, ctx: RowContext) -> Problem:
    return _mapped_problem(row, where, ctx, gold_in_solution=False, verl=False)


def trl_problem(row: dict[str, Any], where: str, ctx: RowContext) -> Problem:
    return _mapped_problem(row, where, ctx, gold_in_solution=True, verl=False)


def verl_problem(row: dict[str, Any], where: str, ctx: RowContext) -> Problem:
    return _mapped_problem(row, where, ctx, gold_in_solution=False, verl=True)


def _mapped_problem(row: dict[str, Any], where: str, ctx: RowContext, *, gold_in_solution: bool,
                    verl: bool) -> Problem:
    used: set[str] = set()
    values = {name: _lookup(row, name, ctx.mapping, used, where) for name in MAPPABLE}
    prompt, system, messages = _prompt_text(values["prompt"], where)
    solution = None if values["solution"] in (_MISSING, None) else values["solution"]
    answer = values["answer"]
    if gold_in_solution and answer in (_MISSING, None, "") and isinstance(solution, str):
        answer = final_answer(solution)  # TRL keeps the gold in `solution`
    answer, tests = _answer_and_tests(answer, values["tests"], where)
    dom = _domain(values["domain"], tests, ctx.domain, where)
    metadata = _metadata(values["metadata"])
    if solution is not None:
        metadata["solution"] = solution
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
        if key not in used and key not in metadata and key != "reward_model":
            metadata[key] = value
    if restored:  # written by export_verl: its metadata is the whole truth
        metadata = dict(restored.get("metadata") or {})
    kept_uid = extra_info.get("uid") if isinstance(extra_info, dict) else None
    uid = _opt_str(values["uid"]) or kept_uid or make_uid(dom, prompt, answer, tests)
    difficulty = values["difficulty"] if values["difficulty"] is not _MISSING else restored.get("difficulty")
    return Problem(str(uid), dom, prompt, answer, tests, source=_opt_str(values["source"]) or ctx.source,
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
        raise DataError(f"{where}: no prompt column (looked for {', '.join(CANDIDATES['prompt'])}); name it "
                        f"with data.column_mapping.prompt=<column> (CLI: --map prompt=<column>); "
                        f"columns: {', '.join(sorted(row))}")
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
    return "code" if tests is not None else "math"


def _answer_and_tests(answer: Any, tests: Any, where: str) -> tuple[str | None, dict | None]:
    """The gold answer and the tests dict; a tests-shaped gold (verl code sets) moves to the tests."""
    answer = None if answer is _MISSING or answer == "" else answer
    tests = None if tests is _MISSING else _json_object(tests, where, "tests")
    if tests is None and _looks_like_tests(answer):
        tests, answer = _json_object(answer, where, "ground truth"), None
    if isinstance(tests, dict) and "kind" not in tests and "inputs" in tests:
        tests = io_tests(tests, where, "tests")
    if tests is not None and not isinstance(tests, dict):
        raise DataError(f"{where}: tests must be an object (see docs/data.md), got {type(tests).__name__}")
    if isinstance(answer, list):
        answer = ", ".join(str(a) for a in answer)  # several golds: curation flags them as not single-valued
    elif answer is not None and not isinstance(answer, str):
        if isinstance(answer, dict):
            raise DataError(f"{where}: answer must be a string or number, got an object")
        answer = str(answer)
    return answer, tests


def _looks_like_tests(value: Any) -> bool:
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return False
    return isinstance(value, dict) and ("kind" in value or "inputs" in value)


def _json_object(value: Any, where: str, name: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as err:
        raise DataError(f"{where}: {name} is not valid JSON ({err.msg})") from None


def _metadata(value: Any) -> dict[str, Any]:
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


# ------------------------------------------------------------------------------------------- detection


def _detect_srpo(row: dict[str, Any]) -> int | None:
    if "prompt" in row and ({"tests", "domain", "uid"} & set(row)):
        return 6
    return 2 if {"prompt", "problem", "question"} & set(row) else None


def _detect_trl(row: dict[str, Any]) -> int | None:
    conversational = isinstance(row.get("prompt"), list)
    return 4 if "prompt" in row and ("solution" in row or conversational) and "tests" not in row else None


def _detect_verl(row: dict[str, Any]) -> int | None:
    if isinstance(row.get("reward_model"), dict):
        return 8
    return 7 if isinstance(row.get("prompt"), list) and "data_source" in row else None


register_format(Format("srpo", "srpo's own rows (uid, domain, prompt, answer | tests, ...); any prompt/problem/"
                               "question column with answer or tests", _detect_srpo, srpo_problem, mappable=True))
register_format(Format("trl", "TRL prompt sets: prompt (text or conversational), gold in answer or solution",
                       _detect_trl, trl_problem, mappable=True))
register_format(Format("verl", "verl RL parquet: chat prompt, reward_model.ground_truth, data_source, ability, "
                               "extra_info", _detect_verl, verl_problem, mappable=True))
