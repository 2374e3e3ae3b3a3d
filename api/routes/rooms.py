"""``/api/v1/rooms``: a room's file; creating, changing and deleting rooms."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.auth import Viewer
from api.estate import (
    HISTORY,
    AssetSummary,
    OpenAlert,
    bound_now,
    open_alerts,
    placed_assets,
    summaries,
)
from api.places import Location, location
from api.records import RoomIn, WorkOrderOut, columns
from api.registry.models import Asset, Floor, Room, WorkOrder, WorkOrderStatus
from api.resource import resource
from api.schemas import SlugId, problems
from api.services import ServicesDep
from api.status import Status

router = APIRouter(prefix="/api/v1", tags=["assets"], dependencies=[Viewer])


class Reading(BaseModel):
    """The newest values of one device."""

    device: str
    ts: int | None
    values: dict[str, bool | int | float | str]


class RoomFile(BaseModel):
    """Everything about one room in one answer."""

    room: RoomIn
    location: Location
    status_counts: dict[Status, int] = Field(description="Assets in the room by status")
    assets: list[AssetSummary]
    environment: list[Reading] = Field(
        description="Live values of the room's environment assets (temperature, humidity, ...)"
    )
    open_alerts: list[OpenAlert] = Field(description="Firing or acknowledged, newest first")
    work_orders: list[WorkOrderOut] = Field(
        description=f"Open work orders on the room's assets, newest first (at most {HISTORY})"
    )


@router.get(
    "/rooms/{item}",
    response_model=RoomFile,
    responses=problems(401, 403, 404),
    summary="Get a room's file",
)
async def room_file(item: SlugId, services: ServicesDep) -> RoomFile:
    """The room, where it is, its assets and their status, its environment, open work."""
    async with services.sessions() as session:
        room = await session.get(Room, item)
        if room is None:
            raise HTTPException(404, f"no room {item!r}")
        place = await location(session, item)
        orders = list(
            await session.scalars(
                select(WorkOrder)
                .join(Asset, WorkOrder.asset_id == Asset.id)
                .where(Asset.room_id == item, WorkOrder.status != WorkOrderStatus.CLOSED)
                .order_by(WorkOrder.opened_at.desc(), WorkOrder.id.desc())
                .limit(HISTORY)
            )
        )
        bound = await bound_now(session, datetime.now(UTC))
        alerts = await open_alerts(session, "room", item, services)
    assets = await summaries(services, placed_assets().where(Asset.room_id == item))
    assets.sort(key=lambda a: a.asset.id)
    counts = dict.fromkeys(Status, 0)
    for summary in assets:
        counts[summary.status] += 1
    environment = []
    for summary in assets:
        if summary.asset.category == "environment":
            for device in bound.get(summary.asset.id, []):
                seen = services.live.devices.get(device)
                environment.append(
                    Reading(
                        device=device,
                        ts=seen.ts if seen else None,
                        values=seen.values if seen else {},
                    )
                )
    return RoomFile(
        room=RoomIn.model_validate(columns(room)),
        location=place.model_copy(update={"room": None}),
        status_counts=counts,
        assets=assets,
        environment=environment,
        open_alerts=alerts,
        work_orders=[WorkOrderOut.model_validate(columns(o)) for o in orders],
    )


crud = resource(
    "rooms",
    Room,
    RoomIn,
    parents={"floor_id": (Floor, "floor")},
    filters=("floor_id", "kind"),
    search=("name",),
    get_one=False,  # GET /rooms/{id} is the room's file (above)
)
"""List, create, change and delete rooms."""
