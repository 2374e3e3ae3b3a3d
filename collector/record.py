"""A reading as the collector stores it: where it came from and its data envelope."""

from __future__ import annotations

from dataclasses import dataclass

from facmon.contract import DataEnvelope


@dataclass(frozen=True, slots=True)
class Record:
    """One data envelope with the identifiers from its topic."""

    site: str
    gateway: str
    device: str
    envelope: DataEnvelope


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
