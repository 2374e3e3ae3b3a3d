"""Configuration of ``facmon sim``: which profiles to serve, where, and what happens when."""

from __future__ import annotations

from pydantic import Field, model_validator

from devices.modbus.endpoint import SimEndpoint
from devices.sim.scenario import Step
from facmon.config import ConfigModel, FieldError
from facmon.mqtt import BrokerConfig
from facmon.types import Slug


class SimMqttDevice(ConfigModel):
    """One simulated MQTT-native device (vehicle tracker, door controller, sensor)."""

    id: Slug
    """Device id (slug); it replaces ``{device}`` in the profile's topic."""
    profile: str
    """Profile name or path (an MQTT profile)."""
    interval_s: float = Field(default=5.0, gt=0)
    """Seconds between periodic messages."""
    route: list[tuple[float, float]] = Field(default_factory=list)
    """Vehicles: waypoints (latitude, longitude) driven in a loop; a default loop when empty."""


class MeterSum(ConfigModel):
    """A main meter that counts what its sub-meters count, and the rest of what it feeds."""

    device: Slug
    """The main meter (a field-protocol device of ``endpoints``)."""
    parts: list[Slug] = Field(min_length=1)
    """Its sub-meters (field-protocol devices; a part may itself sum its own parts)."""
    points: list[Slug] = Field(min_length=1)
    """The additive points: energy counters and power (``import_energy_kwh``,
    ``active_power_kw``). Each is the main meter's own simulated value, the remainder
    nobody sub-meters, plus the parts' at the same time."""


class SimConfig(ConfigModel):
    """The whole simulator: Modbus endpoints, MQTT devices, a scenario and the random seed."""

    seed: int = 1
    """Random seed: the same seed gives the same values."""
    utc_offset_h: float = Field(default=8.0, ge=-12, le=14)
    """Local time of the simulated site, for office hours (UTC+8 by default)."""
    endpoints: list[SimEndpoint] = Field(default_factory=list)
    """Modbus listening ports."""
    broker: BrokerConfig | None = None
    """Broker the MQTT devices publish to (needed when there are MQTT devices)."""
    mqtt_devices: list[SimMqttDevice] = Field(default_factory=list)
    """MQTT-native devices."""
    scenario: list[Step] = Field(default_factory=list)
    """Changes injected at given times (see docs/devices.md)."""
    sums: list[MeterSum] = Field(default_factory=list)
    """Metering trees: main meters whose counters are their sub-meters' plus a remainder."""

    @model_validator(mode="after")
    def _consistent(self) -> SimConfig:
        if not self.endpoints and not self.mqtt_devices:
            raise FieldError(
                "simulate at least one device (endpoints or mqtt_devices)", "endpoints"
            )
        if self.mqtt_devices and self.broker is None:
            raise FieldError("MQTT devices need a broker", "broker")
        ids: set[str] = set()
        for e, endpoint in enumerate(self.endpoints):
            for d, device in enumerate(endpoint.devices):
                if device.id in ids:
                    raise FieldError(
                        f"device id {device.id!r} is used twice", "endpoints", e, "devices", d, "id"
                    )
                ids.add(device.id)
        for d, mqtt_device in enumerate(self.mqtt_devices):
            if mqtt_device.id in ids:
                raise FieldError(
                    f"device id {mqtt_device.id!r} is used twice", "mqtt_devices", d, "id"
                )
            ids.add(mqtt_device.id)
        self._check_sums(ids - {d.id for d in self.mqtt_devices})
        for index, step in enumerate(self.scenario):
            if step.device is not None and step.device not in ids:
                raise FieldError(
                    f"no simulated device {step.device!r}", "scenario", index, "device"
                )
            if step.link is not None and step.endpoint >= len(self.endpoints):
                raise FieldError(f"no endpoint {step.endpoint}", "scenario", index, "endpoint")
        return self

    def _check_sums(self, fielded: set[str]) -> None:
        """Every device of ``sums`` is served on an endpoint, a part of one sum only, no cycle."""
        upward: dict[str, str] = {}
        for index, total in enumerate(self.sums):
            for p, device in enumerate(total.parts):
                if device in upward:
                    raise FieldError(
                        f"{device!r} is a part of {upward[device]!r} already",
                        *("sums", index, "parts", p),
                    )
                upward[device] = total.device
            for where, device in [("device", total.device)] + [
                (f"parts.{p}", part) for p, part in enumerate(total.parts)
            ]:
                if device not in fielded:
                    raise FieldError(f"no simulated field device {device!r}", "sums", index, where)
        for index, total in enumerate(self.sums):
            seen, above = {total.device}, upward.get(total.device)
            while above is not None:
                if above in seen:
                    raise FieldError(f"{total.device!r} sums into itself", "sums", index, "device")
                seen.add(above)
                above = upward.get(above)
