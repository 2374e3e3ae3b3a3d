"""Hostile input at every entry point that reads bytes from outside: a corpus built by hypothesis.

Each entry point is fed random mutations of a valid example — wrong types, missing and extra
keys, huge, negative and non-finite numbers, control and bidirectional characters, deep
nesting, truncated and random bytes — and must answer with its own documented error (never a
``KeyError``, ``TypeError``, ``RecursionError``, ...), whose message names what was wrong.
Where an entry point handles a batch, the good data around the bad must still come through.

The entry points: MQTT envelopes and topics; Modbus answers as the gateway decodes them and
requests as the simulator answers them; device profiles; component configurations and
alert rules; the asset ledger import (in-process ASGI app on SQLite). No network, no servers.
"""

from __future__ import annotations

import asyncio
import copy
import csv
import io
import itertools
import json
import re
import struct
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from pydantic import BaseModel

from api.alerts.config import DEFAULT_RULES
from api.alerts.rules import RulesError, load_rules
from api.config import ApiConfig
from api.main import create_app
from api.routes.ledger import COLUMNS
from collector.config import CollectorConfig
from devices.fieldbus import BusError
from devices.library import ProfileError, load_profile
from devices.mapping import MappingError, map_message
from devices.modbus import rtu
from devices.modbus.answer import answer
from devices.modbus.codec import CodecError
from devices.modbus.decoding import encode_point
from devices.modbus.memory import DeviceMemory
from devices.modbus.pdu import read_answer, read_pdu, write_pdu
from devices.modbus.plan import ReadRequest, compile_plan
from devices.modbus.tables import Table
from devices.modbus.tcp import ModbusTcpConnection
from devices.profile import PROFILE_DIR, Profile
from devices.sim.model import SimConfig
from facmon.config import ConfigError, load_config
from facmon.contract import (
    ENVELOPES,
    DataEnvelope,
    EnvelopeError,
    EventEnvelope,
    Topic,
    TopicError,
    TopicKind,
    parse_envelope,
)
from gateway.config import GatewayConfig
from tests.integration.apps import registry_services

DEPLOY = Path(__file__).parents[2] / "facmon" / "deploy"
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
_DEEP = re.compile(r"\"?__deep_(\d+)__\"?")


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
    text = _DEEP.sub(lambda m: "[" * int(m[1]) + "]" * int(m[1]), text)
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


# --- 1. MQTT envelopes and topics ------------------------------------------------------

TS = 1_700_000_000_000
GOOD_ENVELOPES: dict[TopicKind, dict[str, Any]] = {
    TopicKind.STATUS: {"state": "online", "ts": TS, "version": "0.1.0"},
    TopicKind.DATA: {
        "ts": TS,
        "seq": 7,
        "measurement": "ups",
        "values": {"v": 231.5, "on": True, "n": 3, "model": "X-1"},
        "quality": {"battery": "bad", "v": "uncertain"},
    },
    TopicKind.EVENT: {"ts": TS, "seq": 8, "type": "door_forced", "attrs": {"card": "12", "n": 1}},
    TopicKind.STATE: {
        "state": "degraded",
        "since": TS,
        "error": "timeout after 1.0 s",
        "profile": "ups",
        "report_every_s": 5.0,
        "building": "b1",
        "floor": "f2",
        "room": "r201",
    },
    TopicKind.CMD: {"id": "c-1", "ts": TS, "point": "setpoint", "value": 21.5},
    TopicKind.CMD_RESULT: {"id": "c-1", "ts": TS, "ok": False, "error": "out of range"},
    TopicKind.ALERTS: {
        "id": "a-1",
        "ts": TS,
        "state": "firing",
        "severity": "critical",
        "rule": "server-room-hot",
        "summary": "机房温度过高 28.5 °C",
        "rule_kind": "threshold",
        "device": "th-1",
        "asset": "th-1",
        "building": "b1",
        "room": "r201",
    },
    TopicKind.USAGE: {
        "ts": TS,
        "day": "2026-01-02",
        "asset": "pc-1",
        "device": "pc-1",
        "category": "office",
        "building": "b1",
        "room": "r1",
        "in_use_s": 3_600.0,
        "observed_s": 7_200.0,
    },
    TopicKind.DEADLETTER: {
        "ts": TS,
        "source": "collector-1",
        "topic": "facmon/v1/hq/gw/d/data",
        "reason": "values.v: must be finite",
        "payload_b64": "e30=",
        "payload_size": 2,
    },
}
ENVELOPE_FIELDS = field_names(*ENVELOPES.values())


def test_the_corpus_starts_from_valid_envelopes() -> None:
    assert set(GOOD_ENVELOPES) == set(ENVELOPES)
    for kind, model in ENVELOPES.items():
        assert isinstance(parse_envelope(model, serialise(GOOD_ENVELOPES[kind], "json")), model)


@st.composite
def envelope_payloads(draw: st.DrawFn) -> tuple[TopicKind, bytes, Any]:
    """A kind, a hostile payload for it, and the document it was written from (or None)."""
    kind = draw(st.sampled_from(list(ENVELOPES)))
    good = GOOD_ENVELOPES[kind]
    if draw(st.booleans()):
        doc = draw(mutants(good, ENVELOPE_FIELDS))
        return kind, serialise(doc, "json"), doc
    payload = draw(corrupted(serialise(good, "json"), JSON_FRAGMENTS))
    return kind, payload, None


