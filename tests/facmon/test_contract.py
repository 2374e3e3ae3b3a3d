"""The wire contract: topics and envelopes round-trip, malformed input is refused with a reason."""

from __future__ import annotations

import math

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from facmon.contract import (
    ENVELOPES,
    MAX_PAYLOAD_BYTES,
    DataEnvelope,
    EnvelopeError,
    EventEnvelope,
    StateEnvelope,
    StatusEnvelope,
    Topic,
    TopicError,
    TopicKind,
    parse_envelope,
    shared,
    subscription,
)

slugs = st.from_regex(r"[a-z0-9_-]{1,64}", fullmatch=True)
prefixes = st.lists(slugs, min_size=1, max_size=3).map("/".join)
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=1024),
)
timestamps = st.integers(min_value=0, max_value=7_258_118_400_000)


@st.composite
def topics(draw: st.DrawFn) -> Topic:
    kind = draw(st.sampled_from(list(TopicKind)))
    prefix = draw(prefixes)
    site = gateway = device = None
    if kind is not TopicKind.DEADLETTER:
        site = draw(slugs)
    site_kinds = {TopicKind.DEADLETTER, TopicKind.ALERTS, TopicKind.USAGE, TopicKind.METERS}
    if kind not in site_kinds:
        gateway = draw(slugs)
    if kind not in {*site_kinds, TopicKind.STATUS}:
        device = draw(slugs)
    return Topic(kind, site, gateway, device, prefix)


@given(topics())
def test_every_topic_round_trips(topic: Topic) -> None:
    assert Topic.parse(str(topic), topic.prefix) == topic


@given(topics())
def test_subscription_matches_its_topics(topic: Topic) -> None:
    topic_filter = subscription(topic.kind, topic.prefix)
    pattern = topic_filter.split("/")
    parts = str(topic).split("/")
    assert len(pattern) == len(parts)
    assert all(p in {"+", s} for p, s in zip(pattern, parts, strict=True))


def test_topic_strings_follow_the_design() -> None:
    assert str(Topic(TopicKind.STATUS, "hq", "gw1")) == "facmon/v1/hq/gw1/status"
    assert str(Topic(TopicKind.DATA, "hq", "gw1", "ups-1")) == "facmon/v1/hq/gw1/ups-1/data"
    assert str(Topic(TopicKind.CMD_RESULT, "hq", "gw1", "d")) == "facmon/v1/hq/gw1/d/cmd/result"
    assert str(Topic(TopicKind.ALERTS, "hq")) == "facmon/v1/alerts/hq"
    assert str(Topic(TopicKind.USAGE, "hq")) == "facmon/v1/usage/hq"
    assert str(Topic(TopicKind.DEADLETTER)) == "facmon/v1/deadletter"
    assert Topic(TopicKind.STATE, "hq", "gw1", "d").retained
    assert not Topic(TopicKind.DATA, "hq", "gw1", "d").retained
    assert shared("collectors", "facmon/v1/+/+/+/data") == "$share/collectors/facmon/v1/+/+/+/data"


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("facmon/v2/hq/gw1/d/data", "unsupported contract version 'v2'"),
        ("other/v1/hq/gw1/d/data", "is not under facmon/v1/"),
        ("facmon/v1/hq/gw1/d/telemetry", "is not a v1 contract topic"),
        ("facmon/v1/hq/gw1/d/data/extra", "is not a v1 contract topic"),
        ("facmon/v1/HQ/gw1/d/data", "site 'HQ' is not a slug"),
        ("facmon/v1/hq/gw 1/d/data", "gateway 'gw 1' is not a slug"),
        ("facmon/v1/hq//d/data", "gateway '' is not a slug"),
        ("facmon/v1/hq/gw1/+/data", "device '+' is not a slug"),
        ("facmon/v1/hq/gw1/d#/data", "device 'd#' is not a slug"),
    ],
)
def test_malformed_topics_are_refused_with_a_reason(topic: str, reason: str) -> None:
    with pytest.raises(TopicError, match=reason.replace("+", r"\+")):
        Topic.parse(topic)


def test_topics_reject_missing_and_superfluous_identifiers() -> None:
    with pytest.raises(TopicError, match="needs a device"):
        Topic(TopicKind.DATA, "hq", "gw1")
    with pytest.raises(TopicError, match="has no device"):
        Topic(TopicKind.STATUS, "hq", "gw1", "d")
    with pytest.raises(TopicError, match="not a slug"):
        Topic(TopicKind.ALERTS, "a" * 65)


