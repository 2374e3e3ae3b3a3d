"""``/api/v1/assets``: the asset list with statuses, an asset's file and its history.

Creating, changing and deleting assets are the registry's operations (:mod:`api.resource`).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Viewer
from api.estate import HISTORY, AssetSummary, OpenAlert, bound_at, open_alerts
from api.listing import asset_listing, query_key
from api.live import LiveDevice
from api.paging import PagingQuery
from api.places import Location, PlaceQuery, location
from api.records import (
    METER,
    AssetIn,
    DocumentInfo,
    WorkOrderOut,
    columns,
    described,
    meter_tree_problem,
)
from api.registry.models import Asset, Binding, Document, Lifecycle, Room, Utilization, WorkOrder
from api.resource import resource
from api.schemas import SlugId, invalid, problems
from api.services import ServicesDep
from api.snapshot import current_assets
from api.status import OpenOrder, Status, derive
from facmon.types import SLUG_MAX, SLUG_PATTERN
from storage.sink import Aggregate, QueryRefused, SinkError

router = APIRouter(prefix="/api/v1", tags=["assets"], dependencies=[Viewer])


class DeviceNow(BaseModel):
    """A device bound to the asset, with what the broker last said of it."""

    device: str
    bound_since: datetime
    state: str | None = Field(description="online, degraded or offline, as its gateway says")
    ts: int | None = Field(description="Newest reading, epoch milliseconds")
    values: dict[str, bool | int | float | str]
    quality: dict[str, str]
    error: str | None


class Warranty(BaseModel):
    """The warranty, as of today."""

    end: date | None
    days_left: int | None = Field(description="Negative once it has ended")
    expired: bool | None


class Usage(BaseModel):
    """Time in use over complete local days (the profile's "in use"), up to yesterday.

    Today is not over, so it is not in the windows: it is :class:`UsageToday`.
    """

    days: int
    start: date = Field(description="The first local day counted")
    end: date = Field(description="The last local day counted: yesterday")
    in_use_h: float
    observed_h: float = Field(description="Time the asset's devices were heard")
    hours_per_day: float = Field(description="Hours in use per day of the window")
    share: float | None = Field(description="in use / observed; null when nothing was observed")


class UsageToday(BaseModel):
    """Time in use today so far (since local midnight), apart from the complete days."""

    day: date
    in_use_h: float
    observed_h: float = Field(description="Time the asset's devices were heard")
    share: float | None = Field(description="in use / observed; null when nothing was observed")


class AssetFile(BaseModel):
    """Everything about one asset in one answer."""

    asset: AssetIn
    location: Location
    status: Status
    reason: str
    devices: list[DeviceNow]
    open_alerts: list[OpenAlert] = Field(description="Firing or acknowledged, newest first")
    work_orders: list[WorkOrderOut] = Field(description=f"The newest {HISTORY}, newest first")
    documents: list[DocumentInfo] = Field(description="Attached documents, newest first")
    utilization: list[Usage] = Field(
        description="The last 7 and the last 30 complete local days, up to yesterday"
    )
    utilization_today: UsageToday = Field(description="Today so far, not in the windows")
    warranty: Warranty


@router.get(
    "/assets/{item}",
    response_model=AssetFile,
    responses=problems(401, 403, 404),
    summary="Get an asset's file",
)
async def asset_file(item: SlugId, services: ServicesDep) -> AssetFile:
    """The asset, where it is, its status and why, its devices live, its maintenance."""
    now = datetime.now(UTC)
    async with services.sessions() as session:
        asset = await session.get(Asset, item)
        if asset is None:
            raise HTTPException(404, f"no asset {item!r}")
        place = await location(session, asset.room_id)
        bindings = list(
            await session.scalars(
                select(Binding)
                .where(Binding.asset_id == item, *bound_at(now))
                .order_by(Binding.effective_from)
            )
        )
        orders = list(
            await session.scalars(
                select(WorkOrder)
                .where(WorkOrder.asset_id == item)
                .order_by(WorkOrder.opened_at.desc(), WorkOrder.id.desc())
                .limit(HISTORY)
            )
        )
        attached = await session.execute(described().where(Document.asset_id == item))
        papers = [DocumentInfo.model_validate(row._mapping) for row in attached]
        alerts = await open_alerts(session, "asset", item, services)
        today = services.local_today()
        usage = [await _usage(session, item, today, days) for days in (7, 30)]
        in_use, observed = await _totals(session, item, today, today)
    live = services.live
    verdict = derive(
        asset.lifecycle.value,
        [b.device for b in bindings],
        live.devices,
        live.gateways,
        [OpenOrder(o.id, o.title) for o in orders if o.status.value != "closed"],
        int(time.time() * 1000),
        services.stale_after_s,
    )
    return AssetFile(
        asset=AssetIn.model_validate(columns(asset)),
        location=place,
        status=verdict.status,
        reason=verdict.reason,
        devices=[_device_now(b, live.devices.get(b.device)) for b in bindings],
        open_alerts=alerts,
        work_orders=[WorkOrderOut.model_validate(columns(o)) for o in orders],
        documents=papers,
        utilization=usage,
        utilization_today=UsageToday(
            day=today,
            in_use_h=round(in_use / 3600, 2),
            observed_h=round(observed / 3600, 2),
            share=round(in_use / observed, 4) if observed else None,
        ),
        warranty=_warranty(asset.warranty_end, now.date()),
    )


async def _usage(session: AsyncSession, asset: str, today: date, days: int) -> Usage:
    """The ``days`` complete local days before ``today``."""
    first, last = today - timedelta(days=days), today - timedelta(days=1)
    in_use, observed = await _totals(session, asset, first, last)
    return Usage(
        days=days,
        start=first,
        end=last,
        in_use_h=round(in_use / 3600, 2),
        observed_h=round(observed / 3600, 2),
        hours_per_day=round(in_use / 3600 / days, 2),
        share=round(in_use / observed, 4) if observed else None,
    )


async def _totals(
    session: AsyncSession, asset: str, first: date, last: date
) -> tuple[float, float]:
    """Seconds in use and seconds observed from ``first`` to ``last`` inclusive."""
    in_use, observed = (
        await session.execute(
            select(func.sum(Utilization.in_use_s), func.sum(Utilization.observed_s)).where(
                Utilization.asset_id == asset,
                Utilization.day >= first,
                Utilization.day <= last,
            )
        )
    ).one()
    return in_use or 0.0, observed or 0.0


def _device_now(binding: Binding, live: LiveDevice | None) -> DeviceNow:
    if live is None:
        live = LiveDevice(binding.device, "", "")
    return DeviceNow(
        device=binding.device,
        bound_since=binding.effective_from,
        state=live.state,
        ts=live.ts,
        values=live.values,
        quality=live.quality,
        error=live.error,
    )


def _warranty(end: date | None, today: date) -> Warranty:
    if end is None:
        return Warranty(end=None, days_left=None, expired=None)
    left = (end - today).days
    return Warranty(end=end, days_left=left, expired=left < 0)


_UNITS_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
MAX_BUCKETS = 10_000
"""Most intervals one history request may ask for."""


class HistoryPoint(BaseModel):
    """One interval: its start and the aggregate of the point over it."""

    ts: int = Field(description="Start of the interval, epoch milliseconds")
    value: bool | int | float | str


class History(BaseModel):
    """A point's history, across every device bound to the asset over the window."""

    asset: str
    point: str
    agg: Aggregate
    every_ms: int
    values: list[HistoryPoint]


@router.get(
    "/assets/{item}/history",
    response_model=History,
    responses=problems(401, 403, 404, 503),
    summary="Get the history of one of an asset's points",
)
async def asset_history(
    item: SlugId,
    services: ServicesDep,
    point: Annotated[str, Query(pattern=SLUG_PATTERN, max_length=SLUG_MAX)],
    start: AwareDatetime,
    end: AwareDatetime,
    every: Annotated[str, Query(pattern=r"^[1-9][0-9]{0,8}(ms|s|m|h|d)$", examples=["5m"])] = "5m",
    agg: Aggregate = "mean",
) -> History:
    """One value per interval of ``every`` (``30s``, ``5m``, ``1h``, ``1d``), start to end.

    Read from the telemetry store, for whichever device was bound to the asset at the time.
    """
    unit = every.lstrip("0123456789")
    every_ms = int(every.removesuffix(unit)) * _UNITS_MS[unit]
    start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    if end_ms <= start_ms:
        raise invalid("query", "end", "must be after start")
    if (end_ms - start_ms) // every_ms > MAX_BUCKETS:
        raise invalid("query", "every", f"gives more than {MAX_BUCKETS} intervals: widen it")
    async with services.sessions() as session:
        if await session.get(Asset, item) is None:
            raise HTTPException(404, f"no asset {item!r}")
        bindings = list(
            await session.scalars(
                select(Binding)
                .where(Binding.asset_id == item, Binding.effective_from < end)
                .where(or_(Binding.effective_to.is_(None), Binding.effective_to > start))
            )
        )
    values: list[HistoryPoint] = []
    for binding in bindings:
        since = max(start_ms, int(binding.effective_from.timestamp() * 1000))
        until = end_ms
        if binding.effective_to is not None:
            until = min(end_ms, int(binding.effective_to.timestamp() * 1000))
        try:
            rows = await services.reader.history(binding.device, point, since, until, every_ms, agg)
        except QueryRefused as exc:
            raise invalid("query", "agg", str(exc)) from None
        except SinkError as exc:
            raise HTTPException(503, f"the telemetry store cannot be read: {exc}") from None
        values.extend(HistoryPoint(ts=ts, value=value) for ts, value in rows)
    values.sort(key=lambda v: v.ts)
    return History(asset=item, point=point, agg=agg, every_ms=every_ms, values=values)


class AssetPage(BaseModel):
    """One page of assets."""

    items: list[AssetSummary]
    total: int = Field(description="Assets matching the filters, on all pages")
    limit: int
    offset: int


_ASSET_SORTS = ("id", "name", "category", "status", "purchase_date", "warranty_end")


@router.get(
    "/assets",
    response_model=AssetPage,
    responses=problems(401, 403),
    summary="List assets with their status",
)
async def list_assets(
    request: Request,
    places: PlaceQuery,
    paging: PagingQuery,
    status: Status | None = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    lifecycle: Lifecycle | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: Annotated[str, Query(pattern="^-?(" + "|".join(_ASSET_SORTS) + ")$")] = "id",
) -> Response:
    """Assets filtered by status, category, lifecycle, place (site, building, room) and text.

    ``q`` searches id, name, serial, vendor and model; ``sort`` takes a field, ``-field``
    for descending. Statuses are at most a second old (an asset's file is always current);
    a change made through the API shows at once.
    """
    listing = asset_listing(request.app)
    key = query_key(request.scope)
    generation, snapshot = await current_assets(request.app)
    cached = listing.rendered(key, generation)
    if cached is not None:
        return Response(cached, media_type="application/json")
    wanted = {"category": category, "lifecycle": lifecycle}
    text = q.lower() if q else None
    chosen = [
        item
        for item in snapshot
        if (status is None or item.verdict.status is status)
        and places.admits(item.site_id, item.building_id, item.columns["room_id"])
        and all(v is None or item.columns[k] == v for k, v in wanted.items())
        and (text is None or text in item.text)
    ]
    field = sort.lstrip("-")
    if field != "id":  # the snapshot is in id order, and sorting is stable
        chosen.sort(key=lambda item: item.sort_key(field))
    if sort.startswith("-"):
        chosen.reverse()
    page = AssetPage(
        items=[item.summary() for item in paging.window(chosen)],
        total=len(chosen),
        limit=paging.limit,
        offset=paging.offset,
    )
    body = page.model_dump_json().encode()
    listing.keep(key, generation, body)
    return Response(body, media_type="application/json")


async def _meter_tree(
    session: AsyncSession, item: str | None, record: dict[str, Any]
) -> tuple[str, str] | None:
    """Why ``record``'s meter parent cannot be (see :func:`api.records.meter_tree_problem`)."""
    asset, parent = record["id"], record.get("meter_parent")
    rows = await session.execute(
        select(Asset.id, Asset.category, Asset.meter_parent).where(
            or_(Asset.category == METER, Asset.meter_parent == asset, Asset.id == parent)
        )
    )
    tree = {a: (category, above) for a, category, above in rows if a != item}
    problem = meter_tree_problem(asset, record["category"], parent, tree)
    return None if problem is None else ("meter_parent", problem)


crud = resource(
    "assets",
    Asset,
    AssetIn,
    parents={"room_id": (Room, "room")},
    filters=("category", "room_id", "lifecycle"),
    search=("id", "name", "serial", "vendor", "model"),
    sortable=("id", "name", "category", "purchase_date", "warranty_end"),
    get_one=False,  # GET /assets/{id} is the asset's file (above)
    list_all=False,  # and the list has their status and place
    checks={"category": lambda services, value: services.categories.check(value)},
    write_check=_meter_tree,
)
"""Create, change and delete assets."""
