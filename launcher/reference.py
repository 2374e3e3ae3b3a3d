"""Render the configuration reference (docs/configuration.md) from the config models.

The reference is generated so it cannot drift from the code; a test compares the committed
file with :func:`render`.
"""

from __future__ import annotations

import types
import typing
from enum import Enum
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return " / ".join(f"`{a}`" for a in args)
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}"
    if annotation is type(None):
        return "null"
    if annotation is SecretStr:
        return "secret string"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " / ".join(f"`{m.value}`" for m in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return getattr(annotation, "__name__", str(annotation))


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    if info.default_factory is not None:
        return (
            "`[]`"
            if info.default_factory is list
            else "`{}`"
            if info.default_factory is dict
            else "(see type)"
        )
    value = info.default
    if value is None or value is PydanticUndefined:
        return "—"
    if isinstance(value, BaseModel):
        return "(see type)"
    if isinstance(value, Enum):
        value = value.value
    return f"`{value}`"


def _nested(annotation: Any) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.append(annotation)
    for arg in typing.get_args(annotation):
        found.extend(_nested(arg))
    return found


def _table(model: type[BaseModel]) -> list[str]:
    lines = [f"### {model.__name__}", ""]
    doc = (model.__doc__ or "").strip()
    if doc:
        lines += [" ".join(doc.split()), ""]
    lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        meaning = " ".join((info.description or "").split())
        lines.append(f"| `{name}` | {_type_name(info.annotation)} | {_default(info)} | {meaning} |")
    return [*lines, ""]


def render(components: dict[str, type[BaseModel]]) -> str:
    """Return the reference for ``components`` (command name → config model) as Markdown."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from the configuration models by `facmon config-reference`; do not edit.",
        "Every key can be overridden by an environment variable: `FACMON_` and the key path in",
        "upper case, levels separated by `__`, list items by their index",
        "(`FACMON_UPLINK__URL`, `FACMON_DEVICES__0__INTERVAL_S`).",
        "",
    ]
    for command, model in components.items():
        lines += [f"## facmon {command}", ""]
        seen: list[type[BaseModel]] = []
        queue = [model]
        while queue:
            current = queue.pop(0)
            if current in seen:
                continue
            seen.append(current)
            lines += _table(current)
            for info in current.model_fields.values():
                queue.extend(_nested(info.annotation))
    return "\n".join(lines).rstrip() + "\n"


def components() -> dict[str, type[BaseModel]]:
    """Return every command's configuration model."""
    from api.config import ApiConfig  # noqa: PLC0415 - avoid importing every component at start
    from collector.config import CollectorConfig  # noqa: PLC0415
    from devices.sim.model import SimConfig  # noqa: PLC0415
    from gateway.config import GatewayConfig  # noqa: PLC0415

    return {
        "gateway": GatewayConfig,
        "collector": CollectorConfig,
        "api": ApiConfig,
        "sim": SimConfig,
    }
