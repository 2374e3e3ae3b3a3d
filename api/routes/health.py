"""``GET /healthz``."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.schemas import Health
from facmon import __version__

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz(request: Request) -> Health:
    """Answer while the process is alive; say whether the broker is being followed."""
    services = request.app.state.services
    return Health(
        version=__version__,
        broker_connected=services.feed.connected,
        devices=len(services.live.devices),
    )