@given(
    ts=timestamps,
    seq=st.integers(min_value=0, max_value=2**63 - 1),
    measurement=slugs,
    values=st.dictionaries(slugs, scalars, min_size=1, max_size=20),
    bad=st.dictionaries(slugs, st.sampled_from(["bad", "uncertain"]), max_size=5),
)
def test_data_envelope_round_trips(
    ts: int, seq: int, measurement: str, values: dict[str, object], bad: dict[str, str]
) -> None:
    envelope = DataEnvelope.model_validate(
        {"ts": ts, "seq": seq, "measurement": measurement, "values": values, "quality": bad}
    )
    again = parse_envelope(DataEnvelope, envelope.to_json())
    assert again == envelope
    for name, value in values.items():
        assert type(again.values[name]) is type(value)


@given(
    ts=timestamps, seq=st.integers(min_value=0), kind=slugs, attrs=st.dictionaries(slugs, scalars)
)
def test_event_envelope_round_trips(ts: int, seq: int, kind: str, attrs: dict[str, object]) -> None:
    seq = min(seq, 2**63 - 1)
    envelope = EventEnvelope.model_validate({"ts": ts, "seq": seq, "type": kind, "attrs": attrs})
    assert parse_envelope(EventEnvelope, envelope.to_json()) == envelope


def test_status_and_state_round_trip() -> None:
    status = StatusEnvelope(state="offline", ts=1, version="0.1.0")
    assert parse_envelope(StatusEnvelope, status.to_json()) == status
    state = StateEnvelope(state="degraded", since=5, error="timeout after 1.0 s")
    assert parse_envelope(StateEnvelope, state.to_json()) == state


GOOD = {"ts": 1_700_000_000_000, "seq": 1, "measurement": "ups", "values": {"v": 1.5}}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "invalid JSON"),
        (b"{", "invalid JSON"),
        (b'{"ts": NaN}', "invalid JSON"),
        (b'{"values": {"v": "\xff"}}', "invalid JSON"),
        (b"[]", "must be a JSON object, not array"),
        (b"null", "must be a JSON object, not null"),
        (orjson.dumps({**GOOD, "ts": "1"}), "ts: Input should be a valid integer"),
        (orjson.dumps({**GOOD, "ts": True}), "ts: Input should be a valid integer"),
        (orjson.dumps({**GOOD, "ts": -1}), "ts: Input should be greater than or equal to 0"),
        (orjson.dumps({**GOOD, "seq": 1.0}), "seq: Input should be a valid integer"),
        (orjson.dumps({**GOOD, "measurement": "UPS"}), "measurement: String should match"),
        (orjson.dumps({**GOOD, "values": {"v": None}}), "values.v: must be a number, bool or"),
        (orjson.dumps({**GOOD, "values": {"v": [1]}}), "values.v: must be a number, bool or"),
        (orjson.dumps({**GOOD, "values": {"v": "x" * 1025}}), "values.v: string longer than"),
        (
            b'{"ts": 1, "seq": 1, "measurement": "m", "values": {"v": 9223372036854775808}}',
            "values.v: integer does not fit",
        ),
        (orjson.dumps({**GOOD, "values": {"bad key": 1}}), r"values.bad key.\[key\]"),
        (orjson.dumps({**GOOD, "values": {}}), "at least one value or quality flag"),
        (orjson.dumps({**GOOD, "quality": {"v": "good"}}), "quality.v: Input should be 'bad'"),
        (orjson.dumps({k: v for k, v in GOOD.items() if k != "seq"}), "seq: Field required"),
        (b" " * (MAX_PAYLOAD_BYTES + 1), "exceeds"),
    ],
)
def test_malformed_data_envelopes_are_refused_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(EnvelopeError, match=reason):
        parse_envelope(DataEnvelope, payload)


def test_too_many_points_are_refused() -> None:
    values = {f"p{i}": i for i in range(2001)}
    with pytest.raises(EnvelopeError, match="more than 2000"):
        parse_envelope(DataEnvelope, orjson.dumps({**GOOD, "values": values}))


def test_unknown_keys_are_ignored_for_forward_compatibility() -> None:
    envelope = parse_envelope(DataEnvelope, orjson.dumps({**GOOD, "added_in_v1_3": 1}))
    assert envelope.values == {"v": 1.5}


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_anything_but_envelope_error(payload: bytes) -> None:
    for model in ENVELOPES.values():
        reason = ""
        try:
            envelope = parse_envelope(model, payload)
        except EnvelopeError as exc:
            reason = exc.reason
        else:
            assert isinstance(envelope, model)
            continue
        assert reason


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_non_finite_numbers_never_pass(value: float) -> None:
    data = {**GOOD, "values": {"v": value}}
    if math.isfinite(value):
        assert DataEnvelope.model_validate(data).values["v"] == value
    else:
        with pytest.raises(ValueError, match="finite"):
            DataEnvelope.model_validate(data)
