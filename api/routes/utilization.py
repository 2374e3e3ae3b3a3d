"""``/api/v1/utilization``: hours in use by category, building or asset."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from api.auth import Viewer
from api.registry.models import Asset, Building, Floor, Room, Utilization
from api.schemas import invalid, problems
from api.services import ServicesDep

router = APIRouter(prefix="/api/v1", tags=["alerts"], dependencies=[Viewer])


class UsageGroup(BaseModel):
    """Time in use of a group of assets over the window."""

    group: str
    assets: int
    in_use_h: float
    observed_h: float
    share: float | None = Field(description="in use / observed; null when nothing was observed")
    hours_per_day: float = Field(description="Hours in use per asset and day of the window")


class UsageReport(BaseModel):
    """Utilization by category, building or asset, over complete local days."""

    group_by: Literal["category", "building", "asset"]
    start: date = Field(description="The first local day counted")
    end: date = Field(
        description="The last local day counted: yesterday at the latest (today is not over)"
    )
    groups: list[UsageGroup]


@router.get(
    "/utilization",
    response_model=UsageReport,
    responses=problems(401, 403),
    summary="Hours in use by category, building or asset",
)
async def utilization(
    services: ServicesDep,
    group_by: Literal["category", "building", "asset"] = "category",
    start: date | None = None,
    end: date | None = None,
) -> UsageReport:
    """Time in use (the profile's "in use") per group, from ``start`` to ``end`` inclusive.

    Counts complete local days only: ``end`` defaults to yesterday, and a later ``end`` is
    answered up to yesterday (the answer's ``end`` says so). ``start`` defaults to 30 days
    before ``end``. Assets whose profile says nothing of use are not counted.
    """
    if start is not None and end is not None and start > end:
        raise invalid("query", "start", "must not be after end")
    yesterday = services.local_today() - timedelta(days=1)
    last = min(end, yesterday) if end is not None else yesterday
    first = start or last - timedelta(days=min(29, (last - date.min).days))
    if first > last:
        raise invalid(
            "query",
            "start",
            f"is after yesterday ({yesterday}): utilization counts complete local days",
        )
    if (last - first).days > 3660:
        raise invalid("query", "start", "the window is longer than ten years")
    key = {
        "category": Asset.category,
        "building": func.coalesce(Building.id, ""),
        "asset": Asset.id,
    }[group_by]
    query = (
        select(
            key,
            func.count(func.distinct(Utilization.asset_id)),
            func.sum(Utilization.in_use_s),
            func.sum(Utilization.observed_s),
        )
        .join(Asset, Utilization.asset_id == Asset.id)
        .outerjoin(Room, Asset.room_id == Room.id)
        .outerjoin(Floor, Room.floor_id == Floor.id)
        .outerjoin(Building, Floor.building_id == Building.id)
        .where(Utilization.day >= first, Utilization.day <= last)
        .group_by(key)
        .order_by(key)
    )
    days = (last - first).days + 1
    async with services.sessions() as session:
        rows = (await session.execute(query)).all()
    return UsageReport(
        group_by=group_by,
        start=first,
        end=last,
        groups=[
            UsageGroup(
                group=str(group),
                assets=assets,
                in_use_h=round((in_use or 0) / 3600, 2),
                observed_h=round((observed or 0) / 3600, 2),
                share=round(in_use / observed, 4) if observed else None,
                hours_per_day=round((in_use or 0) / 3600 / days / max(assets, 1), 2),
            )
            for group, assets, in_use, observed in rows
        ],
    )
