"""What the collector stores: readings, events and alerts, with the identifiers of their topic."""

from __future__ import annotations

from dataclasses import dataclass

from facmon.contract import RESERVED_PREFIX, AlertEnvelope, DataEnvelope, EventEnvelope

EVENTS_MEASUREMENT = f"{RESERVED_PREFIX}events"
"""Measurement holding every device event (``type`` is a tag)."""
ALERTS_MEASUREMENT = f"{RESERVED_PREFIX}alerts"
"""Measurement holding every alert transition."""


@dataclass(frozen=True, slots=True)
class Record:
    """One data envelope with the identifiers from its topic."""

    site: str
    gateway: str
    device: str
    envelope: DataEnvelope


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event envelope with the identifiers from its topic."""

    site: str
    gateway: str
    device: str
    envelope: EventEnvelope


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One alert transition with the site from its topic."""

    site: str
    envelope: AlertEnvelope


Stored = Record | EventRecord | AlertRecord
"""Anything a sink stores."""


@dataclass(frozen=True, slots=True)
class DeviceLatest:
    """The newest stored values of a device."""

    device: str
    site: str
    gateway: str
    measurement: str
    ts: int
    seq: int | None
    values: dict[str, bool | int | float | str]
    quality: dict[str, str]
