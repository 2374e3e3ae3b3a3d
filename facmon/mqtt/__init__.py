"""MQTT for every component: broker addresses as configured, and aiomqtt clients for them.

:class:`BrokerConfig` reads ``mqtt://user:pass@host:port``; :func:`async_client` is the
aiomqtt client of the services that only publish or subscribe. The collector, which must
acknowledge after its writes, speaks through its own session on :mod:`facmon.mqtt.packets`.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import aiomqtt
from pydantic import AfterValidator, Field, SecretStr

from facmon.config import ConfigModel


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"broker URL must start with mqtt:// or mqtts://, not {url!r}")
    if not parts.hostname:
        raise ValueError(f"broker URL {url!r} has no host")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"broker URL {url!r} has a bad port") from None
    return url


class BrokerConfig(ConfigModel):
    """How to reach the MQTT broker."""

    url: Annotated[str, AfterValidator(_check_url)] = "mqtt://127.0.0.1:1883"
    """Broker address: `mqtt://host:port`, or `mqtts://` for TLS (port 8883 by default)."""
    client_id: str | None = None
    """MQTT client id; derived from the component's identity when absent."""
    username: str | None = None
    """User name, when the broker requires authentication."""
    password: SecretStr | None = None
    """Password; set it through the environment, never in the file."""
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    """MQTT keep-alive interval in seconds."""
    ca_file: Path | None = None
    """With `mqtts://`: the CA certificate(s) that signed the broker's, PEM (a private CA);
    the system's CAs when absent."""

    @property
    def host(self) -> str:
        """The broker's host name."""
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        """The broker's port (1883, or 8883 for ``mqtts``, unless given)."""
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        """Whether the connection uses TLS."""
        return urlsplit(self.url).scheme == "mqtts"

    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS context for ``mqtts://``; None for ``mqtt://``.

        The broker's certificate and host name are verified against ``ca_file``, or the
        system's CAs.
        """
        if not self.tls:
            return None
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)


def async_client(broker: BrokerConfig, **options: Any) -> aiomqtt.Client:
    """Return an aiomqtt client for ``broker`` (credentials, TLS, keep-alive, 10 s timeout).

    ``options`` go to :class:`aiomqtt.Client` (``identifier``, ``will``, ...).
    """
    password = broker.password.get_secret_value() if broker.password else None
    return aiomqtt.Client(
        broker.host,
        broker.port,
        username=broker.username,
        password=password,
        keepalive=broker.keepalive_s,
        tls_context=broker.tls_context(),
        timeout=10,
        **options,
    )
