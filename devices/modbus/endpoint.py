"""The simulator's Modbus endpoints: a TCP port serving unit ids, Modbus TCP or RTU framed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from facmon.config import ConfigModel, FieldError
from facmon.types import Slug


class SimDevice(ConfigModel):
    """One simulated Modbus device: a profile answering at a unit id."""

    id: Slug
    """Device id (slug)."""
    profile: str
    """Profile name or path."""
    unit: int = Field(default=1, ge=1, le=247)
    """Modbus unit id the device answers to."""
    max_block: int | None = Field(default=None, ge=1, le=125)
    """A quirk of some devices: refuse (exception 03) reads of more registers than this."""


class SimEndpoint(ConfigModel):
    """A TCP port serving one or more unit ids, like a serial server in front of an RS-485 line."""

    host: str = "127.0.0.1"
    """Address to listen on."""
    port: int = Field(default=5020, ge=0, le=65_535)
    """TCP port; 0 picks a free one (logged)."""
    framing: Literal["tcp", "rtu"] = "tcp"
    """``tcp``: Modbus TCP (MBAP); ``rtu``: RTU frames with CRC over TCP (a serial server)."""
    devices: list[SimDevice] = Field(min_length=1)
    """Devices behind this port."""

    @model_validator(mode="after")
    def _unique_units(self) -> SimEndpoint:
        seen: set[int] = set()
        for index, device in enumerate(self.devices):
            if device.unit in seen:
                raise FieldError(
                    f"unit id {device.unit} is used twice on this endpoint",
                    "devices",
                    index,
                    "unit",
                )
            seen.add(device.unit)
        return self
