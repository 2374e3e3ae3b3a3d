"""The SMTP server e-mail notifications go through (``alerts.smtp`` in the API's config)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from facmon.config import ConfigModel


class SmtpConfig(ConfigModel):
    """The SMTP server e-mail notifications go through."""

    host: str
    """Server name or address."""
    port: int = Field(default=25, ge=1, le=65_535)
    """Server port (25, 587 with starttls, 465 with ssl)."""
    security: Literal["none", "starttls", "ssl"] = "starttls"
    """How the connection is protected."""
    username: str | None = None
    """Login, if the server wants one."""
    password: SecretStr | None = None
    """Password for ``username`` (better in an environment variable)."""
    sender: str
    """The From address."""
    sender_name: str = "facmon"
    """The From name."""
    timeout_s: float = Field(default=15.0, gt=0, le=300)
    """How long to wait for the server."""
