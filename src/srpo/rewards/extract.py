"""Pulling the part a verifier judges out of a response: the final math answer, or the code.

Pure string functions, no math-verify and no sandbox here. Every function runs in time linear in the
response's length whatever it holds (thousands of unclosed ``\\boxed{`` or ``<answer>`` included): they run
on the caller's thread, where no time limit can interrupt them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# One whitespace run before the optional colon, another only after it: two adjacent \s* backtrack
# quadratically on a long run of newlines.
_ANSWER_PHRASE = re.compile(r"the\s+(?:final\s+)?answer\s+is\s*(?:[:\-]\s*)?(.+)", re.IGNORECASE)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_BRACE = re.compile(r"[{}]")
_TOKEN = re.compile(r"[^\s$]+")
# The opening fence may follow other text on its line (e.g. ``<answer>```python``), as model outputs often
# have it; the closing fence starts a line.
_FENCE_OPEN = re.compile(r"```[ \t]*([^\n`]*)\n")
_FENCE_CLOSE = re.compile(r"^[ \t]*```", re.MULTILINE)
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
    opening, closing = f"<{tag}>", f"</{tag}>"
    found, pos = None, 0
    while (start := text.find(opening, pos)) >= 0:
        end = text.find(closing, start + len(opening))
        if end < 0:  # no later opening can be closed either
            break
        found, pos = text[start + len(opening):end], end + len(closing)
    return found


def last_boxed(text: str) -> str | None:
    r"""Content of the last ``\boxed{...}`` (balanced braces) or ``\boxed 5``, or None.

    "Last" is by where the box starts, so in ``\boxed{a \boxed{b}}`` it is ``b``; a box that is never
    closed does not count.

    >>> last_boxed(r"so \boxed{1} or rather \boxed{\frac{1}{2}}."), last_boxed(r"\boxed{2} \boxed{3")
    ('\\frac{1}{2}', '2')
    """
    closes = _matching_braces(text)
    for m in reversed(list(_BOXED.finditer(text))):
        i = m.end()
        if i < len(text) and text[i] == "{":
            if i in closes:
                return text[i + 1:closes[i]]
        elif i < len(text) and (token := _TOKEN.match(text, i)):
            return token.group(0)
    return None


def _matching_braces(text: str) -> dict[int, int]:
    """Position of each ``{`` that is closed -> position of its ``}``, in one pass."""
    opened: list[int] = []
    closes = {}
    for m in _BRACE.finditer(text):
        if m.group(0) == "{":
            opened.append(m.start())
        elif opened:
            closes[opened.pop()] = m.start()
    return closes


def answer_phrase(text: str) -> str | None:
    """What follows the last "the answer is" up to the end of its line, without a final period.

    >>> answer_phrase("First 3. So the answer is 42.\\nDone")
    '42'
    """
    matches = list(_ANSWER_PHRASE.finditer(text))
    if not matches:
        return None
    value = matches[-1].group(1).strip()
    end = len(value)
    while end and (value[end - 1] == "." or value[end - 1].isspace()):  # not re.sub(r"[.\s]+$"): quadratic
        end -= 1
    return value[:end] or None


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
    blocks, pos = [], 0
    while opening := _FENCE_OPEN.search(response, pos):
        closing = _FENCE_CLOSE.search(response, opening.end())
        if closing is None:  # no later opening can be closed either
            break
        lang = (opening.group(1).strip().split() or [""])[0].lower()
        blocks.append((lang, response[opening.end():closing.start()]))
        pos = closing.end()
    return blocks


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
