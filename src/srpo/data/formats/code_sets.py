"""Code data sets as srpo problems: HumanEval, MBPP, APPS/TACO, LiveCodeBench, CodeContests.

Each becomes ``tests`` in srpo's format (see docs/data.md): ``stdio`` cases (stdin -> expected stdout) or
``function`` cases (argument list -> expected return value) and/or ``test_code`` asserts. The reference
solution, where the set has one, goes to ``metadata["solution"]`` (``srpo curate`` runs it).

LeetCode-style functional tests (a method of ``class Solution``) get a prelude that defines a module-level
function forwarding to ``Solution().<name>``, so the harness can call it by name; a response that defines
the function at module level instead overrides the forwarder and works too.
"""

from __future__ import annotations

import ast
import base64
import builtins
import io
import json
import pickle
import re
import zlib
from typing import Any

from srpo.core.problem import Problem
from srpo.data.formats.base import Format, RowContext, json_value, register_format, require_str, rest_of_row
from srpo.data.rows import DataError

CODE_BLOCK = "Reply with your Python code in a ```python code block."
STDIO_INSTRUCTION = "\n\nWrite a Python program that reads the input from standard input and prints the answer " \
                    "to standard output. " + CODE_BLOCK
HUMANEVAL_INSTRUCTION = ("Complete the following Python function. Reply with the whole function "
                         "(and any imports it needs) in a ```python code block.\n\n")
# What LeetCode (and LiveCodeBench's harness) make available to a solution without imports.
LEETCODE_PRELUDE = ("from typing import *\nfrom collections import *\nfrom heapq import *\nfrom bisect import *\n"
                    "from itertools import *\nfrom functools import *\nimport math\n")
PYTHON3 = 3  # CodeContests' language code for Python 3


# ------------------------------------------------------------------------------------ shared test shapes


def io_tests(spec: dict[str, Any], where: str, column: str, starter_code: str = "") -> dict[str, Any]:
    """APPS-style ``{"inputs": [...], "outputs": [...], "fn_name"?}`` as srpo tests.

    Without ``fn_name``: stdio cases (list-valued inputs/outputs are joined by newlines). With it: function
    cases; APPS wraps each expected return value in a one-element list, so outputs are unwrapped when every
    one of them is such a list.

    >>> io_tests({"inputs": ["1 2\\n"], "outputs": ["3\\n"]}, "x", "input_output")["cases"]
    [{'input': '1 2\\n', 'output': '3\\n'}]
    >>> io_tests({"inputs": [[2, 3]], "outputs": [[5]], "fn_name": "add"}, "x", "input_output")["cases"]
    [{'input': [2, 3], 'output': 5}]
    """
    inputs, outputs = spec.get("inputs"), spec.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
        raise DataError(f"{where}: {column} needs 'inputs' and 'outputs' lists of the same length")
    fn_name = spec.get("fn_name")
    if not fn_name:
        return {"kind": "stdio", "cases": [{"input": _text(i), "output": _text(o)} for i, o in zip(inputs, outputs)]}
    if all(isinstance(o, list) and len(o) == 1 for o in outputs):
        outputs = [o[0] for o in outputs]
    cases = [{"input": i if isinstance(i, list) else [i], "output": o} for i, o in zip(inputs, outputs)]
    return function_tests(str(fn_name), cases, starter_code)


def function_tests(fn_name: str, cases: list[dict[str, Any]], starter_code: str) -> dict[str, Any]:
    tests: dict[str, Any] = {"kind": "function", "entry_point": fn_name, "cases": cases}
    if "class Solution" in starter_code:
        tests["prelude"] = f"{LEETCODE_PRELUDE}\n\ndef {fn_name}(*args):\n    return Solution().{fn_name}(*args)\n"
    return tests


def _text(value: Any) -> str:
    return "\n".join(map(str, value)) if isinstance(value, list) else str(value)


def _code_prompt(statement: str, starter_code: str, stdio: bool) -> str:
    if stdio:
        return statement.rstrip() + STDIO_INSTRUCTION
    if starter_code.strip():
        return f"{statement.rstrip()}\n\nComplete this code:\n```python\n{starter_code.rstrip()}\n```\n{CODE_BLOCK}"
    return f"{statement.rstrip()}\n\n{CODE_BLOCK}"


# ------------------------------------------------------------------------------------------- HumanEval


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


# ------------------------------------------------------------------------------------------------ MBPP