@QUICK
@given(envelope_payloads())
@example((TopicKind.DATA, b'{"ts": 1, "seq": 1, "measurement": "m", "values": {"v": NaN}}', None))
@example((TopicKind.DATA, b"[" * 5_000 + b"]" * 5_000, None))
@example((TopicKind.EVENT, b'{"ts": 1, "seq": 1, "type": "t", "attrs": ' * 1_000, None))
def test_mutated_envelopes_raise_only_envelope_error_naming_the_field(
    case: tuple[TopicKind, bytes, Any],
) -> None:
    kind, payload, doc = case
    model = ENVELOPES[kind]
    envelope = outcome(lambda: parse_envelope(model, payload), EnvelopeError)
    if isinstance(envelope, EnvelopeError):
        reason = envelope.reason
        assert reason.strip()
        if isinstance(doc, dict) and not _DEEP.search(json.dumps(doc, default=str)):
            # a JSON object: the reason starts with the field at fault (or the whole object)
            where = reason.split(":", 1)[0].split(".", 1)[0]
            assert where in {*model.model_fields, "(root)"} or "JSON" in reason, reason
        return
    assert isinstance(envelope, model)
    assert parse_envelope(model, envelope.to_json()) == envelope  # what passes is canonical


GOOD_TOPICS = [
    "facmon/v1/hq/gw-1/status",
    "facmon/v1/hq/gw-1/ups-1/data",
    "facmon/v1/hq/gw-1/ups-1/event",
    "facmon/v1/hq/gw-1/ups-1/state",
    "facmon/v1/hq/gw-1/ups-1/cmd",
    "facmon/v1/hq/gw-1/ups-1/cmd/result",
    "facmon/v1/alerts/hq",
    "facmon/v1/usage/hq",
    "facmon/v1/deadletter",
]
hostile_segments = st.one_of(
    st.sampled_from(["", "+", "#", "$SYS", "v2", "V1", "HQ", "a" * 65, " hq", "hq\x00", "ü"]),
    st.sampled_from(EDGE_TEXTS),
    st.text(max_size=10),
)


@st.composite
def mutated_topics(draw: st.DrawFn) -> str:
    """A contract topic with a segment replaced, added, removed or its separators broken."""
    parts = draw(st.sampled_from(GOOD_TOPICS)).split("/")
    operation = draw(st.sampled_from(["replace", "insert", "delete", "join", "pad"]))
    at = draw(st.integers(0, len(parts) - 1))
    if operation == "replace":
        parts[at] = draw(hostile_segments)
    elif operation == "insert":
        parts.insert(at, draw(hostile_segments))
    elif operation == "delete":
        del parts[at]
    elif operation == "join":
        return draw(st.sampled_from(["//", "\\", "/ ", "\x00", ""])).join(parts)
    else:
        return draw(hostile_segments) + "/".join(parts) + draw(hostile_segments)
    return "/".join(parts)


@QUICK
@given(
    topic=st.one_of(mutated_topics(), st.text(max_size=80)),
    prefix=st.one_of(st.just("facmon"), st.sampled_from(["a/b", "", "Facmon", "+", "fac mon"])),
)
def test_random_topics_raise_only_topic_error_and_what_parses_round_trips(
    topic: str, prefix: str
) -> None:
    parsed = outcome(lambda: Topic.parse(topic, prefix), TopicError)
    if isinstance(parsed, TopicError):
        assert parsed.reason.strip()
        return
    assert str(parsed) == topic


# --- 2. Modbus frames: the gateway's decoding and the simulator's answering --------------


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


def _answer_pdu(request: ReadRequest, data: bytes) -> bytes:
    function = {Table.COIL: 1, Table.DISCRETE: 2, Table.HOLDING: 3, Table.INPUT: 4}
    return bytes((function[request.table], len(data))) + data


def _data_size(request: ReadRequest) -> int:
    return (request.count + 7) // 8 if request.table.is_bits else 2 * request.count


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


@st.composite
def device_answers(draw: st.DrawFn) -> tuple[Profile, ReadRequest, bytes]:
    """A read request and a response PDU to it: random, or a right one corrupted."""
    profile, request = draw(st.sampled_from(read_requests()))
    size = _data_size(request)
    good = _answer_pdu(request, draw(st.binary(min_size=size, max_size=size)))
    response = draw(st.binary(max_size=260) | corrupted(good, [b"\x83\x02", b"\x00", b"\xff"]))
    return profile, request, response


@QUICK
@given(device_answers())
def test_a_device_answer_is_decoded_or_refused_as_garbage_never_crashes(
    case: tuple[Profile, ReadRequest, bytes],
) -> None:
    profile, request, response = case
    block = outcome(lambda: read_answer(response, request.count, request.table.is_bits), BusError)
    if isinstance(block, BusError):
        assert str(block)
        return
    assert len(block) == (request.count if request.table.is_bits else 2 * request.count)
    values, quality = request.decode(block)
    assert_contract_valid(profile, request, values, quality)


NAN32 = struct.pack(">f", float("nan"))
INF64 = struct.pack(">d", float("inf"))


