"""``/api/v1/summary``: the whole estate at a glance."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import Viewer
from api.estate import AssetSummary, placed_assets, summaries
from api.schemas import problems
from api.services import ServicesDep
from api.status import Status

router = APIRouter(prefix="/api/v1", tags=["assets"], dependencies=[Viewer])


class Summary(BaseModel):
    """The whole estate at a glance."""

    assets: int
    by_status: dict[Status, int]
    by_category: dict[str, dict[Status, int]]
    by_site: dict[str, dict[Status, int]] = Field(description="Unplaced assets under ''")
    availability: float | None = Field(
        description="Share of the assets in service (not retired, not unknown) that are ok or idle"
    )
    idle: list[AssetSummary] = Field(description="Idle assets, which could be reallocated")


@router.get(
    "/summary",
    response_model=Summary,
    responses=problems(401, 403),
    summary="Counts by status, category and site; availability; idle assets",
)
async def summary(services: ServicesDep) -> Summary:
    """Counts by status, category and site, availability and the idle list."""
    assets = await summaries(services, placed_assets())
    by_status = dict.fromkeys(Status, 0)
    by_category: dict[str, dict[Status, int]] = {}
    by_site: dict[str, dict[Status, int]] = {}
    for item in assets:
        by_status[item.status] += 1
        by_category.setdefault(item.asset.category, dict.fromkeys(Status, 0))[item.status] += 1
        by_site.setdefault(item.site_id or "", dict.fromkeys(Status, 0))[item.status] += 1
    counted = len(assets) - by_status[Status.UNKNOWN]
    working = by_status[Status.OK] + by_status[Status.IDLE]
    return Summary(
        assets=len(assets),
        by_status=by_status,
        by_category=by_category,
        by_site=by_site,
        availability=round(working / counted, 4) if counted else None,
        idle=sorted((a for a in assets if a.status is Status.IDLE), key=lambda a: a.asset.id),
    )