def mbpp_problem(row: dict[str, Any], where: str, ctx: RowContext) -> Problem:
    """MBPP (original: ``text``, ``test_setup_code``, ``challenge_test_list``; sanitized: ``prompt``,
    ``test_imports``): the asserts become ``test_code`` and are shown in the prompt, as MBPP's paper does
    (they name the function); ``code`` is the reference solution."""
    text = require_str(row, "text" if "text" in row else "prompt", where, "mbpp")
    asserts = _str_list(row.get("test_list"), where, "test_list")
    if not asserts:
        raise DataError(f"{where}: format 'mbpp' needs at least one assert in 'test_list'")
    setup = row.get("test_setup_code") or "\n".join(_str_list(row.get("test_imports"), where, "test_imports"))
    challenge = _str_list(row.get("challenge_test_list"), where, "challenge_test_list")
    code = row.get("code") if isinstance(row.get("code"), str) else None
    tests = {"kind": "function", "entry_point": _mbpp_entry(code, asserts, where),
             "test_code": "\n".join([setup, *asserts, *challenge]).strip() + "\n"}
    prompt = f"{text.strip()}\nYour code should pass these tests:\n\n" + "\n".join(asserts) + f"\n\n{CODE_BLOCK}"
    used = {"text", "prompt", "test_list", "test_setup_code", "test_imports", "challenge_test_list", "code"}
    metadata = {**rest_of_row(row, used), **({"solution": code} if code else {})}
    return Problem.create("code", prompt, tests=tests, source=ctx.source, metadata=metadata)


def _str_list(value: Any, where: str, column: str) -> list[str]:
    value = json_value(value, where, column)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{where}: column {column!r} must be a list of strings")
    return list(value)


