"""The gateway's configuration model (validated once at start)."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from devices.fieldbus import BusConfig
from devices.protocols import bus_config_type
from facmon.config import ConfigModel, FieldError
from facmon.contract import DEFAULT_PREFIX
from facmon.contract.envelopes import describe
from facmon.contract.topics import check_prefix, is_slug
from facmon.mqtt import BrokerConfig
from facmon.types import Slug

if TYPE_CHECKING:
    AnyBusConfig = BusConfig
else:
    AnyBusConfig = bus_config_type()
"""A bus: ``kind`` (``tcp`` by default, ``rtu-over-tcp``, ``rtu``) picks its protocol's model."""


class Reporting(ConfigModel):
    """When a device's readings are published."""

    mode: Literal["every_poll", "on_change"] = "every_poll"
    """``every_poll``, or ``on_change``: only points that moved beyond their deadband."""
    max_age_s: float = Field(default=300.0, gt=0)
    """With ``on_change``: every point is published at least this often (heartbeat)."""


class Location(ConfigModel):
    """Where a device is, by the registry's ids; sent in its state and stored as tags."""

    building: Slug | None = None
    """Building id."""
    floor: Slug | None = None
    """Floor id."""
    room: Slug | None = None
    """Room id."""


class _DeviceSettings(ConfigModel):
    profile: str
    """Profile name (from the library or `profile_dirs`) or path to a YAML file."""
    bus: Slug
    """Id of the bus the device is on."""
    interval_s: float = Field(default=5.0, ge=0.01, le=86_400)
    """Seconds between polls."""
    max_gap: int = Field(default=8, ge=0, le=124)
    """Registers the planner may read across to merge two requests into one."""
    reporting: Reporting = Reporting()
    """When readings are published."""
    location: Location = Location()
    """Where the device is."""


class DeviceConfig(_DeviceSettings):
    """A device the gateway polls."""

    id: Slug
    """Device id (slug), unique across the deployment; the last level of its topics."""
    unit: int = Field(default=1, ge=0, le=255)
    """Modbus unit id (slave address)."""


_UNITS = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")


class DeviceTemplate(_DeviceSettings):
    """Many identical devices in one entry: one per unit id, e.g. meters on units 1-32.

    ``id`` contains ``{unit}`` (or ``{unit:02d}``), replaced by each unit id.
    """

    id: str = Field(pattern=r"\{unit(:[0-9]*d)?\}")
    """Device id pattern, e.g. ``meter-{unit:02d}``."""
    units: str
    """Unit ids: ``1-32``, ``1,2,5-8``."""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        # str.format would raise KeyError, IndexError, ... for other fields, or pad to any width
        for _, field, spec, conversion in string.Formatter().parse(value):
            if field is not None and (
                field != "unit" or conversion or not re.fullmatch(r"([0-9]{0,2}d)?", spec or "")
            ):
                raise ValueError(f"id {value!r} may hold {{unit}} or {{unit:02d}}, nothing else")
        return value

    @field_validator("units")
    @classmethod
    def _units(cls, value: str) -> str:
        if not _UNITS.match(value.replace(" ", "")):
            raise ValueError(f"units {value!r} must look like 1-32 or 1,2,5-8")
        for unit in re.findall(r"\d+", value):  # before expanding: 1-99999999999 is a lot
            if len(unit) > 3 or not 0 <= int(unit) <= 255:
                raise ValueError(f"unit id {unit} is outside 0..255")
        return value

    @model_validator(mode="after")
    def _expands(self) -> DeviceTemplate:
        try:
            self.devices()
        except ValidationError as exc:
            raise ValueError(f"id {self.id!r} makes invalid devices: {describe(exc)}") from None
        return self

    def devices(self) -> list[DeviceConfig]:
        """Return one device per unit id."""
        settings = self.model_dump(exclude={"id", "units"})
        return [
            DeviceConfig.model_validate({**settings, "id": self.id.format(unit=unit), "unit": unit})
            for unit in _expand(self.units)
        ]


def _expand(units: str) -> list[int]:
    result: list[int] = []
    for part in units.replace(" ", "").split(","):
        low, _, high = part.partition("-")
        result.extend(range(int(low), int(high or low) + 1))
    return result


