"""``GET /healthz``."""

from __future__ import annotations

from fastapi import APIRouter

from api.live import live_counts
from api.schemas import Health
from api.services import ServicesDep
from facmon import __version__

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz(services: ServicesDep) -> Health:
    """Answer while the process is alive; say whether the broker is being followed."""
    return Health(
        version=__version__,
        broker_connected=services.feed.connected,
        devices=live_counts(services.live).total(),
    )
