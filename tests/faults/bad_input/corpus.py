"""The hostile values and mutations every bad-input test draws from (hypothesis strategies)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from devices.library import load_profile
from devices.modbus.plan import ReadRequest, compile_plan
from devices.profile import PROFILE_DIR, Profile
from facmon.contract import (
    DataEnvelope,
)

DEPLOY = Path(__file__).parents[3] / "facmon" / "deploy"
QUICK = settings(max_examples=150, deadline=None)
"""Pure functions over small inputs: cheap, so many examples."""
FILES = settings(max_examples=60, deadline=None)
"""One file written and loaded per example."""
HTTP = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
"""One app for all examples of a test: the registry carries over, as in production."""

# --- hostile values, shared by every entry point ---------------------------------------

# fmt: off
EDGE_NUMBERS: list[Any] = [
    0, -1, 1, 2**15, 2**16, 2**31, 2**53 + 1, 2**63, -(2**63) - 1, 2**64, 10**100,
    0.5, -0.0, 1e308, 5e-324, float("nan"), float("inf"), float("-inf"),
]
EDGE_TEXTS: list[str] = [
    "", " ", "\x00", "\t\r\n", "\x1b[2J", "\u202e", "\ufeff", "\ud7ff\ue000", "温度", "😀",
    "a" * 1_100, "=cmd|' /C calc'!A0", "@SUM(1+1)", "+1", "-1", "../../etc/passwd",
    "{unit}", "{0}{unit}", "{x}{unit}", "{unit[0]}", "%s%n", "null", "~", "true", "no", "0x1F",
    "1e999", "NaN", "2024-13-45", "1694131200", "*alias", "&anchor",
    "!!python/object/apply:os.system ['true']", "a: b", "'", '"', "\\", "#", "${HOME}",
    "facmon/v1/+/#",
]
# fmt: on
hostile_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(EDGE_NUMBERS),
    st.sampled_from(EDGE_TEXTS),
)
hostile_keys = st.one_of(st.text(max_size=12), st.sampled_from(EDGE_TEXTS[:20]), st.integers())
hostile_values = st.recursive(
    hostile_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_keys, inner, max_size=3),
    max_leaves=6,
)
DEPTHS = [2, 100, 500, 900, 999, 1_001, 3_000]
"""Nesting depths around the limits of orjson, libyaml and Python's recursion."""
DEEP = re.compile(r"\"?__deep_(\d+)__\"?")


T = TypeVar("T")


def outcome(call: Callable[[], T], expected: type[Exception]) -> T | Exception:
    """What ``call`` returns, or the ``expected`` error it raises; any other error escapes."""
    try:
        return call()
    except expected as exc:
        return exc


def deep_marker(depth: int) -> str:
    """A string that :func:`serialise` turns into ``depth`` nested lists, too deep to dump."""
    return f"__deep_{depth}__"


