"""Load a component's configuration: a YAML file, then ``FACMON_*`` environment overrides.

Each component has one pydantic model for its configuration. :func:`load_config` reads the
file, applies the environment (``FACMON_UPLINK__URL=mqtt://...`` sets ``uplink.url``;
``__`` separates levels, a number selects a list item; values are parsed as YAML scalars),
validates once, and on any error raises :class:`ConfigError` naming the file, the line, the
field and what was wrong.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

ENV_PREFIX = "FACMON_"

M = TypeVar("M", bound=BaseModel)


class ConfigModel(BaseModel):
    """Base of every configuration model: unknown keys are errors (they are usually typos)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ConfigError(Exception):
    """A configuration could not be loaded; the message names the source and field."""


class FieldError(ValueError):
    """Raised by a cross-field validator to point at the field at fault.

    ``loc`` is relative to the model whose validator raises it, e.g. ``("points", 3, "address")``;
    error messages then name that field and its line instead of the whole model.
    """

    def __init__(self, message: str, *loc: str | int) -> None:
        """Keep the message and the location."""
        super().__init__(message)
        self.loc = loc


_SafeLoader: type[yaml.SafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)  # libyaml: 20x faster


def _read_yaml(path: Path) -> tuple[Any, dict[tuple[str | int, ...], int]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        problem = f"unacceptable character #x{code:04x}: {exc.reason}"
        raise ConfigError(f"{path}:{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid YAML: nested too deeply") from None
    except (ValueError, LookupError, AttributeError) as exc:
        # PyYAML's constructors, for a scalar its tag cannot hold: 2024-13-45 (ValueError),
        # an int of 5,000 digits (ValueError), !!bool x (KeyError), !!int '' (IndexError),
        # !!timestamp x (AttributeError)
        raise ConfigError(f"{path}: invalid YAML: a value does not fit its type ({exc})") from None
    finally:
        loader.dispose()
    lines: dict[tuple[str | int, ...], int] = {}
    if node is not None:
        _index_lines(node, lines)
    return data, lines


def _index_lines(root: yaml.Node, lines: dict[tuple[str | int, ...], int]) -> None:
    """Record the line of every value, visiting each node once.

    An alias is the node it names: a self-referring alias would recurse forever, and nested
    aliases (a "billion laughs") would be walked exponentially often. Where an alias is
    used again, its values take the line of the anchored value.
    """
    stack: list[tuple[yaml.Node, tuple[str | int, ...]]] = [(root, ())]
    seen: set[int] = set()
    while stack:
        node, loc = stack.pop()
        lines.setdefault(loc, node.start_mark.line + 1)
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack.extend((value, (*loc, str(key.value))) for key, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*loc, index)) for index, item in enumerate(node.value))


def _apply_env(data: dict[str, Any], env: Mapping[str, str], fields: set[str]) -> list[str]:
    """Overlay ``FACMON_A__B`` variables whose first level is a field; return their names."""
    applied = []
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX):
            continue
        path: list[str | int] = [
            int(p) if p.isdigit() else p.lower() for p in name[len(ENV_PREFIX) :].split("__")
        ]
        if not path or path[0] not in fields:
            continue
        try:
            value = yaml.safe_load(env[name]) if env[name] else ""
        except yaml.YAMLError:
            value = env[name]
        _set_path(data, path, value, name)
        applied.append(name)
    return applied


def _set_path(data: Any, path: list[str | int], value: Any, source: str) -> None:
    target = data
    for step, key in enumerate(path[:-1]):
        nxt = path[step + 1]
        try:
            child = target[key]
        except (KeyError, IndexError, TypeError):
            if isinstance(key, int):
                raise ConfigError(f"{source}: list index {key} does not exist") from None
            child = [] if isinstance(nxt, int) else {}
            target[key] = child
        target = child
    try:
        target[path[-1]] = value
    except (IndexError, TypeError):
        raise ConfigError(f"{source}: cannot set {'.'.join(map(str, path))}") from None


def load_config(model: type[M], path: Path | None, env: Mapping[str, str] | None = None) -> M:
    """Load and validate ``model`` from the YAML file ``path`` (optional) and the environment.

    Raises:
        ConfigError: the file is missing or not YAML, or a field is invalid; the message reads
            ``file:line: field.path: what was wrong`` (or names the environment variable).
    """
    env = os.environ if env is None else env
    data: Any = {}
    lines: dict[tuple[str | int, ...], int] = {}
    source = str(path) if path is not None else "(defaults)"
    if path is not None:
        data, lines = _read_yaml(path)
        if data is None:
            data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of settings")
    applied = _apply_env(data, env, set(model.model_fields))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, lines, applied, data)) from None


def _describe(
    exc: ValidationError,
    source: str,
    lines: dict[tuple[str | int, ...], int],
    applied: list[str],
    data: Any,
) -> str:
    messages = []
    for error in exc.errors():
        loc = _as_written(tuple(error["loc"]), data)
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, FieldError):
            loc += cause.loc
        field = _field_path(loc)
        env_name = ENV_PREFIX + "__".join(str(p).upper() for p in loc)
        origin = next((n for n in applied if env_name.startswith(n)), None)
        if origin is not None:
            where = f"{origin} (environment)"
        else:
            line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)
            where = f"{source}:{line}" if line is not None else source
        message = _printable(error["msg"].removeprefix("Value error, "))
        messages.append(f"{where}: {field}: {message}")
    return "\n".join(messages)


def _printable(text: str) -> str:
    """``text`` with control characters escaped: an input echoed back cannot break the line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _as_written(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    """Drop the segments pydantic adds for union members (``buses[0].tcp.port``)."""
    kept: list[Any] = []
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(data, dict) and isinstance(part, str) and part not in data and not last:
            continue  # a union member's tag, not a key of the file
        kept.append(part)
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            data = None
    return tuple(kept)


def _field_path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        name = str(part)
        if not name.isprintable() or name.strip() != name or not name:
            name = repr(name)  # a key with a line break, or blank: quoted, so that it shows
        text += f"[{part}]" if isinstance(part, int) else (f".{name}" if text else name)
    return text or "(top level)"
