"""Envelope models of the wire contract, with strict validation.

Every payload is a UTF-8 JSON object. Validation is strict: identifiers are slugs,
numbers are finite (no NaN, no Infinity), integers fit in 64 bits, strings and maps are
bounded, and a bool is never accepted where a number is meant. Unknown keys are ignored so
that a producer can add an optional key within ``v1`` without breaking older consumers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from facmon.contract.errors import EnvelopeError
from facmon.contract.topics import TopicKind
from facmon.types import Severity, Slug

MAX_PAYLOAD_BYTES = 256 * 1024
"""Largest payload any consumer accepts."""
MAX_POINTS = 2_000
"""Most points (values plus quality flags) in one ``data`` envelope."""
MAX_ATTRS = 100
"""Most attributes in one ``event`` envelope."""
MAX_STRING = 1_024
"""Longest string value, in characters."""
MAX_TS_MS = 7_258_118_400_000
"""Latest accepted timestamp: 2200-01-01 in epoch milliseconds."""
_INT64 = 2**63
RESERVED_PREFIX = "facmon_"
"""Measurements and points whose name starts with this are facmon's own (storage schema)."""
RESERVED_NAMES = frozenset({"facmon_seq", "facmon_bad"})
"""Field names the collector adds to every stored reading; no point or attribute may use them."""

EpochMs = Annotated[int, Field(strict=True, ge=0, le=MAX_TS_MS)]
"""Unix time in milliseconds."""
Seq = Annotated[int, Field(strict=True, ge=0, lt=_INT64)]
Text = Annotated[str, StringConstraints(strict=True, max_length=MAX_STRING)]


def _check_scalar(value: Any) -> bool | int | float | str:
    """Accept a bool, a 64-bit int, a finite float or a bounded string."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if -_INT64 <= value < _INT64:
            return value
        raise ValueError("integer does not fit in 64 bits")
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise ValueError(f"number must be finite, not {value}")
    if isinstance(value, str):
        if len(value) <= MAX_STRING:
            return value
        raise ValueError(f"string longer than {MAX_STRING} characters")
    raise ValueError(f"must be a number, bool or string, not {_json_type(value)}")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


Scalar = Annotated[
    bool | int | float | str,
    PlainValidator(_check_scalar),
    WithJsonSchema({"type": ["number", "boolean", "string"]}),
]
"""A point value: bool, 64-bit integer, finite float or string of at most 1,024 chars."""


class Envelope(BaseModel):
    """Base of every envelope: immutable, strict, unknown keys ignored."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")
    kind: ClassVar[TopicKind]

    def to_json(self) -> bytes:
        """Return the payload as compact UTF-8 JSON."""
        return orjson.dumps(self.model_dump(mode="python", exclude_none=True))


class StatusEnvelope(Envelope):
    """A gateway's presence; retained, and also its MQTT will (``offline``)."""

    kind: ClassVar[TopicKind] = TopicKind.STATUS
    state: Literal["online", "offline"]
    ts: EpochMs
    version: Annotated[str, StringConstraints(strict=True, max_length=64)] = ""