def _locations(doc: Any) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``doc``, the root ``()`` first."""
    found: list[tuple[Any, ...]] = [()]

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            found.append((*path, key))
            if isinstance(value, dict | list):
                walk(value, (*path, key))

    if isinstance(doc, dict | list):
        walk(doc, ())
    return found


def _get(doc: Any, loc: tuple[Any, ...]) -> Any:
    for key in loc:
        doc = doc[key]
    return doc


def _retyped(value: Any) -> list[Any]:
    """Realistic wrong forms of ``value``: as text, wrapped, emptied, negated, enlarged."""
    forms: list[Any] = [str(value), [value], {"value": value}, None, ""]
    if isinstance(value, bool):
        forms += [int(value), "yes"]
    elif isinstance(value, int | float):
        forms += [-value, value * 10**6, value + 0.5, float(value), True]
    elif isinstance(value, str):
        forms += [value.upper(), value * 100, f" {value} ", value[:-1], value + "\x00"]
    elif isinstance(value, list):
        forms += [value * 50, value[:-1], {}]
    elif isinstance(value, dict):
        forms += [list(value), list(value.values()), {}]
    return forms


@st.composite
def mutants(draw: st.DrawFn, original: Any, field_names: tuple[str, ...] = ()) -> Any:
    """``original`` (a JSON- or YAML-like document) with one to three hostile changes.

    A change picks a place and replaces, deletes, wraps or retypes its value, adds a key (a
    known field name with a wrong value, or a junk key), duplicates a list item (duplicate
    ids) or moves in a value from elsewhere in the document (a right value in the wrong place).
    """
    doc = copy.deepcopy(original)
    for _ in range(draw(st.integers(1, 3))):
        locations = _locations(doc)
        loc = draw(st.sampled_from(locations))
        value = _get(doc, loc)
        operation = draw(
            st.sampled_from(["replace", "delete", "retype", "add", "duplicate", "move", "deep"])
        )
        if operation == "replace":
            new: Any = draw(hostile_values)
        elif operation == "retype":
            new = draw(st.sampled_from(_retyped(value)))
        elif operation == "move":
            new = copy.deepcopy(_get(doc, draw(st.sampled_from(locations))))
        elif operation == "deep":
            new = deep_marker(draw(st.sampled_from(DEPTHS)))
        elif operation == "add" and isinstance(value, dict):
            key = draw(st.sampled_from(field_names) | hostile_keys if field_names else hostile_keys)
            value[key] = draw(hostile_values)
            continue
        elif operation in ("add", "duplicate") and isinstance(value, list) and value:
            item = value[draw(st.integers(0, len(value) - 1))]
            extra = copy.deepcopy(item) if operation == "duplicate" else draw(hostile_values)
            value.insert(draw(st.integers(0, len(value))), extra)
            continue
        elif operation == "delete" and loc:
            parent = _get(doc, loc[:-1])
            del parent[loc[-1]]
            continue
        else:
            new = draw(hostile_values)
        if loc:
            _get(doc, loc[:-1])[loc[-1]] = new
        else:
            doc = new
    return doc


def serialise(doc: Any, form: str) -> bytes:
    """Write ``doc`` as JSON (NaN and Infinity included) or YAML, expanding deep markers."""
    if form == "json":
        text = json.dumps(doc, ensure_ascii=False, default=str)
    else:
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=1_000)
    text = DEEP.sub(lambda m: "[" * int(m[1]) + "]" * int(m[1]), text)
    return text.encode("utf-8", errors="surrogatepass")


# fmt: off
YAML_FRAGMENTS = [
    b"&a [*a]", b"a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n",
    b"2024-13-45", b"2024-01-01 25:61:00", b"2024-01-01T00:00:00+99:00", b"9" * 5_000,
    b"!!python/object/apply:os.system ['true']", b"!!binary |\n  !!!\n", b"!!int abc",
    b"!!int ''", b"!!bool maybe", b"!!float [1]", b"!!timestamp nope", b"? [a, b]\n: c\n",
    b"<<: 5", b"\t", b"{{", b"%YAML 9.9\n---\n", b"---\n---\n", b"\xef\xbb\xbf", b"\xff\xfe",
    b"\x00", b"\r", b"\xc2\x85", b"[" * 1_500, b"- " * 1_500,
]
JSON_FRAGMENTS = [
    b"NaN", b"Infinity", b"-0", b"1e400", b"123456789012345678901234567890", b'"\\ud800"',
    b'"\\u0000"', b"\xff", b"\xc3\x28", b"{", b"}", b",", b"[" * 1_100, b'{"a":' * 1_100,
    b"\xef\xbb\xbf",
]
# fmt: on


@st.composite
def corrupted(draw: st.DrawFn, data: bytes, fragments: list[bytes]) -> bytes:
    """``data`` truncated, overwritten, cut or spliced with bytes or format-specific fragments."""
    at = draw(st.integers(0, len(data)))
    piece = draw(st.binary(min_size=1, max_size=16) | st.sampled_from(fragments))
    operation = draw(st.sampled_from(["truncate", "insert", "overwrite", "cut", "flip"]))
    if operation == "truncate":
        return data[:at]
    if operation == "insert":
        return data[:at] + piece + data[at:]
    if operation == "overwrite":
        return data[:at] + piece + data[at + len(piece) :]
    if operation == "cut":
        return data[:at] + data[at + draw(st.integers(1, 64)) :]
    if not data:
        return piece
    index = min(at, len(data) - 1)
    return data[:index] + bytes([data[index] ^ draw(st.integers(1, 255))]) + data[index + 1 :]


def field_names(*models: type[BaseModel]) -> tuple[str, ...]:
    """Every field name anywhere in ``models`` (so that added keys include known ones)."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            names.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for model in models:
        walk(model.model_json_schema())
    return tuple(sorted(names))


# --- shared by the device entry points ----------------------------------------------------

TS = 1_700_000_000_000


@cache
def shipped_profiles() -> dict[str, Profile]:
    """Every profile of the shipped library, by file name."""
    return {path.name: load_profile(path) for path in sorted(PROFILE_DIR.glob("*.yaml"))}


@cache
def read_requests() -> list[tuple[Profile, ReadRequest]]:
    """Every read request of every shipped Modbus profile's plan."""
    return [
        (profile, request)
        for profile in shipped_profiles().values()
        if profile.protocol == "modbus"
        for request in compile_plan(profile).requests
    ]


def assert_contract_valid(
    profile: Profile, request: ReadRequest, values: Any, quality: Any
) -> None:
    """Every point of ``request`` has a value or a ``bad`` flag, and the envelope is valid."""
    assert {p.name for p in request.points} <= set(values) | set(quality)
    DataEnvelope.model_validate(
        {
            "ts": TS,
            "seq": 1,
            "measurement": profile.measurement,
            "values": values,
            "quality": quality,
        }
    )
