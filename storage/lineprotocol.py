"""Format what the collector stores as InfluxDB line protocol (pure).

Escaping follows the line protocol reference: in measurements, commas and spaces; in tag
keys, tag values and field keys, commas, equals signs and spaces; in string field values,
double quotes and backslashes. Tags are written sorted by key, as InfluxDB prefers.

Timestamps are in nanoseconds (``precision=ns``) although envelopes carry milliseconds: a
reading's or an event's time is offset by its ``seq`` modulo a million nanoseconds, so that
two of one device in the same millisecond are two points rather than one overwriting the
other (devices with one-second clocks do this; so does a gateway whose wall clock is set
back over time it has already reported), while a replay still overwrites itself.

This runs for every point stored, so the common case is kept cheap: escaped names are
cached, and the numbers of a record are formatted in one ``orjson`` call (the shortest
representation that reads back to the same float, like ``repr`` but several times faster).
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from facmon.contract import RESERVED_NAMES, Scalar
from storage.records import (
    ALERTS_MEASUREMENT,
    EVENTS_MEASUREMENT,
    HEALTH_MEASUREMENT,
    STATES_MEASUREMENT,
    USAGE_MEASUREMENT,
    AlertRecord,
    EventRecord,
    HealthRecord,
    Record,
    StateRecord,
    Stored,
    UsageRecord,
    Where,
)

SEQ_FIELD = "facmon_seq"
"""Field holding the gateway's sequence number, to count loss end to end."""
BAD_FIELD = "facmon_bad"
"""String field listing, comma-separated, the points whose read failed."""
assert {SEQ_FIELD, BAD_FIELD} == RESERVED_NAMES

_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\\": "\\\\"})
_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\\": "\\\\"})
_STRING = str.maketrans({'"': r"\"", "\\": "\\\\"})  # a newline inside the quotes is taken as is
_NS = 1_000_000
_CACHE_LIMIT = 100_000
_escaped: dict[str, str] = {}
_prefixes: dict[str, str] = {}


def escape_key(text: str) -> str:
    """Escape a tag key, tag value or field key."""
    escaped = _escaped.get(text)
    if escaped is None:
        if len(_escaped) >= _CACHE_LIMIT:
            _escaped.clear()
        escaped = _escaped[text] = text.translate(_KEY)
    return escaped


