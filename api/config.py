"""The API service's configuration model."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from api.alerts.config import AlertsConfig
from api.categories import Category, Vocabulary, shipped
from facmon.config import ConfigModel, FieldError
from facmon.contract import DEFAULT_PREFIX
from facmon.contract.topics import check_prefix
from facmon.mqtt import BrokerConfig
from storage.config import SinkConfig, SqliteSinkConfig


class TlsConfig(ConfigModel):
    """A certificate and its private key, PEM files."""

    certfile: Path
    """The certificate (with its chain)."""
    keyfile: Path
    """Its private key; keep it readable by the API's user only."""

    @field_validator("certfile", "keyfile")
    @classmethod
    def _readable(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"{value} is not a readable file")
        return value


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
    database: str = "sqlite:///facmon-registry.db"
    """The asset registry's database: `sqlite:///path/registry.db` or
    `postgresql://user:password@host:5432/facmon` (the password better in `FACMON_DATABASE`).
    Its schema is migrated at start."""
    stale_after_s: float = Field(default=300, gt=0, le=86_400)
    """An asset whose bound device sent nothing for this long is `offline`."""
    bootstrap_token: SecretStr | None = None
    """An admin token to store at start if it is not stored yet (for automated deployments and
    the demo); otherwise create tokens with `facmon api create-token`."""
    alerts: AlertsConfig = AlertsConfig()
    """Detection rules, and the teams told about alerts (see docs/alerts.md)."""
    tls: TlsConfig | None = None
    """Serve HTTPS with this certificate (else plain HTTP, e.g. behind a TLS proxy)."""
    failed_auth_limit: int = Field(default=20, ge=1, le=100_000)
    """Unknown or revoked tokens one client address may present within
    `failed_auth_window_s` before it is answered 429 (Retry-After) for the rest of it."""
    failed_auth_window_s: float = Field(default=60.0, gt=0, le=86_400)
    """The window of `failed_auth_limit`, in seconds."""
    categories: list[Category] = Field(default_factory=list)
    """Asset categories this site adds to facmon's own (`GET /api/v1/categories` lists both):
    each `{id, en, zh}`, optionally `aliases`. An asset's category, and `categories` in
    rules and routes, must be one of them (see docs/api.md#categories)."""

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        return async_url(value)

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        check_prefix(value)
        return value

    @model_validator(mode="after")
    def _known_categories(self) -> ApiConfig:
        known = shipped()
        for number, category in enumerate(self.categories):
            if category.id in known:
                told = "is one of facmon's own" if category.id in shipped() else "is given twice"
                raise FieldError(f"{category.id!r} {told}", "categories", number, "id")
            known = known.extended([category])
        try:
            self.alerts.check_categories(known)
        except FieldError as exc:
            raise FieldError(str(exc), "alerts", *exc.loc) from None
        return self

    def vocabulary(self) -> Vocabulary:
        """The asset categories of this site: facmon's own, then :attr:`categories`."""
        return shipped().extended(self.categories)


_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}


def async_url(url: str) -> str:
    """Return ``url`` with the asyncio driver facmon uses for its database kind.

    Raises:
        ValueError: not a SQLAlchemy URL, or neither SQLite nor PostgreSQL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(f"not a database URL: {url!r}") from None
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        raise ValueError(f"the registry runs on sqlite or postgresql, not {backend}")
    return parsed.set(drivername=f"{backend}+{_DRIVERS[backend]}").render_as_string(
        hide_password=False
    )
