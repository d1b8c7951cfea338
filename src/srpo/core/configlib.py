"""Generic machinery for the config tree: dataclasses from nested dicts, YAML, `key=value` overrides.

Every concern (model, rollout, algorithm, sampling, rewards, ...) defines its own frozen dataclass; each
field is declared with `option`, which keeps its one-line documentation next to it (``srpo config`` prints
it). A class may define ``validate(self)`` that raises
`ConfigError` for bad values or combinations; the loader prefixes the dotted path of the field so the
message always names it, e.g. ``algorithm.clip_high: must be >= clip_low (0.2), got 0.1``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import textwrap
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from srpo.core.errors import UserError

T = TypeVar("T")
_DOC = "doc"
_PATH = "path"


def option(default: Any = dataclasses.MISSING, doc: str = "", *, factory: Any = dataclasses.MISSING,
           path: bool = False) -> Any:
    """A config field and its documentation, in one place::

        lr: float = option(1e-5, "peak learning rate")
        betas: list[float] = option(factory=lambda: [0.9, 0.99], doc="AdamW's betas")
        output_dir: str = option("runs/x", "the run directory", path=True)

    `path`: the value (or each string of a list) names a file or directory; `build` expands ``~`` and
    environment variables in it.
    """
    if not doc:
        raise ValueError("every config option needs its doc")
    return dataclasses.field(default=default, default_factory=factory, metadata={_DOC: doc, _PATH: path})


class ConfigError(UserError, ValueError):
    """A config value is unknown, of the wrong type, or inconsistent. The message names the field."""


def build(cls: type[T], data: dict[str, Any] | None, path: str = "") -> T:
    """Build dataclass `cls` from a (nested) dict, rejecting unknown fields and wrong types."""
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{path or '<root>'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        where = f"{path}." if path else ""
        raise ConfigError(f"{where}{unknown[0]}: unknown field (known: {', '.join(sorted(names))})")
    paths = {f.name for f in dataclasses.fields(cls) if f.metadata.get(_PATH)}
    kwargs = {k: _coerce(hints[k], expand_path(v) if k in paths else v, _join(path, k)) for k, v in data.items()}
    obj = cls(**kwargs)
    _validate_tree(obj, path)
    return obj


def expand_path(value: Any) -> Any:
    """``~`` and ``$VARS`` expanded in a path string, or in each string of a list; anything else as is.

    >>> expand_path(["~/a.jsonl", "toy:math"]) == [os.path.expanduser("~/a.jsonl"), "toy:math"]
    True
    """
    if isinstance(value, str):
        return os.path.expandvars(os.path.expanduser(value))
    if isinstance(value, list):
        return [expand_path(v) if isinstance(v, str) else v for v in value]
    return value


def _validate_tree(obj: Any, path: str) -> None:
    validate = getattr(obj, "validate", None)
    if validate is None:
        return
    try:
        validate()
    except ConfigError as err:
        raise ConfigError(f"{path}.{err}" if path else str(err)) from None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _coerce(tp: Any, value: Any, path: str) -> Any:
    """Check/convert `value` against type hint `tp` (dataclasses, Optional, list, dict, Literal, scalars)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, path)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{path}: {value!r} matches none of {tp}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{path}: must be one of {list(args)}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        return value if isinstance(value, tp) else build(tp, value, path)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        item = args[0] if args else Any
        return [_coerce(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        vt = args[1] if len(args) == 2 else Any
        return {k: _coerce(vt, v, _join(path, str(k))) for k, v in value.items()}
    return _coerce_scalar(tp, value, path)


def _coerce_scalar(tp: Any, value: Any, path: str) -> Any:
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        # YAML 1.1 reads `1e-5` (no dot) as a string; accept any float literal.
        try:
            return float(value)
        except ValueError:
            pass
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp in (str, bool) and isinstance(value, tp):
        return value
    if tp not in (int, float, str, bool):
        return value
    raise ConfigError(f"{path}: expected {tp.__name__}, got {value!r}")


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into its key path and a YAML-parsed value.

    >>> parse_override("algorithm.clip_high=0.28")
    (['algorithm', 'clip_high'], 0.28)
    """
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as err:
        raise ConfigError(f"{key.strip()}: cannot parse {raw!r} as YAML ({err.problem}); quote items that "
                          "contain ?, :, # or commas, e.g. key='[\"toy:math?n=10\"]'") from None
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set each ``dotted.key=value`` in a nested dict (creating intermediate mappings)."""
    for text in overrides:
        keys, value = parse_override(text)
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{'.'.join(keys)}: {k} is not a mapping")
        node[keys[-1]] = value
    return data


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; an empty file is an empty mapping."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def to_dict(obj: Any) -> Any:
    """A dataclass tree as plain dicts and lists (for saving next to a run)."""
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


def one_line(doc: str, width: int = 100) -> str:
    """A field doc's summary: its first sentence (a full stop not in e.g./i.e.), cut at a word near `width`.

    >>> one_line("peak learning rate. Warm-up is separate.")
    'peak learning rate.'
    >>> one_line("responses per step, e.g. 8. More is slower.")
    'responses per step, e.g. 8.'
    >>> one_line("a b c d e f", width=6)
    'a b c…'
    """
    match = re.match(r"(.*?(?<!e\.g)(?<!i\.e)\.)(?:\s|$)", doc)
    line = match.group(1) if match else doc
    return line if len(line) <= width else line[:width].rsplit(" ", 1)[0] + "…"


COMMENT_COLUMN = 44  # comments line up here; longer values push theirs right
DOC_WIDTH = 110  # a rendered line's width, past which a field's doc continues on comment lines below it


def render(cfg: Any, defaults: Any = None, brief: bool = False) -> str:
    """`cfg` as YAML that `build` reads back, each field followed by its doc as a comment: the whole doc,
    wrapped onto comment lines under the field (so choice lists and caveats stay visible), or with `brief`
    its first sentence only (`one_line`).

    With `defaults` (an instance of the same class), only the fields whose values differ are shown, with
    the sections that hold them.
    """
    lines = _render_fields(cfg, defaults, indent="")
    width = min(COMMENT_COLUMN, max((len(code) for code, _ in lines), default=0))
    out = []
    for code, doc in lines:
        if not doc:
            out.append(code)
            continue
        if len(code) > width and not brief:  # a long value: its doc goes above it, at its indentation
            indent = code[:len(code) - len(code.lstrip())]
            out += [f"{indent}# {part}" for part in _wrap(doc, DOC_WIDTH - len(indent) - 2)]
            out.append(code)
            continue
        head = code.ljust(width) + "  # "
        parts = [one_line(doc)] if brief else _wrap(doc, DOC_WIDTH - len(head))
        out.append(head + parts[0])
        out += [" " * (len(head) - 2) + "# " + part for part in parts[1:]]
    return "\n".join(out) + "\n"


def _wrap(doc: str, width: int) -> list[str]:
    return textwrap.wrap(doc, max(width, 40), break_on_hyphens=False) or [""]


def _render_fields(obj: Any, defaults: Any, indent: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for f in dataclasses.fields(obj):
        value, doc = getattr(obj, f.name), f.metadata.get(_DOC, "")
        default = getattr(defaults, f.name) if defaults is not None else None
        if defaults is not None and value == default:
            continue
        if dataclasses.is_dataclass(value):
            out.append((f"{indent}{f.name}:", doc))
            out += _render_fields(value, default, indent + "  ")
        elif value and isinstance(value, list) and all(dataclasses.is_dataclass(v) for v in value):
            out.append((f"{indent}{f.name}:", doc))
            for n, item in enumerate(value):  # the item fields' docs once, on the first item
                item_lines = [(code, doc if n == 0 else "") for code, doc in _render_fields(item, None, indent + "    ")]
                item_lines[0] = (f"{indent}  - {item_lines[0][0].lstrip()}", item_lines[0][1])
                out += item_lines
        else:
            out.append((f"{indent}{f.name}: {_flow(value)}", doc))
    return out


def _flow(value: Any) -> str:
    """One value as single-line YAML (flow style); JSON, which YAML reads, when a string holds a line break."""
    text = yaml.safe_dump([value], default_flow_style=True, width=1 << 30, allow_unicode=True).strip()[1:-1]
    return json.dumps(value, ensure_ascii=False) if "\n" in text else text
