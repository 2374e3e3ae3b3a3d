"""``/api/v1/deliveries``: each notification to each target, and how it went."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from sqlalchemy import select

from api.auth import Viewer
from api.paging import Limit
from api.records import columns
from api.registry.models import Delivery
from api.schemas import DeliveryOut, problems
from api.services import ServicesDep

router = APIRouter(prefix="/api/v1", tags=["alerts"], dependencies=[Viewer])


@router.get(
    "/deliveries",
    response_model=list[DeliveryOut],
    responses=problems(401, 403),
    summary="List notification deliveries, newest first",
)
async def list_deliveries(
    services: ServicesDep,
    status: Literal["pending", "sent", "failed"] | None = None,
    limit: Limit = 100,
) -> list[DeliveryOut]:
    """Each notification to each target, with its attempts and last error."""
    query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Delivery.status == status)
    async with services.sessions() as session:
        return [DeliveryOut.model_validate(columns(d)) for d in await session.scalars(query)]
