"""Configuration of ``facmon sim``: which profiles to serve, on which ports and unit ids."""

from __future__ import annotations

from pydantic import Field, model_validator

from facmon.config import ConfigModel
from facmon.contract import Slug


class SimDevice(ConfigModel):
    """One simulated device: a profile answering at a Modbus unit id."""

    id: Slug
    """Device id (slug)."""
    profile: str
    """Profile name or path."""
    unit: int = Field(default=1, ge=1, le=247)
    """Modbus unit id the device answers to."""


class SimEndpoint(ConfigModel):
    """A TCP port serving one or more unit ids, like a serial server in front of an RS-485 line.

    ``port`` 0 picks a free port (the chosen port is logged and reported).
    """

    host: str = "127.0.0.1"
    """Address to listen on."""
    port: int = Field(default=5020, ge=0, le=65_535)
    """TCP port; 0 picks a free one."""
    devices: list[SimDevice] = Field(min_length=1)
    """Devices behind this port."""

    @model_validator(mode="after")
    def _unique_units(self) -> SimEndpoint:
        units = [d.unit for d in self.devices]
        duplicated = sorted({u for u in units if units.count(u) > 1})
        if duplicated:
            raise ValueError(f"unit ids used twice on one endpoint: {duplicated}")
        return self


class SimConfig(ConfigModel):
    """The whole simulator: endpoints and the random seed that makes runs repeatable."""

    seed: int = 1
    """Random seed: the same seed gives the same values."""
    endpoints: list[SimEndpoint] = Field(min_length=1)
    """Listening ports."""

    @model_validator(mode="after")
    def _unique_ids(self) -> SimConfig:
        ids = [d.id for e in self.endpoints for d in e.devices]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"device ids used twice: {duplicated}")
        return self
