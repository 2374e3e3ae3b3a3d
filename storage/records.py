"""What the collector stores: readings, events, states, alerts, usage and its own health.

Each record keeps the identifiers of its topic; readings and events also where their device
is (building, floor, room), as its newest state message said.
"""

from __future__ import annotations

from dataclasses import dataclass

from facmon.contract import (
    RESERVED_PREFIX,
    AlertEnvelope,
    DataEnvelope,
    EventEnvelope,
    StateEnvelope,
    UsageEnvelope,
)

EVENTS_MEASUREMENT = f"{RESERVED_PREFIX}events"
"""Measurement holding every device event (``type`` is a tag)."""
ALERTS_MEASUREMENT = f"{RESERVED_PREFIX}alerts"
"""Measurement holding every alert transition."""
STATES_MEASUREMENT = f"{RESERVED_PREFIX}states"
"""Measurement holding every change of a device's communication state."""
USAGE_MEASUREMENT = f"{RESERVED_PREFIX}usage"
"""Measurement holding each asset's time in use per local day."""
HEALTH_MEASUREMENT = f"{RESERVED_PREFIX}collector"
"""Measurement holding the collector's own readings (throughput, lag)."""

Where = tuple[str, str, str]
"""Building, floor and room of a device ("" when not known)."""
NOWHERE: Where = ("", "", "")


@dataclass(frozen=True, slots=True)
class Record:
    """One data envelope with the identifiers from its topic."""

    site: str
    gateway: str
    device: str
    envelope: DataEnvelope
    where: Where = NOWHERE
    meter_parent: str = ""
    """For a sub-meter: the meter upstream of it, as the registry says ("" otherwise)."""


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event envelope with the identifiers from its topic."""

    site: str
    gateway: str
    device: str
    envelope: EventEnvelope
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One alert transition with the site from its topic."""

    site: str
    envelope: AlertEnvelope


@dataclass(frozen=True, slots=True)
class StateRecord:
    """One device state message with the identifiers from its topic."""

    site: str
    gateway: str
    device: str
    envelope: StateEnvelope


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """An asset's time in use on one day, with the site from its topic."""

    site: str
    envelope: UsageEnvelope


@dataclass(frozen=True, slots=True)
class HealthRecord:
    """The collector's own readings at one moment."""

    collector: str
    ts: int
    values: dict[str, int | float]


Stored = Record | EventRecord | AlertRecord | StateRecord | UsageRecord | HealthRecord
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
