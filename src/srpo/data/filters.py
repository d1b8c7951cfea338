"""Per-problem curation checks. Each is a pure function ``check(problem, cfg) -> Drop | None``.

A `Drop` carries a stable reason code (counted in the curation report) and a human-readable detail.
Text checks are regular expressions over the prompt (listed below, case-insensitive); code checks read the
reference solution, test code and prelude with `ast`, so a word in a docstring does not count as an import.

Reason codes: ``incomplete``, ``noise``, ``multi_part``, ``proof``, ``needs_figure``, ``not_single_answer``,
``ambiguous_answer``, ``gold_unparseable``, ``runtime_file_io``, ``runtime_network``, ``runtime_gui``,
``runtime_non_stdlib``, ``runtime_interactive`` (plus ``malformed``, ``exact_duplicate``,
``near_duplicate``, ``reference_fails``, ``no_reference`` from `srpo.data.curate`).
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass

from srpo.core.problem import Problem
from srpo.data.curate_config import CurateConfig
from srpo.data.usable import code_reason, gold_reason


@dataclass(frozen=True)
class Drop:
    """Why a problem is dropped: a reason code and a detail for people."""

    reason: str
    detail: str


_I = re.IGNORECASE
NOISE_PATTERNS = {
    "url": re.compile(r"https?://|\bwww\.[a-z0-9-]+\.", _I),
    "html tag": re.compile(r"</?(?:div|span|p|br|img|a|table|tr|td|th|font|sup|sub|center|strong|em)\b[^>]*>", _I),
    "mojibake": re.compile("\ufffd|\u00c3[\u0080-\u00bf]|\u00e2\u20ac"),
    "control character": re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"),
    "repeated punctuation": re.compile(r"([!?,;:])\1{3,}"),
}
# "(a) ... (b)" where the marker starts a clause (not f(a)), "a) ... b)" at line starts, roman numerals,
# or "Part 1/Part (a)" labels.
MULTI_PART_PATTERNS = [
    re.compile(r"(?:^|[\s:;.,])\(a\)\s[\s\S]*?(?:^|[\s:;.,])\(b\)\s", _I | re.M),
    re.compile(r"^\s*a[.)]\s[\s\S]*?^\s*b[.)]\s", _I | re.M),
    re.compile(r"(?:^|[\s:;.,])\(i\)\s[\s\S]*?(?:^|[\s:;.,])\(ii\)\s", re.M),
    re.compile(r"\bpart\s*\(?(?:1|a|i)\)?\b[\s\S]*?\bpart\s*\(?(?:2|b|ii)\)?\b", _I),
]
PROOF_PATTERN = re.compile(r"\b(?:prove|proof|show that|demonstrate that|justify that|show why)\b", _I)
FIGURE_PATTERN = re.compile(
    r"\[asy\]|\\includegraphics|<img\b|!\[[^\]]*\]\(|\b(?:figure|diagram|pictured|shown (?:below|above|here)|"
    r"as shown|the picture|the graph (?:below|above|shown)|(?:table|chart) (?:below|above)|following (?:table|chart)|"
    r"in the (?:table|chart))\b", _I)
AMBIGUOUS_ANSWERS = re.compile(
    r"^\s*(?:none|n/?a|no solution|no answer|not possible|impossible|infinitely many|cannot be determined|"
    r"undefined|answers? (?:may|will) vary|see (?:the )?(?:solution|explanation)|proof|\?+)\s*\.?\s*$", _I)
MULTI_VALUE_WORDS = re.compile(r"\s(?:or|and)\s|\\pm|\\mp|±|\\text\{\s*(?:or|and)\s*\}", _I)

NETWORK_MODULES = {"socket", "urllib", "http", "ftplib", "smtplib", "poplib", "imaplib", "telnetlib", "ssl",
                   "requests", "httpx", "aiohttp", "websocket", "websockets", "xmlrpc", "socketserver"}
GUI_MODULES = {"tkinter", "turtle", "curses", "pygame", "PyQt5", "PyQt6", "PySide2", "PySide6", "wx", "kivy",
               "pyautogui"}
FILE_MODULES = {"shutil", "glob", "tempfile", "fileinput", "pathlib"}
# os.<call> that touches the file system (list.remove / str.replace are fine: the receiver must be `os`),
# and pathlib methods whose names are unambiguous on any receiver.
OS_FILE_CALLS = {"remove", "unlink", "rmdir", "removedirs", "mkdir", "makedirs", "listdir", "scandir", "walk",
                 "rename", "replace", "chdir", "open", "system", "popen"}
PATH_FILE_CALLS = {"read_text", "write_text", "read_bytes", "write_bytes"}
RUNTIME_TEXT = {
    "runtime_interactive": re.compile(r"\binteractive (?:problem|task)|\bflush (?:the )?output|"
                                      r"\binteractor\b", _I),
    "runtime_file_io": re.compile(r"\b(?:input|output)\.txt\b|\b(?:read|write) (?:from |to )?(?:a|the) file\b", _I),
    "runtime_network": re.compile(r"\b(?:http request|download (?:the|a) |web ?socket|rest api)\b", _I),
    "runtime_gui": re.compile(r"\b(?:gui|tkinter|graphical user interface|pygame)\b", _I),
}


# ------------------------------------------------------------------------------------------ both domains


def check_incomplete(problem: Problem, cfg: "CurateConfig") -> Drop | None:
    """Empty/short/overlong prompt; math without a gold answer; code without tests the code reward can run
    (the same test as training's load check, `srpo.data.usable.code_reason`)."""
    text = problem.prompt.strip()
    if len(text) < cfg.min_prompt_chars:
        return Drop("incomplete", f"prompt has {len(text)} characters (< min_prompt_chars={cfg.min_prompt_chars})")
    if cfg.max_prompt_chars and len(text) > cfg.max_prompt_chars:
        return Drop("incomplete", f"prompt has {len(text)} characters (> max_prompt_chars={cfg.max_prompt_chars})")
    if problem.domain == "math":
        if problem.answer is None or not str(problem.answer).strip():
            return Drop("incomplete", "math problem without a gold answer")
        return None
    why = code_reason(problem)
    return Drop("incomplete", why[1]) if why else None


def check_noise(problem: Problem, cfg: "CurateConfig") -> Drop | None:
    """URLs, HTML tags, mojibake, control characters, runs of punctuation in the prompt."""
    for name, pattern in NOISE_PATTERNS.items():
        match = pattern.search(problem.prompt)
        if match:
            return Drop("noise", f"{name}: {match.group(0)[:40]!r}")
    return None


# ------------------------------------------------------------------------------------------------ math


def check_multi_part(problem: Problem, cfg: "CurateConfig") -> Drop | None:
    for pattern in MULTI_PART_PATTERNS:
        match = pattern.search(problem.prompt)
        if match:
            return Drop("multi_part", f"parts marked like {match.group(0).strip()[:40]!r}")
    return None


def check_proof(problem: Problem, cfg: "CurateConfig") -> Drop | None:
    match = PROOF_PATTERN.search(problem.prompt)
    return Drop("proof", f"asks for a proof ({match.group(0)!r})") if match else None


def check_figure(problem: Problem, cfg: "CurateConfig") -> Drop | None:
    match = FIGURE_PATTERN.search(problem.prompt)
    return Drop("needs_figure", f"refers to a figure/table ({match.group(0)!r})") if match else None


def check_answer(problem: Problem, cfg: "CurateConfig") -> Drop | None:
    """The gold must be one value: no top-level list, no "or"/"and"/±, short, few words, not a non-answer."""
    answer = (problem.answer or "").strip()
    if AMBIGUOUS_ANSWERS.match(answer):
        return Drop("ambiguous_answer", f"gold {answer!r} is not a checkable value")
    if len(answer) > cfg.max_answer_chars:
        return Drop("not_single_answer", f"gold has {len(answer)} characters (> max_answer_chars={cfg.max_answer_chars})")
    if MULTI_VALUE_WORDS.search(answer):
        return Drop("not_single_answer", f"gold {answer!r} lists alternatives")
    if _top_level_separator(answer):
        return Drop("not_single_answer", f"gold {answer!r} holds several values")
    words = re.findall(r"(?<!\\)\b[a-zA-Z]{2,}\b", re.sub(r"\\[a-zA-Z]+", " ", answer))
    if len(words) > cfg.max_answer_words:
        return Drop("not_single_answer", f"gold {answer!r} is prose ({len(words)} words > max_answer_words)")
    return None


def _top_level_separator(answer: str) -> bool:
    """A ``;`` or a ``,`` outside brackets that is not a thousands separator (``1,000``)."""
    depth = 0
    for i, ch in enumerate(answer):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch == ";":
            return True
        elif depth == 0 and ch == ",":
            thousands = i > 0 and answer[i - 1].isdigit() and re.match(r"\d{3}(?!\d)", answer[i + 1:])
            if not thousands:
                return True
    return False


def check_gold_parse(problem: Problem, cfg: "CurateConfig") -> Drop | None:
    """The math reward must be able to match the gold (training's load check, `srpo.data.usable.gold_reason`)."""
    why = gold_reason(problem.answer)
    return Drop("gold_unparseable", why[1]) if why else None


# ------------------------------------------------------------------------------------------------ code


def check_runtime(problem: Problem, cfg: "CurateConfig") -> Drop | None:
    """Code that needs files, network, a GUI, non-stdlib packages or interactive input."""
    for reason, pattern in RUNTIME_TEXT.items():
        match = pattern.search(problem.prompt)
        if match:
            return Drop(reason, f"prompt mentions {match.group(0)!r}")
    tests = problem.tests or {}
    stdio = tests.get("kind") == "stdio"
    for label, code in (("reference solution", problem.metadata.get("solution")),
                        ("test_code", tests.get("test_code")), ("prelude", tests.get("prelude"))):
        if isinstance(code, str) and code.strip():
            drop = _code_runtime(code, label, stdio, set(cfg.allowed_imports))
            if drop:
                return drop
    return None


def _code_runtime(code: str, label: str, stdio: bool, allowed: set[str]) -> Drop | None:
    try:
        tree = ast.parse(_strip_fence(code))
    except SyntaxError:
        return None  # not our call: the reference check runs it and reports the error
    for node in ast.walk(tree):
        modules = _imported(node)
        for module in modules:
            if module in allowed:
                continue
            if module in NETWORK_MODULES:
                return Drop("runtime_network", f"{label} imports {module}")
            if module in GUI_MODULES:
                return Drop("runtime_gui", f"{label} imports {module}")
            if module in FILE_MODULES:
                return Drop("runtime_file_io", f"{label} imports {module}")
            if module not in sys.stdlib_module_names:
                return Drop("runtime_non_stdlib", f"{label} imports {module}")
        if isinstance(node, ast.Call):
            drop = _call_runtime(node, label, stdio)
            if drop:
                return drop
    return None


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name.split(".")[0] for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        return [node.module.split(".")[0]]
    return []


def _call_runtime(node: ast.Call, label: str, stdio: bool) -> Drop | None:
    func = node.func
    if isinstance(func, ast.Name) and func.id == "open":
        reads_stdin = node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == 0
        if not (stdio and reads_stdin):  # open(0) is how contest code reads stdin
            return Drop("runtime_file_io", f"{label} calls open()")
    if isinstance(func, ast.Name) and func.id == "input" and not stdio:
        return Drop("runtime_interactive", f"{label} calls input() in a function task")
    if isinstance(func, ast.Attribute):
        on_os = isinstance(func.value, ast.Name) and func.value.id == "os"
        if (on_os and func.attr in OS_FILE_CALLS) or func.attr in PATH_FILE_CALLS:
            return Drop("runtime_file_io", f"{label} calls .{func.attr}()")
    return None


def _strip_fence(code: str) -> str:
    match = re.search(r"```(?:python|py)?\n([\s\S]*?)```", code)
    return match.group(1) if match else code
