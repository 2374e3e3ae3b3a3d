"""The collector's configuration model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, SecretStr, field_validator

from facmon.config import ConfigModel
from facmon.contract import DEFAULT_PREFIX
from facmon.contract.topics import check_prefix
from facmon.mqtt import BrokerConfig
from facmon.types import Slug


def _http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL, not {url!r}")
    return url.rstrip("/")


class InfluxSinkConfig(ConfigModel):
    """InfluxDB through its v1-compatible HTTP API (1.x natively, 2.x and 3.x by mapping).

    For 2.x, ``database`` is the bucket's mapped database name and ``token`` an API token.
    """

    kind: Literal["influxdb"] = "influxdb"
    """Selects this sink."""
    url: Annotated[str, AfterValidator(_http_url)] = "http://127.0.0.1:8086"
    """Base URL of the InfluxDB HTTP API."""
    database: str = Field(default="facmon", min_length=1, max_length=255)
    """Database (1.x), or the database name mapped to a bucket (2.x, 3.x)."""
    retention_policy: str | None = None
    """Retention policy to write to; the database default when absent."""
    token: SecretStr | None = None
    """API token (InfluxDB 2.x/3.x), sent as `Authorization: Token ...`."""
    username: str | None = None
    """User name for InfluxDB 1.x authentication."""
    password: SecretStr | None = None
    """Password for InfluxDB 1.x authentication; set it through the environment."""
    timeout_s: float = Field(default=10.0, gt=0)
    """Seconds before an HTTP request to InfluxDB counts as failed."""
    gzip: bool = True
    """Compress write bodies."""
    create_database: bool = False
    """Issue `CREATE DATABASE` (idempotent, 1.x) before the first write; needs admin rights."""
    """Compress write bodies."""


class SqliteSinkConfig(ConfigModel):
    """The embedded SQLite store (the demo's default)."""

    kind: Literal["sqlite"] = "sqlite"
    """Selects this sink."""
    path: Path = Path("facmon-telemetry.db")
    """SQLite file; created when absent."""


SinkConfig = Annotated[InfluxSinkConfig | SqliteSinkConfig, Field(discriminator="kind")]


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