def field_value(value: Scalar) -> str:
    """Format one field value: ``1.5``, ``3i``, ``true``, ``"text"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return orjson.dumps(value).decode()
    return '"' + value.translate(_STRING) + '"'


def fields(values: Mapping[str, Scalar]) -> list[str]:
    """Format ``name=value`` for every entry of ``values``, in order."""
    numbers = orjson.dumps(list(values.values()))
    if b'"' in numbers:  # a string may hold commas: format one by one
        return [f"{escape_key(name)}={field_value(value)}" for name, value in values.items()]
    prefix = _prefixes.get
    out = []
    for (name, value), text in zip(values.items(), numbers[1:-1].decode().split(","), strict=False):
        key = prefix(name) or _prefix(name)
        out.append(key + text + "i" if type(value) is int else key + text)
    return out


def _prefix(name: str) -> str:
    if len(_prefixes) >= _CACHE_LIMIT:
        _prefixes.clear()
    key = _prefixes[name] = escape_key(name) + "="
    return key


def tags(pairs: dict[str, str]) -> str:
    """Format ``,key=value`` for each tag, sorted by key."""
    return "".join(f",{escape_key(k)}={escape_key(pairs[k])}" for k in sorted(pairs) if pairs[k])


def to_line(record: Stored) -> str:
    """Return the record as one line (no trailing newline)."""
    if isinstance(record, Record):
        return _data_line(record)
    if isinstance(record, EventRecord):
        return _event_line(record)
    if isinstance(record, AlertRecord):
        return _alert_line(record)
    if isinstance(record, StateRecord):
        return _state_line(record)
    if isinstance(record, UsageRecord):
        return _usage_line(record)
    return _health_line(record)


def _data_line(record: Record) -> str:
    envelope = record.envelope
    parts = fields(envelope.values)
    parts.append(f"{SEQ_FIELD}={envelope.seq}i")
    quality = envelope.quality
    if quality:
        bad = sorted(name for name, flag in quality.items() if flag == "bad")
        if bad:
            parts.append(f"{BAD_FIELD}={field_value(','.join(bad))}")
    device, gateway, site = (escape_key(x) for x in (record.device, record.gateway, record.site))
    measurement = envelope.measurement.translate(_MEASUREMENT)
    if record.where[0] or record.where[1] or record.where[2] or record.meter_parent:
        tag_text = _placed(record.where, device, gateway, site, record.meter_parent)
    else:  # the usual case, kept to one format
        tag_text = f",device={device},gateway={gateway},site={site}"
    ts = envelope.ts * _NS + envelope.seq % _NS
    return f"{measurement}{tag_text} {','.join(parts)} {ts}"


def _placed(where: Where, device: str, gateway: str, site: str, meter_parent: str = "") -> str:
    """The tags of a device whose place (or meter parent) is known, in key order (slugs)."""
    building, floor, room = where
    return (
        (f",building={building}" if building else "")
        + f",device={device}"
        + (f",floor={floor}" if floor else "")
        + f",gateway={gateway}"
        + (f",meter_parent={meter_parent}" if meter_parent else "")
        + (f",room={room}" if room else "")
        + f",site={site}"
    )


def _event_line(record: EventRecord) -> str:
    envelope = record.envelope
    parts = fields(envelope.attrs)
    parts.append(f"{SEQ_FIELD}={envelope.seq}i")
    building, floor, room = record.where
    tag_text = tags(
        {
            "building": building,
            "device": record.device,
            "floor": floor,
            "gateway": record.gateway,
            "room": room,
            "site": record.site,
            "type": envelope.type,
        }
    )
    ts = envelope.ts * _NS + envelope.seq % _NS
    return f"{EVENTS_MEASUREMENT}{tag_text} {','.join(parts)} {ts}"


def _alert_line(record: AlertRecord) -> str:
    envelope = record.envelope
    tag_text = tags(
        {
            "asset": envelope.asset or "",
            "building": envelope.building or "",
            "device": envelope.device or "",
            "id": envelope.id,
            "kind": envelope.rule_kind or "",
            "room": envelope.room or "",
            "rule": envelope.rule,
            "severity": envelope.severity,
            "site": record.site,
            "state": envelope.state,
        }
    )
    summary = field_value(envelope.summary)
    return f"{ALERTS_MEASUREMENT}{tag_text} summary={summary} {envelope.ts * _NS}"


def _state_line(record: StateRecord) -> str:
    envelope = record.envelope
    tag_text = tags(
        {
            "building": envelope.building or "",
            "device": record.device,
            "floor": envelope.floor or "",
            "gateway": record.gateway,
            "room": envelope.room or "",
            "site": record.site,
        }
    )
    parts = [f"state={field_value(envelope.state)}", f"error={field_value(envelope.error or '')}"]
    if envelope.profile:
        parts.append(f"profile={field_value(envelope.profile)}")
    return f"{STATES_MEASUREMENT}{tag_text} {','.join(parts)} {envelope.since * _NS}"


def _usage_line(record: UsageRecord) -> str:
    envelope = record.envelope
    tag_text = tags(
        {
            "asset": envelope.asset,
            "building": envelope.building or "",
            "category": envelope.category or "",
            "device": envelope.device,
            "room": envelope.room or "",
            "site": record.site,
        }
    )
    in_use, observed = envelope.in_use_s / 3600, envelope.observed_s / 3600
    values = f"in_use_h={field_value(in_use)},observed_h={field_value(observed)}"
    return f"{USAGE_MEASUREMENT}{tag_text} {values} {envelope.ts * _NS}"


def _health_line(record: HealthRecord) -> str:
    tag_text = tags({"collector": record.collector})
    return f"{HEALTH_MEASUREMENT}{tag_text} {','.join(fields(record.values))} {record.ts * _NS}"
