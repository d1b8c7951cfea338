"""Detect program code written inside a (math) response.

The SRPO paper observes that after code is introduced, the model starts writing code to check its math.
We count a response as containing code when it has any of:

- a fenced block (a line starting with three backticks), whatever the language tag;
- a Python function definition at the start of a line: ``def name(...)...:``;
- a ``print(...)`` call;
- an ``import x`` / ``from x import y`` statement at the start of a line.

Prose and LaTeX rarely produce these, so false positives stay low: ``def`` needs a name, parentheses and a
colon, ``print`` needs an opening parenthesis right after it, imports must start a line in lower case.
"""

from __future__ import annotations

import re

_CODE = re.compile(
    r"^[ \t]*```"                                              # fenced block
    r"|^[ \t]*(?:async[ \t]+)?def[ \t]+[A-Za-z_]\w*[ \t]*\(.*\)[^\n]*:"  # function definition
    r"|(?<![\w.])print[ \t]*\("                                # print call (not foo.print( / blueprint()
    r"|^[ \t]*(?:from[ \t]+[A-Za-z_][\w.]*[ \t]+)?import[ \t]+[A-Za-z_]",  # import statement
    re.MULTILINE,
)


def contains_code(text: str) -> bool:
    """True when `text` contains a code block, a function definition, a print call or an import.

    >>> contains_code("Let me verify:\\n```python\\nx = 3\\n```")
    True
    >>> contains_code("def f(n):\\n    return n * n")
    True
    >>> contains_code("so print(sum(range(10))) gives 45")
    True
    >>> contains_code("By definition (def. 2) the blueprint is printed: x^2 = 4, so x = 2.")
    False
    >>> contains_code("The importance of imports: none.")
    False
    """
    return _CODE.search(text) is not None