class IngestDevice(ConfigModel):
    """An MQTT-native device on a local broker."""

    id: Slug
    """Device id (slug); it replaces ``{device}`` in the profile's topic."""
    profile: str
    """An MQTT profile (name or path)."""
    location: Location = Location()
    """Where the device is."""


class IngestSource(ConfigModel):
    """A local broker whose devices (trackers, door controllers) the gateway forwards."""

    broker: BrokerConfig
    """The local broker."""
    devices: list[IngestDevice] = Field(min_length=1)
    """Devices publishing there."""


class SpoolConfig(ConfigModel):
    """The disk spool that keeps messages until the broker has them."""

    path: Path | None = Path("facmon-gateway-spool.db")
    """SQLite file; empty (null) keeps the spool in memory (lost on restart)."""
    max_mb: float = Field(default=512.0, gt=0)
    """Largest spool, in MiB of payload; past it the oldest messages are dropped (counted)."""
    memory_messages: int = Field(default=100_000, ge=10, le=10_000_000)
    """Messages held in memory while the spool cannot be written (disk full, read-only);
    past it the oldest are dropped (counted in `dropped`)."""


class GatewayConfig(ConfigModel):
    """A gateway: its identity, uplink, spool, buses and devices."""

    site: Slug
    """Site (campus or substation) slug; the second level of every topic."""
    gateway: Slug
    """This gateway's id (slug), unique within the site."""
    prefix: str = DEFAULT_PREFIX
    """Topic prefix before `v1`; the same on every component."""
    uplink: BrokerConfig = BrokerConfig()
    """The central broker."""
    spool: SpoolConfig = SpoolConfig()
    """Where messages wait for the broker."""
    buses: list[AnyBusConfig] = Field(default_factory=list)
    """Modbus lines and endpoints this gateway owns."""
    devices: list[DeviceConfig] = Field(default_factory=list)
    """Devices to poll."""
    templates: list[DeviceTemplate] = Field(default_factory=list)
    """Groups of identical devices, one per unit id."""
    mqtt_sources: list[IngestSource] = Field(default_factory=list)
    """Local brokers with MQTT-native devices to forward."""
    profile_dirs: list[Path] = Field(default_factory=list)
    """Folders searched for profiles by name before the shipped library."""
    offline_after: int = Field(default=3, ge=1, le=100)
    """Consecutive failed polls after which a device is ``offline`` (before: ``degraded``)."""
    retry_max_s: float = Field(default=60.0, gt=0)
    """Longest wait between retries of an offline device."""
    health_interval_s: float = Field(default=30.0, gt=0)
    """How often the gateway publishes its own health readings."""
    metrics_port: int | None = Field(default=None, ge=0, le=65_535)
    """Port of the Prometheus `/metrics` endpoint; none when absent."""

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        check_prefix(value)
        return value

    def all_devices(self) -> list[DeviceConfig]:
        """Return the devices, templates expanded."""
        return [*self.devices, *(d for t in self.templates for d in t.devices())]

    @model_validator(mode="after")
    def _references(self) -> GatewayConfig:
        bus_ids: list[str] = []
        for index, bus in enumerate(self.buses):
            if bus.id in bus_ids:
                raise FieldError(f"bus id {bus.id!r} is used twice", "buses", index, "id")
            bus_ids.append(bus.id)
        seen: set[str] = set()
        entries: list[tuple[str, int, str, str | None]] = [
            ("devices", i, d.id, d.bus) for i, d in enumerate(self.devices)
        ]
        for index, template in enumerate(self.templates):
            entries += [("templates", index, d.id, d.bus) for d in template.devices()]
        for index, source in enumerate(self.mqtt_sources):
            entries += [("mqtt_sources", index, d.id, None) for d in source.devices]
        for section, index, device_id, bus_id in entries:
            if not is_slug(device_id):
                raise FieldError(f"device id {device_id!r} is not a slug", section, index, "id")
            if device_id in seen:
                raise FieldError(f"device id {device_id!r} is used twice", section, index, "id")
            if device_id == self.gateway:
                message = "a device cannot have the gateway's id (its health readings use it)"
                raise FieldError(message, section, index, "id")
            seen.add(device_id)
            if bus_id is not None and bus_id not in bus_ids:
                raise FieldError(
                    f"no bus {bus_id!r} (buses: {', '.join(bus_ids) or 'none'})",
                    section,
                    index,
                    "bus",
                )
        return self
