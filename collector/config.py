"""The collector's configuration model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from facmon.config import ConfigModel
from facmon.contract import DEFAULT_PREFIX
from facmon.contract.topics import check_prefix
from facmon.mqtt import BrokerConfig
from facmon.types import Slug
from storage.config import SinkConfig, SqliteSinkConfig


class CollectorConfig(ConfigModel):
    """A collector: where to consume, where to write, how to batch."""

    id: Slug = "collector"
    """This collector's id (slug), used in dead letters and its MQTT client id."""
    prefix: str = DEFAULT_PREFIX
    """Topic prefix before `v1`; the same on every component."""
    broker: BrokerConfig = BrokerConfig()
    """The broker to consume from."""
    protocol: Literal["3.1.1", "5"] = "5"
    """MQTT protocol version: `5` (Mosquitto, EMQX) or `3.1.1` (the embedded demo broker)."""
    share_group: Slug | None = None
    """With MQTT 5, collectors in one group split the stream (``$share/<group>/...``)."""
    session_expiry_s: int = Field(default=7 * 86_400, ge=0)
    """How long the broker keeps this collector's session (and queues for it) while it is away."""
    sink: SinkConfig = SqliteSinkConfig()
    """Where readings are stored."""
    max_unacked: int = Field(default=20_000, ge=10, le=65_535)
    """Most messages the collector holds unacknowledged: the bound on its memory while the
    store is slow or down. Sent to the broker as the MQTT 5 Receive Maximum, and enforced by
    the collector itself (it stops reading until acknowledgements free room), whatever the
    protocol version or broker."""
    batch_max_lines: int = Field(default=5_000, ge=1, le=1_000_000)
    """Most readings written in one batch."""
    batch_max_delay_s: float = Field(default=0.25, gt=0, le=60)
    """Longest a reading waits for its batch to fill, in seconds."""
    metrics_port: int | None = Field(default=None, ge=0, le=65_535)
    """Port of the Prometheus `/metrics` endpoint; none when absent."""
    health_interval_s: float = Field(default=10.0, ge=1, le=3600)
    """Seconds between two of the collector's own readings stored as `facmon_collector`."""

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        check_prefix(value)
        return value
