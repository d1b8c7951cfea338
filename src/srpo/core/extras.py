"""How to install one of srpo's optional extras, said the way that works where srpo is installed.

srpo is installed from its source tree (``make``, or ``pip install -e .``), not from a package index, so
``pip install 'srpo[trl]'`` cannot work. An error that needs an extra names the extra's own requirements,
read from srpo's installed metadata (pyproject.toml's ``[project.optional-dependencies]``), which install
anywhere: ``pip install 'trl>=1.16'``.
"""

from __future__ import annotations

import importlib.metadata
import re

_EXTRA_MARKER = re.compile(r"""^(?P<req>[^;]+);\s*extra\s*==\s*["'](?P<extra>[^"']+)["']\s*$""")


def extra_requirements(extra: str) -> list[str]:
    """The requirements of srpo's optional extra `extra` (e.g. ``["trl>=1.16"]``), [] when it has none.

    >>> extra_requirements("trl")
    ['trl>=1.16']
    """
    try:
        requires = importlib.metadata.requires("srpo") or []
    except importlib.metadata.PackageNotFoundError:
        return []
    out = []
    for line in requires:
        match = _EXTRA_MARKER.match(line)
        if match and match["extra"] == extra:
            out.append(match["req"].strip())
    return out


def install_hint(extra: str) -> str:
    """The command that installs the extra into this Python, e.g. ``pip install 'trl>=1.16'``.

    >>> install_hint("lora")
    "pip install 'peft>=0.17' (srpo's lora extra)"
    """
    reqs = extra_requirements(extra)
    if not reqs:
        return f"pip install -e '.[{extra}]' in the srpo source tree"
    return "pip install " + " ".join(f"'{r}'" for r in reqs) + f" (srpo's {extra} extra)"
