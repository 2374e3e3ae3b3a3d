"""The gateway's configuration model (validated once at start)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from facmon.config import ConfigModel, FieldError
from facmon.contract import DEFAULT_PREFIX, Slug
from facmon.contract.topics import check_prefix
from facmon.mqtt import BrokerConfig


class TcpBus(ConfigModel):
    """A Modbus TCP endpoint: one device, or a serial server in front of an RS-485 line."""

    id: Slug
    """Bus id (slug), referred to by devices."""
    kind: Literal["tcp"] = "tcp"
    """Bus type."""
    host: str
    """Host name or address of the device or serial server."""
    port: int = Field(default=502, ge=1, le=65_535)
    """TCP port."""
    timeout_s: float = Field(default=1.0, gt=0, le=60)
    """Seconds to wait for an answer before the request counts as a timeout."""


class DeviceConfig(ConfigModel):
    """A device the gateway polls."""

    id: Slug
    """Device id (slug), unique across the deployment; the last level of its topics."""
    profile: str
    """Profile name (from the library or `profile_dirs`) or path to a YAML file."""
    bus: Slug
    """Id of the bus the device is on."""
    unit: int = Field(default=1, ge=0, le=255)
    """Modbus unit id (slave address)."""
    interval_s: float = Field(default=5.0, ge=0.05, le=86_400)
    """Seconds between polls."""
    max_gap: int = Field(default=8, ge=0, le=124)
    """Registers the planner may read across to merge two requests into one."""


class GatewayConfig(ConfigModel):
    """A gateway: its identity, uplink, buses and devices."""

    site: Slug
    """Site (campus or substation) slug; the second level of every topic."""
    gateway: Slug
    """This gateway's id (slug), unique within the site."""
    prefix: str = DEFAULT_PREFIX
    """Topic prefix before `v1`; the same on every component."""
    uplink: BrokerConfig = BrokerConfig()
    """The central broker."""
    queue_limit: int = Field(default=100_000, ge=100)
    """Envelopes held in memory while the uplink is down; the oldest are dropped (counted)."""
    buses: list[TcpBus] = Field(default_factory=list)
    """Modbus endpoints this gateway owns."""
    devices: list[DeviceConfig] = Field(default_factory=list)
    """Devices to poll."""
    profile_dirs: list[Path] = Field(default_factory=list)
    """Folders searched for profiles by name before the shipped library."""

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        check_prefix(value)
        return value

    @model_validator(mode="after")
    def _references(self) -> GatewayConfig:
        bus_ids: list[str] = []
        for index, bus in enumerate(self.buses):
            if bus.id in bus_ids:
                raise FieldError(f"bus id {bus.id!r} is used twice", "buses", index, "id")
            bus_ids.append(bus.id)
        device_ids: set[str] = set()
        for index, device in enumerate(self.devices):
            if device.id in device_ids:
                raise FieldError(f"device id {device.id!r} is used twice", "devices", index, "id")
            device_ids.add(device.id)
            if device.bus not in bus_ids:
                raise FieldError(
                    f"no bus {device.bus!r} (buses: {', '.join(bus_ids) or 'none'})",
                    "devices",
                    index,
                    "bus",
                )
        return self
