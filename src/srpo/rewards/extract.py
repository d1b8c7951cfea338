"""Pulling the part a verifier judges out of a response: the final math answer, or the code.

Pure string functions, no math-verify and no sandbox here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ANSWER_PHRASE = re.compile(r"the\s+(?:final\s+)?answer\s+is\s*[:\-]?\s*(.+)", re.IGNORECASE)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
# The opening fence may follow other text on its line (e.g. ``<answer>```python``), as model outputs often
# have it; the closing fence starts a line.
_FENCE = re.compile(r"```[ \t]*([^\n`]*)\n(.*?)^[ \t]*```", re.DOTALL | re.MULTILINE)
PYTHON_TAGS = ("python", "py", "python3", "")


@dataclass(frozen=True)
class Extracted:
    """An extracted final answer and where it came from (``answer_tag``, ``boxed`` or ``phrase``)."""

    text: str
    source: str


def last_tag_content(text: str, tag: str) -> str | None:
    """Content of the last ``<tag>...</tag>`` pair, or None.

    >>> last_tag_content("<answer>1</answer> <answer> 2 </answer>", "answer")
    ' 2 '
    """
    matches = re.findall(rf"<{re.escape(tag)}>(.*?)</{re.escape(tag)}>", text, re.DOTALL)
    return matches[-1] if matches else None


def last_boxed(text: str) -> str | None:
    r"""Content of the last ``\boxed{...}`` (balanced braces), or None.

    >>> last_boxed(r"so \boxed{1} or rather \boxed{\frac{1}{2}}.")
    '\\frac{1}{2}'
    """
    found = None
    for m in _BOXED.finditer(text):
        i = m.end()
        if i < len(text) and text[i] == "{":
            depth, j = 0, i
            while j < len(text):
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                if depth == 0:
                    found = text[i + 1:j]
                    break
                j += 1
        elif i < len(text):  # \boxed 5
            token = re.match(r"[^\s$]+", text[i:])
            found = token.group(0) if token else found
    return found


def answer_phrase(text: str) -> str | None:
    """What follows the last "the answer is" up to the end of its line, without a final period.

    >>> answer_phrase("First 3. So the answer is 42.\\nDone")
    '42'
    """
    matches = list(_ANSWER_PHRASE.finditer(text))
    if not matches:
        return None
    value = matches[-1].group(1).split("\n")[0].strip()
    return re.sub(r"[.\s]+$", "", value) or None


def extract_answer(response: str, answer_tag: str = "answer") -> Extracted | None:
    r"""The final answer: the last ``<answer>`` tag, else the last ``\boxed{}``, else "the answer is ...".

    Inside an answer tag, a ``\boxed{}`` or "the answer is" narrows it further.

    >>> extract_answer("<think>12+7=19, 19*3=57</think><answer>57</answer>")
    Extracted(text='57', source='answer_tag')
    >>> extract_answer(r"... hence $\boxed{2\sqrt{2}}$") .text
    '2\\sqrt{2}'
    >>> extract_answer("no answer here") is None
    True
    """
    tagged = last_tag_content(response, answer_tag) if answer_tag else None
    if tagged is not None and tagged.strip():
        inner = last_boxed(tagged) or answer_phrase(tagged) or tagged
        return Extracted(inner.strip(), "answer_tag")
    boxed = last_boxed(response)
    if boxed is not None and boxed.strip():
        return Extracted(boxed.strip(), "boxed")
    phrase = answer_phrase(response)
    if phrase:
        return Extracted(phrase, "phrase")
    return None


def code_blocks(response: str) -> list[tuple[str, str]]:
    """All closed fenced blocks as ``(language_tag, code)``; the tag is lower-cased, first word only.

    >>> code_blocks("x\\n```python\\nprint(1)\\n```\\n")
    [('python', 'print(1)\\n')]
    """
    return [((lang.strip().split() or [""])[0].lower(), body) for lang, body in _FENCE.findall(response)]


def extract_code(response: str, which: str = "last", languages: tuple[str, ...] = PYTHON_TAGS) -> str | None:
    """The code to run: the last (or first, or all joined) fenced block tagged with one of `languages`.

    An untagged block counts as Python when ``""`` is in `languages`. None when there is no such block.

    >>> extract_code("```py\\na = 1\\n```\\ntext\\n```python\\ndef f():\\n    return 2\\n```")
    'def f():\\n    return 2\\n'
    >>> extract_code("<answer>```python\\ndef f(x):\\n    return x\\n```</answer>")
    'def f(x):\\n    return x\\n'
    """
    blocks = [code for lang, code in code_blocks(response) if lang in languages]
    if not blocks:
        return None
    if which == "first":
        return blocks[0]
    if which == "all":
        return "\n".join(blocks)
    if which == "last":
        return blocks[-1]
    raise ValueError(f"which: expected 'last', 'first' or 'all', got {which!r}")
