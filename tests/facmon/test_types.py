"""The shared value types: one slug, one duration parser, used by every model."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from api.alerts.rules import RuleSet
from facmon.types import Duration, Slug, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        ("90", 90.0),
        ("30s", 30.0),
        ("1m30s", 90.0),
        ("2h", 7200.0),
        ("1.5m", 90.0),
        ("1d", 86_400.0),
        ("5d", 432_000.0),
        ("1d12h", 129_600.0),
        (" 15m ", 900.0),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert TypeAdapter(Duration).validate_python(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "soon", "-1s", "1w", "2s1m", "inf", "nan", True, None, float("inf"), -5]
)
def test_bad_durations(text: object) -> None:
    with pytest.raises((ValueError, ValidationError)):
        TypeAdapter(Duration).validate_python(text)


def test_a_rule_may_last_a_day() -> None:
    rules = RuleSet.model_validate({"rules": [{"id": "idle-printer", "kind": "idle", "for": "1d"}]})
    assert rules.rules[0].for_s == 86_400.0  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", ["", "A", "a b", "a/b", "x" * 65, 7])
def test_slug_refuses(bad: object) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Slug).validate_python(bad)


def _slug_fields() -> list[tuple[type[BaseModel], str]]:
    """Every field of every model in the packages whose type is (or holds) a Slug."""
    found: list[tuple[type[BaseModel], str]] = []
    seen: set[type] = set()
    for top in ("facmon", "devices", "gateway", "collector", "api"):
        package = importlib.import_module(top)
        for info in pkgutil.walk_packages(package.__path__, f"{top}."):
            if ".migrations" in info.name or info.name.endswith("__main__"):
                continue
            module = importlib.import_module(info.name)
            for value in vars(module).values():
                if (
                    isinstance(value, type)
                    and issubclass(value, BaseModel)
                    and value not in seen
                    and value.__module__ == module.__name__
                ):
                    seen.add(value)
                    for name, field in value.model_fields.items():
                        if _is_slug(field.annotation, field.metadata):
                            found.append((value, name))
    return found


def _is_slug(annotation: Any, metadata: list[Any]) -> bool:
    pattern = [getattr(m, "pattern", None) for m in metadata]
    return annotation is str and any(p is not None and "a-z0-9_-" in p for p in pattern)


def test_every_slug_field_refuses_the_empty_id() -> None:
    fields = _slug_fields()
    assert len(fields) > 20, "the scan found too few slug fields to mean anything"
    for model, name in fields:
        field = model.model_fields[name]
        lengths = [getattr(m, "min_length", None) for m in field.metadata]
        assert any(n is not None and n >= 1 for n in lengths), f"{model.__name__}.{name}"
