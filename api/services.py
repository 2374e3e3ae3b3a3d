"""What the routes need, built once per process, and the dependency that hands it to them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.alerts.manager import Alerting
from api.auth import FailedLogins
from api.categories import Vocabulary, shipped
from api.live import LiveFeed, LiveState
from api.registry.tokens import TokenVerifier
from storage.sink import TelemetryReader


@dataclass
class Services:
    """What the routes need, built once by :class:`api.main.ApiService`, held on ``app.state``."""

    live: LiveState
    feed: LiveFeed
    reader: TelemetryReader
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    tokens: TokenVerifier
    stale_after_s: float = 300.0
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the server shuts down: open event streams end."""
    alerting: Alerting | None = None
    """Detection and alerts (None in tests that do not need them)."""
    failed_logins: FailedLogins = field(default_factory=FailedLogins)
    """Failed authentications per client address (guessing tokens is slowed down)."""
    categories: Vocabulary = field(default_factory=shipped)
    """The asset categories of this site (facmon's own and the configuration's)."""

    def running_alerting(self) -> Alerting:
        """The alerting of this process.

        Raises:
            HTTPException: 503, alerting is not running in this process.
        """
        if self.alerting is None:
            raise HTTPException(503, "alerting is not running in this process")
        return self.alerting

    def local_today(self) -> date:
        """Today in the default working calendar's timezone: utilization is kept by local day."""
        alerting = self.alerting
        zone = alerting.rules.calendars["default"].zone if alerting is not None else UTC
        return datetime.now(zone).date()


def services_of(request: Request) -> Services:
    """The services of the application serving ``request``."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(services_of)]
"""A route's parameter that receives the :class:`Services`."""