def _mbpp_entry(code: str | None, asserts: list[str], where: str) -> str:
    """The function the asserts call: one the reference defines, else the first non-builtin they call."""
    called = []
    for line in asserts:
        try:
            tree = ast.parse(line)
        except SyntaxError:
            raise DataError(f"{where}: test_list holds a line that is not Python: {line[:80]!r}") from None
        called += [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    defined = _defined_functions(code) if code else set()
    for name in called:
        if name in defined or (not defined and not hasattr(builtins, name)):
            return name
    raise DataError(f"{where}: cannot tell which function test_list calls")


def _defined_functions(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


# -------------------------------------------------------------------------------------------- APPS/TACO


def apps_problem(row: dict[str, Any], where: str, ctx: RowContext) -> Problem:
    """APPS and TACO: ``question``; ``input_output`` (JSON: inputs, outputs, and ``fn_name`` for call-based
    problems); ``solutions`` (JSON list, the first is the reference); ``starter_code``."""
    question = require_str(row, "question", where, "apps")
    starter = row.get("starter_code") or ""
    spec = json_value(row.get("input_output"), where, "input_output")
    if spec is not None and not isinstance(spec, dict):
        raise DataError(f"{where}: column 'input_output' must be a JSON object")
    tests = io_tests(spec, where, "input_output", starter) if spec else None
    stdio = tests is None or tests["kind"] == "stdio"
    solutions = json_value(row.get("solutions"), where, "solutions") or []
    used = {"question", "starter_code", "input_output", "solutions"}
    metadata = rest_of_row(row, used)
    if isinstance(solutions, list) and solutions and isinstance(solutions[0], str):
        metadata["solution"] = solutions[0]
    return Problem.create("code", _code_prompt(question, starter, stdio), tests=tests, source=ctx.source,
                          difficulty=_opt_difficulty(row.get("difficulty")), metadata=metadata)


def _opt_difficulty(value: Any) -> str | int | None:
    return value if isinstance(value, (str, int)) and not isinstance(value, bool) else None


# ------------------------------------------------------------------------------------------ LiveCodeBench


def livecodebench_problem(row: dict[str, Any], where: str, ctx: RowContext) -> Problem:
    """LiveCodeBench code generation: ``question_content``, ``starter_code``, ``public_test_cases`` and
    ``private_test_cases`` (JSON lists of ``{input, output, testtype}``; the private ones may be LCB's
    base64 + zlib + pickle packing of that JSON, unpacked without running any pickled code).
    ``testtype`` ``stdin`` compares stdout; ``functional`` calls ``Solution().<func_name>`` with one JSON
    argument per input line."""
    content = require_str(row, "question_content", where, "livecodebench")
    starter = row.get("starter_code") or ""
    cases = _lcb_cases(row.get("public_test_cases"), where, "public_test_cases")
    cases += _lcb_cases(row.get("private_test_cases"), where, "private_test_cases")
    functional = any(c.get("testtype") == "functional" for c in cases)
    tests = _lcb_tests(cases, row, starter, where) if cases else None
    used = {"question_content", "starter_code", "public_test_cases", "private_test_cases"}
    return Problem.create("code", _code_prompt(content, starter, not functional), tests=tests, source=ctx.source,
                          difficulty=_opt_difficulty(row.get("difficulty")), metadata=rest_of_row(row, used))


def _lcb_cases(value: Any, where: str, column: str) -> list[dict[str, Any]]:
    if isinstance(value, str) and value.strip() and not value.lstrip().startswith("["):
        value = _unpack_lcb(value, where, column)
    cases = json_value(value, where, column) or []
    if not isinstance(cases, list) or not all(isinstance(c, dict) and {"input", "output"} <= set(c) for c in cases):
        raise DataError(f"{where}: column {column!r} must be a list of {{input, output, testtype}} objects")
    return cases


class _NoGlobals(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _unpack_lcb(text: str, where: str, column: str) -> str:
    """LCB's packing: base64(zlib(pickle(json string))). Only plain strings are accepted from the pickle."""
    try:
        data = _NoGlobals(io.BytesIO(zlib.decompress(base64.b64decode(text)))).load()
    except (ValueError, zlib.error, pickle.UnpicklingError, EOFError) as err:
        raise DataError(f"{where}: column {column!r} is neither JSON nor LiveCodeBench's packed form ({err})") \
            from None
    if not isinstance(data, str):
        raise DataError(f"{where}: column {column!r} unpacks to {type(data).__name__}, not a JSON string")
    return data


def _lcb_tests(cases: list[dict[str, Any]], row: dict[str, Any], starter: str, where: str) -> dict[str, Any]:
    kinds = {c.get("testtype", "stdin") for c in cases}
    if kinds - {"stdin", "functional"} or len(kinds) > 1:
        raise DataError(f"{where}: test cases mix or use unknown testtypes {sorted(kinds)}")
    if kinds == {"stdin"}:
        return {"kind": "stdio", "cases": [{"input": str(c["input"]), "output": str(c["output"])} for c in cases]}
    fn_name = _lcb_func_name(row, starter, where)
    try:
        calls = [{"input": [json.loads(line) for line in str(c["input"]).splitlines() if line.strip()],
                  "output": json.loads(c["output"])} for c in cases]
    except json.JSONDecodeError as err:
        raise DataError(f"{where}: a functional test case is not JSON ({err.msg})") from None
    return function_tests(fn_name, calls, starter)


def _lcb_func_name(row: dict[str, Any], starter: str, where: str) -> str:
    meta = json_value(row.get("metadata"), where, "metadata")
    if isinstance(meta, dict) and isinstance(meta.get("func_name"), str):
        return meta["func_name"]
    match = re.search(r"def\s+(\w+)\s*\(\s*self", starter)
    if not match:
        raise DataError(f"{where}: functional tests need metadata.func_name or a method in starter_code")
    return match.group(1)


# ------------------------------------------------------------------------------------------ CodeContests


def codecontests_problem(row: dict[str, Any], where: str, ctx: RowContext) -> Problem:
    """DeepMind CodeContests: ``description``; ``public_tests`` and ``private_tests`` (``{input: [...],
    output: [...]}``) as stdio cases (``generated_tests`` are left out: hundreds per problem); the first
    Python 3 entry of ``solutions`` is the reference."""
    description = require_str(row, "description", where, "codecontests")
    cases = []
    for column in ("public_tests", "private_tests"):
        block = json_value(row.get(column), where, column) or {}
        inputs, outputs = block.get("input") or [], block.get("output") or []
        if len(inputs) != len(outputs):
            raise DataError(f"{where}: column {column!r} has {len(inputs)} inputs but {len(outputs)} outputs")
        cases += [{"input": i, "output": o} for i, o in zip(inputs, outputs)]
    tests = {"kind": "stdio", "cases": cases} if cases else None
    used = {"description", "public_tests", "private_tests", "generated_tests", "solutions", "incorrect_solutions"}
    metadata = rest_of_row(row, used)
    reference = _python3_solution(json_value(row.get("solutions"), where, "solutions"))
    if reference:
        metadata["solution"] = reference
    return Problem.create("code", description.rstrip() + STDIO_INSTRUCTION, tests=tests, source=ctx.source,
                          metadata=metadata)


def _python3_solution(solutions: Any) -> str | None:
    if not isinstance(solutions, dict):
        return None
    for language, code in zip(solutions.get("language") or [], solutions.get("solution") or []):
        if language == PYTHON3 and isinstance(code, str):
            return code
    return None


# ------------------------------------------------------------------------------------------- detection


def _has(*columns: str) -> Any:
    return lambda row: 10 if set(columns) <= set(row) else None


register_format(Format("humaneval", "HumanEval: task_id, prompt, canonical_solution, test, entry_point",
                       _has("task_id", "prompt", "test", "entry_point"),
                       lambda row, where, ctx: humaneval_problem(row, where, ctx.source or "humaneval")))
register_format(Format("mbpp", "MBPP: text (or prompt), code, test_list, test_setup_code (or test_imports)",
                       lambda row: 10 if "test_list" in row and ({"text", "prompt"} & set(row)) else None,
                       mbpp_problem))
register_format(Format("apps", "APPS / TACO: question, input_output (JSON; fn_name for call-based), solutions, "
                               "starter_code", _has("question", "input_output"), apps_problem))
register_format(Format("livecodebench", "LiveCodeBench: question_content, starter_code, public_test_cases, "
                                        "private_test_cases (stdin and functional)",
                       _has("question_content", "public_test_cases"), livecodebench_problem))
register_format(Format("codecontests", "CodeContests: description, public_tests, private_tests, solutions",
                       _has("description", "public_tests"), codecontests_problem))
