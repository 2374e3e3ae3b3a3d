"""The API service's configuration model."""

from __future__ import annotations

from pydantic import Field, field_validator

from collector.config import SinkConfig, SqliteSinkConfig
from facmon.config import ConfigModel
from facmon.contract import DEFAULT_PREFIX
from facmon.contract.topics import check_prefix
from facmon.mqtt import BrokerConfig


class ApiConfig(ConfigModel):
    """Where the API listens, which broker it follows and which store it reads."""

    host: str = "127.0.0.1"
    """Address to listen on."""
    port: int = Field(default=8000, ge=0, le=65_535)
    """Port to listen on."""
    prefix: str = DEFAULT_PREFIX
    """Topic prefix before `v1`; the same on every component."""
    broker: BrokerConfig = BrokerConfig()
    """The broker followed for live state."""
    store: SinkConfig = SqliteSinkConfig()
    """The telemetry store read back when there is no live value."""

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        check_prefix(value)
        return value
