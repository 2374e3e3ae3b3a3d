"""Where telemetry is stored: the configuration of each store (one ``kind`` each)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, SecretStr

from facmon.config import ConfigModel


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


class SqliteSinkConfig(ConfigModel):
    """The embedded SQLite store (the demo's default)."""

    kind: Literal["sqlite"] = "sqlite"
    """Selects this sink."""
    path: Path = Path("facmon-telemetry.db")
    """SQLite file; created when absent."""


SinkConfig = Annotated[InfluxSinkConfig | SqliteSinkConfig, Field(discriminator="kind")]