@QUICK
@given(case=st.sampled_from(read_requests()), data=st.data())
def test_a_garbled_or_cut_off_point_leaves_the_values_of_its_neighbours_alone(
    case: tuple[Profile, ReadRequest], data: st.DataObject
) -> None:
    profile, request = case
    size = _data_size(request)
    clean = data.draw(st.binary(min_size=size, max_size=size), label="clean block")
    bits = request.table.is_bits
    block: Any = (
        [bool(clean[i // 8] >> (i % 8) & 1) for i in range(request.count)] if bits else clean
    )
    before, _ = request.decode(block)
    victim = data.draw(st.sampled_from(request.points), label="garbled point")
    offset = (victim.address or 0) - request.address
    cut = bits or data.draw(st.booleans(), label="the answer ends inside the garbled point")
    if bits:
        garbled: Any = block[:offset]
    else:
        start, end = 2 * offset, 2 * (offset + victim.count)
        junk = data.draw(
            st.binary(min_size=end - start, max_size=end - start)
            | st.just((NAN32 * victim.count)[: end - start])
            | st.just((INF64 * victim.count)[: end - start])
        )
        garbled = clean[:start] + (junk[: len(junk) // 2] if cut else junk + clean[end:])
    values, quality = request.decode(garbled)
    assert_contract_valid(profile, request, values, quality)
    if cut:  # a point the answer holds only in part is flagged, never guessed
        assert quality.get(victim.name) == "bad"
    for point in request.points:
        ends_before = (point.address or 0) + point.count <= (victim.address or 0)
        if point is victim or (cut and not ends_before):
            continue
        for name in (point.name, *(f.name for f in point.flags.values())):
            assert values.get(name) == before.get(name), name
            assert name not in quality or before.get(name) is None, name


@dataclass
class _Wire(asyncio.Transport):
    """A TCP transport that keeps what the gateway writes and closes only when told."""

    sent: bytearray
    closed: bool = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Keep the bytes written."""
        self.sent += data

    def is_closing(self) -> bool:
        """Whether :meth:`close` was called."""
        return self.closed

    def close(self) -> None:
        """Mark the transport closed."""
        self.closed = True


async def exchange_over(
    reply: Callable[[int], list[bytes]], unit: int, pdu: bytes
) -> bytes | Exception:
    """Send ``pdu`` on a fake connection fed ``reply(transaction)``; the answer or the error.

    If the bytes fed do not complete the exchange, the device hangs up (so no test waits).
    """
    connection = ModbusTcpConnection()
    wire = _Wire(bytearray())
    connection.connection_made(wire)
    task = asyncio.ensure_future(connection.exchange(unit, pdu, timeout_s=30))
    await asyncio.sleep(0)
    transaction = int.from_bytes(wire.sent[:2], "big")
    for chunk in reply(transaction):
        connection.data_received(chunk)
    if not task.done():
        connection.connection_lost(None)
    try:
        return await task
    except BusError as exc:
        return exc


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    edges = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def _mbap(transaction: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", transaction, 0, len(pdu) + 1, unit) + pdu


@QUICK
@given(
    case=device_answers(),
    header=st.one_of(
        st.just("right"), st.just("random"), st.tuples(st.integers(0, 2**16 - 1), st.integers())
    ),
    cuts=st.lists(st.integers(0, 400), max_size=4),
)
async def test_an_mbap_stream_of_junk_is_answered_or_ends_in_a_bus_error_never_a_crash(
    case: tuple[Profile, ReadRequest, bytes], header: Any, cuts: list[int]
) -> None:
    profile, request, response = case
    pdu = read_pdu(_answer_pdu(request, b"")[0], request.address, request.count)

    def reply(transaction: int) -> list[bytes]:
        if header == "random":
            frame = response
        elif header == "right":
            frame = _mbap(transaction, 1, response)
        else:
            frame = struct.pack(">HHHB", header[0], header[1] % 2**16, len(response) + 1, 1)
            frame += response
        return _chunks(frame, cuts)

    answered = await exchange_over(reply, 1, pdu)
    if isinstance(answered, Exception):
        assert str(answered)
        return
    assert answered[0] == pdu[0]
    block = outcome(lambda: read_answer(answered, request.count, request.table.is_bits), BusError)
    if not isinstance(block, BusError):
        assert_contract_valid(profile, request, *request.decode(block))


@QUICK
@given(
    case=st.sampled_from(read_requests()),
    stale=st.lists(
        st.tuples(st.integers(0, 2**16 - 1), st.binary(min_size=1, max_size=40)), max_size=4
    ),
    cuts=st.lists(st.integers(0, 600), max_size=6),
    data=st.data(),
)
async def test_late_answers_to_other_requests_are_skipped_and_the_right_one_is_taken(
    case: tuple[Profile, ReadRequest],
    stale: list[tuple[int, bytes]],
    cuts: list[int],
    data: st.DataObject,
) -> None:
    _, request = case
    body = data.draw(st.binary(min_size=_data_size(request), max_size=_data_size(request)))
    right = _answer_pdu(request, body)
    pdu = read_pdu(right[0], request.address, request.count)

    def reply(transaction: int) -> list[bytes]:
        frames = [_mbap(t, 1, p) for t, p in stale if t != transaction]
        return _chunks(b"".join(frames) + _mbap(transaction, 1, right), cuts)

    assert await exchange_over(reply, 1, pdu) == right


@cache
def simulated(name: str) -> DeviceMemory:
    """The simulator's memory of a shipped Modbus profile."""
    return DeviceMemory(shipped_profiles()[name], seed=1)


MODBUS_PROFILES = sorted(n for n, p in shipped_profiles().items() if p.protocol == "modbus")


@st.composite
def requests_to_simulator(draw: st.DrawFn) -> bytes:
    """A request PDU: random bytes, or a valid read or write corrupted."""
    valid = draw(
        st.one_of(
            st.builds(read_pdu, st.integers(1, 4), st.integers(0, 2**16 - 1), st.integers(0, 300)),
            st.builds(
                write_pdu,
                st.sampled_from([0x0F, 0x10]),
                st.integers(0, 300),
                st.lists(st.integers(0, 2**16 - 1), min_size=1, max_size=10),
            ),
            st.builds(
                lambda f, a, v: struct.pack(">BHH", f, a, v),
                st.sampled_from([5, 6]),
                st.integers(0, 300),
                st.sampled_from([0, 0xFF00, 0x1234]),
            ),
        )
    )
    return draw(st.binary(max_size=260) | st.just(valid) | corrupted(valid, [b"\x00", b"\xff"]))


@QUICK
@given(name=st.sampled_from(MODBUS_PROFILES), pdu=requests_to_simulator())
@example(name="ups.yaml", pdu=b"")
@example(name="ups.yaml", pdu=b"\x0f\x00\x00\x00\x08\x01")
def test_the_simulator_answers_any_request_pdu_with_a_response_or_an_exception(
    name: str, pdu: bytes
) -> None:
    function = pdu[0] if pdu else 0
    response = answer(simulated(name), pdu)
    assert response[0] in (function, function | 0x80)
    if response[0] != function:
        assert len(response) == 2
        assert response[1] in (1, 2, 3)


@QUICK
@given(
    head=st.binary(min_size=7, max_size=7),
    frame=st.builds(rtu.frame, st.integers(0, 255), st.binary(min_size=1, max_size=252)),
    data=st.data(),
)
def test_rtu_framing_sizes_any_request_and_a_changed_byte_never_passes_the_crc(
    head: bytes, frame: bytes, data: st.DataObject
) -> None:
    length = rtu.request_length(head)
    assert length is None or 8 <= length <= 9 + 255
    assert rtu.check(frame)
    at = data.draw(st.integers(0, len(frame) - 1))
    changed = frame[:at] + bytes([frame[at] ^ data.draw(st.integers(1, 255))]) + frame[at + 1 :]
    assert not rtu.check(changed)
    assert isinstance(rtu.check(data.draw(st.binary(max_size=300))), bool)


MQTT_PROFILES = sorted(n for n, p in shipped_profiles().items() if p.protocol == "mqtt")
MQTT_MESSAGES = {
    "door-controller.yaml": {
        "door": "open",
        "reader": 2,
        "tamper": False,
        "event": "granted",
        "card": "12345",
    },
    "motion-sensor.yaml": {"motion": True, "tamper": True, "battery_pct": 97, "temp_c": 21.5},
    "vehicle-tracker.yaml": {
        "gps": {"lat": 31.2, "lon": 121.5, "speed_kmh": 42.0, "heading": 90},
        "ign": 1,
        "odo_km": 12345.6,
        "fuel_pct": 55,
        "event": "sos",
    },
}


@QUICK
@given(name=st.sampled_from(MQTT_PROFILES), data=st.data())
@example(  # an event attribute past 64 bits made the gateway's ingest raise ValidationError
    name="door-controller.yaml", data=b'{"event": "granted", "reader": 9223372036854775808}'
)
def test_an_mqtt_device_message_maps_to_contract_values_or_raises_mapping_error(
    name: str, data: st.DataObject | bytes
) -> None:
    profile = shipped_profiles()[name]
    good = serialise(MQTT_MESSAGES[name], "json")
    payload = (
        data
        if isinstance(data, bytes)
        else data.draw(
            st.builds(serialise, mutants(MQTT_MESSAGES[name]), st.just("json"))
            | corrupted(good, JSON_FRAGMENTS)
        )
    )
    mapped = outcome(lambda: map_message(profile, payload), MappingError)
    if isinstance(mapped, MappingError):
        assert str(mapped)
        return
    if mapped.values or mapped.quality:
        DataEnvelope.model_validate(
            {
                "ts": TS,
                "seq": 1,
                "measurement": profile.measurement,
                "values": mapped.values,
                "quality": mapped.quality,
            }
        )
    for kind, attrs in mapped.events:
        EventEnvelope.model_validate({"ts": TS, "seq": 1, "type": kind, "attrs": attrs})


# --- 3 and 4. Profiles, configurations and rules as YAML files -------------------------


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the files written by the examples (one file per name, rewritten)."""
    return tmp_path_factory.mktemp("bad-input")


_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YamlCase = tuple[str, bytes, Any]
"""A file name, the hostile bytes written under it, and the document they hold (or None)."""


@st.composite
def yaml_files(draw: st.DrawFn, source: Path, names: tuple[str, ...]) -> YamlCase:
    """A hostile copy of ``source``: its document mutated and dumped, or its bytes corrupted."""
    original = source.read_bytes()
    if draw(st.booleans()):
        text = serialise(draw(mutants(yaml.safe_load(original), names)), "yaml")
        try:  # as read back: a YAML dump does not keep every character of a key
            return source.name, text, yaml.load(text, _LOADER)
        except (yaml.YAMLError, ValueError, RecursionError):
            return source.name, text, None
    return source.name, draw(corrupted(original, YAML_FRAGMENTS) | st.binary(max_size=200)), None


def written(folder: Path, case: YamlCase) -> Path:
    """Write the case's bytes under its name in ``folder``; return the path."""
    path = folder / case[0]
    path.write_bytes(case[1])
    return path


def assert_names_file_and_field(message: str, path: Path, doc: Any, model: type[BaseModel]) -> None:
    """Every line reads ``file[:line]: ...``; for a mapping, ``file[:line]: field: what``."""
    assert message.strip()
    head = re.escape(str(path))
    for line in message.splitlines():
        assert re.match(rf"{head}(:\d+)?: \S", line), message
    if isinstance(doc, dict) and not _DEEP.search(str(doc)):
        known = {*model.model_fields, *map(str, doc), *map(repr, map(str, doc)), "(top level)"}
        for line in message.splitlines():
            field = re.sub(rf"^{head}(:\d+)?: ", "", line)
            assert any(field.startswith((k, f"[{k}]")) for k in known) or "YAML" in field, line


PROFILE_FIELDS = field_names(Profile)
POINT = (
    "name: x\nvendor: v\nmodel: m\ncategory: energy\nmeasurement: x\n"
    "points:\n  - {name: a, table: holding, address: 0, type: float32, "
)
"""The start of a one-point profile; a case adds the point's last keys and ``}``."""
INT16_POINT = POINT.replace("float32", "int16")


@FILES
@given(
    case=st.sampled_from(sorted(PROFILE_DIR.glob("*.yaml"))).flatmap(
        lambda source: yaml_files(source, PROFILE_FIELDS)
    )
)
@example(case=("ups.yaml", b"points: &p [*p]\n", None))
@example(case=("inf.yaml", (INT16_POINT + "offset: .inf}\n").encode(), None))  # ValueError
@example(case=("zero.yaml", (POINT + "scale: 0, access: rw}\n").encode(), None))  # ZeroDivision
@example(case=("tiny.yaml", (INT16_POINT + "scale: 1e-10, access: rw}\n").encode(), None))
def test_mutated_profiles_raise_only_profile_error_naming_file_and_field(
    scratch: Path, case: YamlCase
) -> None:
    path = written(scratch, case)
    profile = outcome(lambda: load_profile(path), ProfileError)
    if isinstance(profile, ProfileError):
        assert_names_file_and_field(str(profile), path, case[2], Profile)
        return
    if profile.protocol != "modbus":
        return
    # what the library accepts, the gateway can decode, and write to
    for request in compile_plan(profile).requests:
        for block in (bytes(range(256)), b"\x7f\x7f\xff\xff" * 64, b"\xff" * 256):
            data = (block * (request.count // 128 + 1))[: 2 * request.count]
            assert_contract_valid(profile, request, *request.decode(data))
    for point in profile.points:
        if point.access == "rw":
            for value in (True, 1, -1.5, 1e300, "on", point.min or 0, point.max or 0):
                outcome(lambda: encode_point(point, value), CodecError)  # noqa: B023 - called now


def test_a_value_scaled_past_the_float_range_is_flagged_bad_and_its_neighbour_kept(
    scratch: Path,
) -> None:
    second = "  - {name: b, table: holding, address: 2, type: float32}\n"
    path = written(scratch, ("huge.yaml", (POINT + "scale: 1e300}\n" + second).encode(), None))
    profile = load_profile(path)
    (request,) = compile_plan(profile).requests
    values, quality = request.decode(struct.pack(">ff", 3e38, 1.5))
    assert (values, quality) == ({"b": 1.5}, {"a": "bad"})
    assert_contract_valid(profile, request, values, quality)


CONFIGS: list[tuple[type[BaseModel], Path]] = [
    (GatewayConfig, DEPLOY / "gateway.yaml"),
    (CollectorConfig, DEPLOY / "collector.yaml"),
    (ApiConfig, DEPLOY / "api.yaml"),
    (SimConfig, DEPLOY / "sim.yaml"),
]
YAML_TRAPS = [
    b"site: hq\ngateway: g\nnote: 2024-13-45\n",  # ValueError from the date constructor
    b"site: hq\ngateway: g\nnote: " + b"9" * 5_000 + b"\n",  # ValueError: int of 5,000 digits
    b"site: hq\ngateway: g\nnote: &a [*a]\n",  # RecursionError indexing lines
    b"site: hq\ngateway: g\nnote: " + b"[" * 990 + b"]" * 990 + b"\n",  # RecursionError
    b"a0: &a0 [x, x, x, x, x, x, x, x, x]\n"  # nine levels of nine aliases: 9**9 values
    + b"".join(
        b"a%d: &a%d [%s]\n" % (n, n, b", ".join([b"*a%d" % (n - 1)] * 9)) for n in range(1, 9)
    ),
    b"site: hq\ngateway: g\n'\\x85': 1\n\"\\r\": 2\n",  # keys that break a line
    b"\x00site: hq\n",  # a character YAML refuses
    b"site: !!timestamp x\n",  # AttributeError from the timestamp constructor
    b"site: !!bool x\n",  # KeyError
    b"site: !!int ''\n",  # IndexError
]
YAML_TRAP_NAMES = [
    "bad-date", "huge-int", "self-alias", "deep", "billion-laughs", "line-break-keys", "nul",
    "bad-timestamp", "bad-bool", "empty-int",
]  # fmt: skip


@FILES
@pytest.mark.parametrize(("model", "source"), CONFIGS, ids=[m.__name__ for m, _ in CONFIGS])
@given(data=st.data())
def test_mutated_configs_raise_only_config_error_naming_file_line_and_field(
    scratch: Path, model: type[BaseModel], source: Path, data: st.DataObject
) -> None:
    case = data.draw(yaml_files(source, field_names(model)))
    path = written(scratch, case)
    error = outcome(lambda: load_config(model, path, env={}), ConfigError)
    if isinstance(error, ConfigError):
        assert_names_file_and_field(str(error), path, case[2], model)


@pytest.mark.parametrize("text", YAML_TRAPS, ids=YAML_TRAP_NAMES)
@pytest.mark.parametrize("model", [m for m, _ in CONFIGS], ids=[m.__name__ for m, _ in CONFIGS])
def test_yaml_traps_raise_config_error_naming_the_file(
    scratch: Path, model: type[BaseModel], text: bytes
) -> None:
    path = written(scratch, ("trap.yaml", text, None))
    with pytest.raises(ConfigError) as raised:
        load_config(model, path, env={})
    assert_names_file_and_field(str(raised.value), path, None, model)


@pytest.fixture(scope="module")
def gateway_with_templates(scratch: Path) -> Path:
    """The deployed gateway configuration plus a device template (ids made from unit ids)."""
    doc = yaml.safe_load((DEPLOY / "gateway.yaml").read_bytes())
    doc["templates"] = [
        {"id": "meter-{unit:02d}", "units": "3-5,9", "profile": "ups", "bus": "rs485-1"}
    ]
    path = scratch / "templates" / "gateway.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(doc))
    load_config(GatewayConfig, path, env={})
    return path


def _template(key: str, value: str) -> YamlCase:
    doc = yaml.safe_load((DEPLOY / "gateway.yaml").read_bytes())
    doc["templates"] = [{"id": "m-{unit}", "units": "1-3", "profile": "ups", "bus": "rs485-1"}]
    doc["templates"][0][key] = value
    return "gateway.yaml", serialise(doc, "yaml"), doc


@FILES
@given(data=st.data())
@example(data=_template("id", "m{unit}{0}"))  # IndexError from str.format
@example(data=_template("id", "m{unit}{x}"))  # KeyError
@example(data=_template("id", "m{unit[0]}"))  # TypeError
@example(data=_template("id", "m{unit.x}"))  # AttributeError
@example(data=_template("id", "m{unit:0999999999d}"))  # a 1 GB id
@example(data=_template("units", "1-99999999999"))  # a list of 10**11 unit ids
def test_mutated_device_templates_raise_only_config_error(
    scratch: Path, gateway_with_templates: Path, data: st.DataObject | YamlCase
) -> None:
    names = field_names(GatewayConfig)
    case = data if isinstance(data, tuple) else data.draw(yaml_files(gateway_with_templates, names))
    path = written(scratch, case)
    error = outcome(lambda: load_config(GatewayConfig, path, env={}), ConfigError)
    if isinstance(error, ConfigError):
        assert_names_file_and_field(str(error), path, case[2], GatewayConfig)


RULES_FIELDS = ("rules", "calendars", "places", "inhibit", "kind", "id", "for", "timezone")
RULES_SETTINGS = settings(FILES, max_examples=40)
"""The rules are read with PyYAML's pure-Python loader: slower."""


@RULES_SETTINGS
@given(case=yaml_files(DEFAULT_RULES, RULES_FIELDS), after_defaults=st.booleans())
@example(case=("rules.yaml", b"1: a\nzones: b\n", None), after_defaults=False)  # sorted() TypeError
@example(case=("rules.yaml", b"\xff\xfe\x00r\x00", None), after_defaults=False)  # UnicodeError
@example(case=("rules.yaml", b"rules: " + b"[" * 3_000, None), after_defaults=True)  # Recursion
@example(case=("rules.yaml", b"rules: [{id: a, x: 2024-13-45}]", None), after_defaults=False)
@example(case=("rules.yaml", b"rules: [{id: !!timestamp x}]", None), after_defaults=False)
@example(case=("rules.yaml", b"rules: [{id: !!bool x}]", None), after_defaults=False)
def test_mutated_rules_raise_only_rules_error_naming_the_file(
    scratch: Path, case: YamlCase, after_defaults: bool
) -> None:
    path = written(scratch, case)
    error = outcome(
        lambda: load_rules(*([DEFAULT_RULES] if after_defaults else []), path), RulesError
    )
    if isinstance(error, RulesError):
        assert str(error).startswith(str(path)) or str(path) in str(error).split(": ", 1)[0]
        assert str(error).split(": ", 1)[1].strip()


# --- 5. The asset ledger import --------------------------------------------------------


@dataclass
class Ledger:
    """The API app in-process on a SQLite registry that has room ``r1``, and an admin header."""

    http: httpx.AsyncClient
    admin: dict[str, str]

    async def post(self, body: bytes, kind: str = "text/csv", *, dry_run: bool) -> httpx.Response:
        """Import ``body``; a 5xx (or an exception escaping the app) fails the test."""
        answer = await self.http.post(
            f"/api/v1/assets/import?dry_run={str(dry_run).lower()}",
            content=body,
            headers={**self.admin, "Content-Type": kind},
        )
        assert answer.status_code < 500, answer.text
        return answer

    async def total(self) -> int:
        """How many assets the registry holds."""
        answer = await self.http.get("/api/v1/assets?limit=1", headers=self.admin)
        return int(answer.json()["total"])


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    """The app on a fresh registry with one room, and the admin's header."""
    url = ApiConfig(database=f"sqlite:///{tmp_path / 'registry.db'}").database
    async with registry_services(url, tmp_path) as (services, headers):
        transport = httpx.ASGITransport(app=create_app(services))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            for kind, body in [
                ("sites", {"id": "hq", "name": "HQ"}),
                ("buildings", {"id": "b1", "site_id": "hq", "name": "B1"}),
                ("floors", {"id": "f1", "building_id": "b1", "name": "1F"}),
                ("rooms", {"id": "r1", "floor_id": "f1", "name": "Office"}),
            ]:
                made = await http.post(f"/api/v1/{kind}", json=body, headers=headers["admin"])
                assert made.status_code == 201, made.text
            yield Ledger(http, headers["admin"])


LEDGER_HEADER = ["id", "name", "category", "room_id", "cost", "purchase_date", "lifecycle", "tags"]
FORMULAS = ["=cmd|' /C calc'!A0", "@SUM(1+1)", "+1+1", "-2+3", '=HYPERLINK("http://x")']


def ledger_rows(count: int, names: list[str] | None = None) -> list[list[str]]:
    """A good ledger of ``count`` assets (header first); ``names`` may hold formula text."""
    rows = [list(LEDGER_HEADER)]
    for n in range(count):
        name = names[n % len(names)] if names else f"办公电脑 {n}"
        rows.append(
            [f"pc-{n:03d}", name, "office", "r1", "4999.00", "2023-05-01", "in_service", "it;desk"]
        )
    return rows


def as_csv(rows: list[list[str]]) -> str:
    """``rows`` as CSV text, quoted where needed."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def assert_rows_named(report: dict[str, Any], rows: list[list[str]] | None) -> None:
    """A refusal names a row (the header is 1; 0 is the whole file) and a column of the ledger.

    An unknown column is named as the header wrote it.
    """
    assert report["errors"]
    for error in report["errors"]:
        assert error["message"].strip()
        if error["row"] == 0:
            assert error["column"] == ""
            continue
        if rows is not None:
            assert 1 <= error["row"] <= len(rows), error
        if error["message"] != "unknown column":
            assert error["column"] in {*COLUMNS, ""}, error


ENCODINGS = ["utf-8", "utf-8-sig", "gb18030", "utf-16", "latin-1", "cp1252"]


@st.composite
def hostile_ledgers(draw: st.DrawFn) -> tuple[bytes, list[list[str]] | None]:
    """A CSV body: cells, rows or columns of a good ledger made hostile, then encoded oddly."""
    rows = ledger_rows(draw(st.integers(0, 6)))
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=300)), None
    for _ in range(draw(st.integers(1, 4))):
        r = draw(st.integers(0, len(rows) - 1))
        operation = draw(st.sampled_from(["cell", "cell", "drop", "extra", "duplicate", "short"]))
        if operation == "cell":
            c = draw(st.integers(0, len(rows[r]) - 1)) if rows[r] else 0
            text = draw(
                st.sampled_from(EDGE_TEXTS) | st.text(max_size=30) | st.sampled_from(FORMULAS)
            )
            rows[r][c : c + 1] = [text]
        elif operation == "drop" and rows[r]:
            del rows[r][draw(st.integers(0, len(rows[r]) - 1))]
        elif operation == "extra":
            rows[r].append(draw(st.sampled_from(["", "surplus", "colour", "id"])))
        elif operation == "duplicate":
            rows.insert(r + 1, list(rows[r]))
        else:
            rows[r] = rows[r][: draw(st.integers(0, len(rows[r])))]
    text = as_csv(rows) if draw(st.booleans()) else "\n".join(",".join(r) for r in rows)
    body = text.encode(draw(st.sampled_from(ENCODINGS)), errors="replace")
    if draw(st.integers(0, 3)) == 0:
        return draw(corrupted(body, [b"\x00", b'"', b"\xff", b"\r", b"\xef\xbb\xbf"])), None
    return body, rows


@HTTP
@given(case=hostile_ledgers(), dry_run=st.booleans())
@example(case=(b"id,name,category\n" + b"a" * 200_000 + b",x,y\n", None), dry_run=True)
@example(case=(b'\xef\xbb\xbfid,name,category\n"unclosed,x,y\n', None), dry_run=True)
@example(case=(b"\x00\x00\x00", None), dry_run=False)
async def test_hostile_csv_ledgers_get_a_4xx_naming_row_and_column_never_a_5xx(
    ledger: Ledger, case: tuple[bytes, list[list[str]] | None], dry_run: bool
) -> None:
    body, rows = case
    answer = await ledger.post(body, dry_run=dry_run)
    assert answer.status_code in (200, 422), answer.text
    report = answer.json()
    if answer.status_code == 422:
        assert_rows_named(report, rows)
    else:
        assert report["errors"] == []
        assert report["created"] + report["updated"] <= report["rows"]


BAD_CELLS: list[tuple[str, str]] = [
    ("cost", "cheap"),
    ("cost", "-1"),
    ("cost", "1.234"),
    ("purchase_date", "1694131200"),
    ("purchase_date", "2024-13-45"),
    ("lifecycle", "lost"),
    ("id", "Bad Id"),
    ("id", ""),
    ("category", "Office!"),
    ("name", "x" * 201),
    ("room_id", "r404"),
    ("tags", ";".join(f"t{i}" for i in range(51))),
    ("", "surplus cell"),
    ("id", "(the id of the first row)"),
]
"""Cells the ledger must refuse: (column, text); column "" adds a cell past the header."""


@st.composite
def mixed_ledgers(draw: st.DrawFn) -> tuple[list[list[str]], list[list[str]], set[tuple[int, str]]]:
    """A good ledger, a copy with bad cells in some rows, and the (row, column) of each.

    The first data row stays good, so that a repeated id is always a repeat of a good row.
    Names are formula-like text and random text: good data, to be kept as written.
    """
    count = draw(st.integers(2, 12))
    names = draw(st.lists(st.sampled_from(FORMULAS) | st.text(min_size=1, max_size=40), min_size=1))
    good = ledger_rows(count, [n for n in names if n.strip()] or ["PC"])
    rows = st.integers(1, count - 1)
    bad = draw(st.dictionaries(rows, st.sampled_from(BAD_CELLS), min_size=1, max_size=4))
    broken = [list(row) for row in good]
    expected: set[tuple[int, str]] = set()
    for index, (column, text) in bad.items():
        row = broken[index + 1]
        if column == "":
            row.append(text)
        elif text.startswith("("):
            row[0] = good[1][0]
        else:
            row[LEDGER_HEADER.index(column)] = text
        expected.add((index + 2, column))  # spreadsheet rows: the header is row 1
    return good, broken, expected


@HTTP
@given(case=mixed_ledgers())
async def test_a_ledger_mixing_good_and_bad_rows_is_refused_whole_and_the_good_one_imports_after(
    ledger: Ledger, case: tuple[list[list[str]], list[list[str]], set[tuple[int, str]]]
) -> None:
    good, broken, expected = case
    before = await ledger.total()
    for dry_run in (True, False):
        answer = await ledger.post(as_csv(broken).encode(), dry_run=dry_run)
        assert answer.status_code == 422, answer.text
        report = answer.json()
        assert_rows_named(report, broken)
        assert {(e["row"], e["column"]) for e in report["errors"]} >= expected
        assert {e["row"] for e in report["errors"]} == {row for row, _ in expected}
    assert await ledger.total() == before  # all or nothing
    done = await ledger.post(as_csv(good).encode(), dry_run=False)
    assert done.status_code == 200, done.text
    assert done.json()["created"] + done.json()["updated"] == len(good) - 1
    stored = await ledger.http.get("/api/v1/assets/pc-000", headers=ledger.admin)
    assert stored.json()["asset"]["name"] == good[1][1].strip()  # formula text kept as text


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx(rows: list[list[Any]], *, write_only: bool) -> bytes:
    """A workbook of ``rows`` (write-only books use inline strings, others shared strings)."""
    book = Workbook(write_only=write_only)
    sheet = book.create_sheet("assets") if write_only else book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rezip(book: bytes, member: str, change: Callable[[bytes], bytes]) -> bytes:
    """``book`` with one zip member's bytes changed, the archive itself still valid."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(book)) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            target.writestr(name, change(data) if name == member else data)
    return out.getvalue()


@cache
def good_books() -> tuple[bytes, bytes]:
    """The same small ledger as a shared-strings workbook and as a write-only one."""
    rows: list[list[Any]] = [list(r) for r in ledger_rows(3)]
    return xlsx(rows, write_only=False), xlsx(rows, write_only=True)


XML_FRAGMENTS = [
    b"<",
    b"&bogus;",
    b'<c r="ZZZZ99999999" t="s"><v>999</v></c>',
    b'<c r="A1" t="n"><v>1e999</v></c>',
    b'<c r="A1" t="d"><v>2024-13-45</v></c>',
    b'<c r="A1" t="b"><v>2</v></c>',
    b'<c r="A1" t="s"><v>-1</v></c>',
    b'<c r="A1" t="e"><v>#REF!</v></c>',
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',
    b'<row r="-1">',
    b'<dimension ref="A1:XFD1048576"/>',
    b"\xff\xfe",
]


@st.composite
def hostile_books(draw: st.DrawFn) -> bytes:
    """An XLSX body: bytes corrupted, a member's XML corrupted, or odd cell values."""
    book = draw(st.sampled_from(good_books()))
    operation = draw(st.sampled_from(["bytes", "member", "member", "cells"]))
    if operation == "bytes":
        return draw(corrupted(book, [b"PK\x03\x04", b"PK\x05\x06", b"\x00" * 30]))
    if operation == "member":
        with zipfile.ZipFile(io.BytesIO(book)) as archive:
            member = draw(st.sampled_from(sorted(archive.namelist())))
            original = archive.read(member)
        changed = draw(corrupted(original, XML_FRAGMENTS))
        return rezip(book, member, lambda _: changed)
    cells = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**60), 2**60),
        st.floats(allow_nan=False, allow_infinity=False),
        st.dates(),
        st.datetimes(),
        st.times(),
        st.sampled_from([*FORMULAS, "=1/0", "=A1", "x" * 40_000]),
        st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=30),
    )
    rows: list[list[Any]] = [list(r) for r in ledger_rows(2)]
    for _ in range(draw(st.integers(1, 4))):
        r, c = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, 9))
        rows[r][c : c + 1] = [draw(cells)]
    return xlsx(rows, write_only=draw(st.booleans()))


def _broken_sheet(data: bytes) -> bytes:
    return data.replace(b"</row>", b"</rox>", 2)


@pytest.mark.filterwarnings("ignore::UserWarning")  # openpyxl warns of the damage it meets
@HTTP
@given(book=hostile_books())
@example(book=rezip(good_books()[0], "xl/worksheets/sheet1.xml", _broken_sheet))  # was a 500
async def test_corrupt_xlsx_ledgers_get_a_4xx_naming_the_problem_never_a_5xx(
    ledger: Ledger, book: bytes
) -> None:
    answer = await ledger.post(book, XLSX, dry_run=True)
    assert answer.status_code in (200, 422), answer.text
    if answer.status_code == 422:
        assert_rows_named(answer.json(), None)
    good = await ledger.post(good_books()[0], XLSX, dry_run=True)
    assert (good.status_code, good.json()["errors"]) == (200, [])
