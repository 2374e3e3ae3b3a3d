"""Hostile MQTT envelopes and topics: only the contract's own errors, naming the field."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from facmon.contract import (
    ENVELOPES,
    EnvelopeError,
    Topic,
    TopicError,
    TopicKind,
    parse_envelope,
)
from tests.faults.bad_input.corpus import (
    DEEP,
    EDGE_TEXTS,
    JSON_FRAGMENTS,
    QUICK,
    TS,
    corrupted,
    field_names,
    mutants,
    outcome,
    serialise,
)

# --- 1. MQTT envelopes and topics ------------------------------------------------------

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
    TopicKind.METERS: {"ts": TS, "sub_meters": {"pm-hvac": "pm-main", "pm-201": "pm-main"}},
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
        if isinstance(doc, dict) and not DEEP.search(json.dumps(doc, default=str)):
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
    "facmon/v1/meters/hq",
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