class DataEnvelope(Envelope):
    """One poll (or one message) of a device: values by point, with quality flags.

    A point whose read failed is not in ``values`` but in ``quality`` as ``bad``; a point
    whose value is doubtful (out of range, stale) is in both, flagged ``uncertain``.
    ``measurement`` names the time-series measurement (the device profile's).
    """

    kind: ClassVar[TopicKind] = TopicKind.DATA
    ts: EpochMs
    seq: Seq
    measurement: Slug
    values: dict[Slug, Scalar]
    quality: dict[Slug, Literal["bad", "uncertain"]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _bounded(self) -> DataEnvelope:
        size = len(self.values) + len(self.quality)
        if size == 0:
            raise ValueError("an envelope needs at least one value or quality flag")
        if size > MAX_POINTS:
            raise ValueError(f"{size} points, more than {MAX_POINTS}")
        return self


class EventEnvelope(Envelope):
    """Something that happened at a device: door forced, card denied, ignition on, ..."""

    kind: ClassVar[TopicKind] = TopicKind.EVENT
    ts: EpochMs
    seq: Seq
    type: Slug
    attrs: Annotated[dict[Slug, Scalar], Field(max_length=MAX_ATTRS)] = Field(default_factory=dict)


class StateEnvelope(Envelope):
    """A device's communication state as its gateway sees it; retained."""

    kind: ClassVar[TopicKind] = TopicKind.STATE
    state: Literal["online", "degraded", "offline"]
    since: EpochMs
    error: Text | None = None
    profile: Slug | None = None
    """The device's profile, so that consumers know what its values mean."""
    report_every_s: Annotated[float, Field(strict=True, gt=0, le=86_400 * 7)] | None = None
    """The longest the gateway lets pass between two data messages of the device, if known."""
    building: Slug | None = None
    """Where the device is, as the registry names it (the gateway's configuration says)."""
    floor: Slug | None = None
    room: Slug | None = None


class CommandEnvelope(Envelope):
    """A downlink write of one point."""

    kind: ClassVar[TopicKind] = TopicKind.CMD
    id: Slug
    ts: EpochMs
    point: Slug
    value: Scalar


class CommandResultEnvelope(Envelope):
    """The outcome of a downlink write, echoing the command's ``id``."""

    kind: ClassVar[TopicKind] = TopicKind.CMD_RESULT
    id: Slug
    ts: EpochMs
    ok: bool
    error: Text | None = None


class AlertEnvelope(Envelope):
    """One alert lifecycle transition published by the API."""

    kind: ClassVar[TopicKind] = TopicKind.ALERTS
    id: Slug
    ts: EpochMs
    state: Literal["firing", "acknowledged", "resolved"]
    severity: Severity
    rule: Slug
    summary: Text
    rule_kind: Slug | None = None
    device: Slug | None = None
    asset: Slug | None = None
    building: Slug | None = None
    room: Slug | None = None


class UsageEnvelope(Envelope):
    """An asset's time in use on one local day so far, published by the API.

    Published again as the day goes on: the newest message of an asset and day holds.
    """

    kind: ClassVar[TopicKind] = TopicKind.USAGE
    ts: EpochMs
    """The start of the day (local midnight of the asset's working calendar)."""
    day: Annotated[str, StringConstraints(strict=True, pattern=r"^\d{4}-\d{2}-\d{2}$")]
    asset: Slug
    device: Slug
    category: Slug | None = None
    building: Slug | None = None
    room: Slug | None = None
    in_use_s: Annotated[float, Field(strict=True, ge=0, le=86_400 * 2)]
    observed_s: Annotated[float, Field(strict=True, ge=0, le=86_400 * 2)]


class MetersEnvelope(Envelope):
    """A site's metering trees as the registry says, published by the API (retained).

    Each bound device whose asset is a sub-meter, and the asset id of the meter upstream
    of it; a device not listed is no sub-meter. A newer message replaces the whole map.
    """

    kind: ClassVar[TopicKind] = TopicKind.METERS
    ts: EpochMs
    sub_meters: Annotated[dict[Slug, Slug], Field(max_length=20_000)]


class DeadLetterEnvelope(Envelope):
    """What a consumer could not accept, with the reason and the raw payload (base64)."""

    kind: ClassVar[TopicKind] = TopicKind.DEADLETTER
    ts: EpochMs
    source: Slug
    topic: Annotated[str, StringConstraints(strict=True, max_length=65_535)]
    reason: Text
    payload_b64: str
    payload_size: Annotated[int, Field(strict=True, ge=0)]


ENVELOPES: Mapping[TopicKind, type[Envelope]] = {
    cls.kind: cls
    for cls in (
        StatusEnvelope,
        DataEnvelope,
        EventEnvelope,
        StateEnvelope,
        CommandEnvelope,
        CommandResultEnvelope,
        AlertEnvelope,
        UsageEnvelope,
        MetersEnvelope,
        DeadLetterEnvelope,
    )
}
"""The envelope model of each topic kind."""

E = TypeVar("E", bound=Envelope)


def parse_envelope(model: type[E], payload: bytes) -> E:
    """Parse and validate ``payload`` as ``model``.

    Raises:
        EnvelopeError: the payload is too large, not UTF-8 JSON, not an object, or fails
            validation; ``reason`` names the field and what was wrong.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise EnvelopeError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError(f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise EnvelopeError(f"payload must be a JSON object, not {_json_type(data)}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise EnvelopeError(describe(exc)) from None


def describe(exc: ValidationError, limit: int = 3) -> str:
    """Summarise a validation error as ``field.path: message; ...`` (at most ``limit``)."""
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "(root)"
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)
