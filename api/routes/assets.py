"""``GET /api/v1/assets/{id}``: an asset's file, the registry joined with live state."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Viewer
from api.listing import asset_listing, query_key
from api.live import LiveDevice
from api.registry.models import (
    Alert,
    AlertState,
    Asset,
    Binding,
    Building,
    Document,
    Floor,
    Lifecycle,
    Room,
    Site,
    Utilization,
    WorkOrder,
    WorkOrderStatus,
)
from api.resource import AssetIn, RoomIn, SlugId, WorkOrderOut, columns
from api.routes.documents import DocumentInfo, described
from api.schemas import Problem, invalid
from api.status import OpenOrder, Status, Verdict, derive
from collector.sinks import Aggregate, QueryRefused, SinkError
from facmon.types import SLUG_MAX, SLUG_PATTERN

router = APIRouter(prefix="/api/v1", tags=["assets"], dependencies=[Viewer])

HISTORY = 20
"""Work orders shown in a file, newest first."""


class Place(BaseModel):
    """One level of where an asset is."""

    id: str
    name: str


class Location(BaseModel):
    """Where an asset is: each level, or null while it is not placed."""

    site: Place | None = None
    building: Place | None = None
    floor: Place | None = None
    room: Place | None = None


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


class OpenAlert(BaseModel):
    """An alert not resolved yet."""

    id: str
    state: str
    severity: str
    rule: str
    summary: str
    summary_zh: str
    started_at: datetime
    device: str | None


class Usage(BaseModel):
    """Time in use over a window of days (the profile's "in use"), up to today."""

    days: int
    in_use_h: float
    observed_h: float = Field(description="Time the asset's devices were heard")
    hours_per_day: float
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
    utilization: list[Usage] = Field(description="The last 7 and the last 30 days")
    warranty: Warranty


@router.get(
    "/assets/{item}",
    response_model=AssetFile,
    responses={401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem}},
    summary="Get an asset's file",
)
async def asset_file(item: SlugId, request: Request) -> AssetFile:
    """The asset, where it is, its status and why, its devices live, its maintenance."""
    services = request.app.state.services
    now = datetime.now(UTC)
    async with services.sessions() as session:
        asset = await session.get(Asset, item)
        if asset is None:
            raise HTTPException(404, f"no asset {item!r}")
        location = await _location(session, asset.room_id)
        bindings = list(
            await session.scalars(
                select(Binding)
                .where(Binding.asset_id == item, *_bound_at(now))
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
        alerts = await open_alerts(session, "asset", item)
        today = local_today(services)
        usage = [await _usage(session, item, today, days) for days in (7, 30)]
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
        location=location,
        status=verdict.status,
        reason=verdict.reason,
        devices=[_device_now(b, live.devices.get(b.device)) for b in bindings],
        open_alerts=alerts,
        work_orders=[WorkOrderOut.model_validate(columns(o)) for o in orders],
        documents=papers,
        utilization=usage,
        warranty=_warranty(asset.warranty_end, now.date()),
    )


async def open_alerts(
    session: AsyncSession, label: Literal["asset", "room"], value: str
) -> list[OpenAlert]:
    """The open alerts of an asset or a room, newest first."""
    column = Alert.asset if label == "asset" else Alert.room
    rows = await session.scalars(
        select(Alert)
        .where(column == value, Alert.state != AlertState.RESOLVED)
        .order_by(Alert.started_at.desc())
    )
    return [
        OpenAlert(
            id=a.id,
            state=a.state.value,
            severity=a.severity,
            rule=a.rule,
            summary=a.summary,
            summary_zh=a.summary_zh,
            started_at=a.started_at,
            device=a.labels.get("device") or None,
        )
        for a in rows
    ]


def local_today(services: Any) -> date:
    """Today in the default working calendar's timezone: utilization is kept by local day."""
    alerting = getattr(services, "alerting", None)
    zone = alerting.rules.calendars["default"].zone if alerting is not None else UTC
    return datetime.now(zone).date()


async def _usage(session: AsyncSession, asset: str, today: date, days: int) -> Usage:
    in_use, observed = (
        await session.execute(
            select(func.sum(Utilization.in_use_s), func.sum(Utilization.observed_s)).where(
                Utilization.asset_id == asset,
                Utilization.day > today - timedelta(days=days),
                Utilization.day <= today,
            )
        )
    ).one()
    in_use, observed = in_use or 0.0, observed or 0.0
    return Usage(
        days=days,
        in_use_h=round(in_use / 3600, 2),
        observed_h=round(observed / 3600, 2),
        hours_per_day=round(in_use / 3600 / days, 2),
        share=round(in_use / observed, 4) if observed else None,
    )


async def _location(session: AsyncSession, room_id: str | None) -> Location:
    if room_id is None:
        return Location()
    room = await session.get(Room, room_id)
    floor = await session.get(Floor, room.floor_id) if room else None
    building = await session.get(Building, floor.building_id) if floor else None
    site = await session.get(Site, building.site_id) if building else None
    return Location(
        site=Place(id=site.id, name=site.name) if site else None,
        building=Place(id=building.id, name=building.name) if building else None,
        floor=Place(id=floor.id, name=floor.name) if floor else None,
        room=Place(id=room.id, name=room.name) if room else None,
    )


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
    responses={
        401: {"model": Problem},
        403: {"model": Problem},
        404: {"model": Problem},
        503: {"model": Problem},
    },
    summary="Get the history of one of an asset's points",
)
async def asset_history(
    item: SlugId,
    request: Request,
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
    services = request.app.state.services
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


class AssetSummary(BaseModel):
    """An asset in a list: its record, where it is and its status."""

    asset: AssetIn
    site_id: str | None
    building_id: str | None
    status: Status
    reason: str


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
    responses={401: {"model": Problem}, 403: {"model": Problem}},
    summary="List assets with their status",
)
async def list_assets(
    request: Request,
    status: Status | None = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    lifecycle: Lifecycle | None = None,
    site: Annotated[str | None, Query(max_length=64)] = None,
    building: Annotated[str | None, Query(max_length=64)] = None,
    room: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: Annotated[str, Query(pattern="^-?(" + "|".join(_ASSET_SORTS) + ")$")] = "id",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
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
    wanted = {"category": category, "lifecycle": lifecycle, "room_id": room}
    text = q.lower() if q else None
    chosen = [
        item
        for item in snapshot
        if (status is None or item.verdict.status is status)
        and (site is None or item.site_id == site)
        and (building is None or item.building_id == building)
        and all(v is None or item.columns[k] == v for k, v in wanted.items())
        and (text is None or text in item.text)
    ]
    field = sort.lstrip("-")
    if field != "id":  # the snapshot is in id order, and sorting is stable
        chosen.sort(key=lambda item: item.sort_key(field))
    if sort.startswith("-"):
        chosen.reverse()
    page = AssetPage(
        items=[item.summary() for item in chosen[offset : offset + limit]],
        total=len(chosen),
        limit=limit,
        offset=offset,
    )
    body = page.model_dump_json().encode()
    listing.keep(key, generation, body)
    return Response(body, media_type="application/json")


async def current_assets(app: Any) -> tuple[int, list[Listed]]:
    """The asset list's current snapshot (see :mod:`api.listing`) and its generation."""
    listing = asset_listing(app)
    services = app.state.services
    return await listing.current(lambda: _snapshot(services, listing), services.live.version)


@dataclass(slots=True)
class Listed:
    """An asset in the list's snapshot: plain values; the answer's model is built per page."""

    columns: dict[str, Any]
    site_id: str | None
    building_id: str | None
    verdict: Verdict
    text: str

    def sort_key(self, field: str) -> tuple[bool, str]:
        """What ``sort=field`` orders by: values first, then the assets without one."""
        value = self.verdict.status if field == "status" else self.columns[field]
        return (value is None, str(value) if value is not None else "")

    def summary(self) -> AssetSummary:
        """The asset as a list shows it."""
        return AssetSummary(
            asset=AssetIn.model_validate(self.columns),
            site_id=self.site_id,
            building_id=self.building_id,
            status=self.verdict.status,
            reason=self.verdict.reason,
        )


@dataclass
class _Ledger:
    """The registry's side of the list: assets with their place, bindings, open work."""

    rows: list[tuple[dict[str, Any], str | None, str | None, str]]
    devices: dict[str, list[str]]
    orders: dict[str, list[OpenOrder]]
    changes: int
    loaded_at: float


PART = 500
"""Rows read at a time from the registry when reading all of them."""
LEDGER_RELOAD_S = 60.0
"""How often the list re-reads an unchanged registry (edits made outside the API)."""


async def _ledger(services: Any, listing: Any) -> _Ledger:
    """The registry rows, read again only after a change through the API or every minute."""
    kept: _Ledger | None = getattr(listing, "ledger", None)
    if (
        kept is not None
        and kept.changes == listing.changes
        and time.monotonic() - kept.loaded_at < LEDGER_RELOAD_S
    ):
        return kept
    changes, started = listing.changes, time.monotonic()
    table = Asset.__table__
    query = (
        select(*table.columns, Building.id.label("building"), Building.site_id.label("site"))
        .select_from(table)
        .outerjoin(Room, table.c.room_id == Room.id)
        .outerjoin(Floor, Room.floor_id == Floor.id)
        .outerjoin(Building, Floor.building_id == Building.id)
        .order_by(table.c.id)
    )
    rows = []
    async with services.sessions() as session:
        # Streamed in parts: 10,000 rows read at once would hold up every request for
        # a fifth of a second.
        result = await session.stream(query)
        async for part in result.mappings().partitions(PART):
            for row in part:
                columns = {name: row[name] for name in AssetIn.model_fields}
                text = " ".join(
                    str(columns[k]).lower() for k in ("id", "name", "serial", "vendor", "model")
                )
                rows.append((columns, row["site"], row["building"], text))
            await asyncio.sleep(0)
        devices = await _bound_now(session, datetime.now(UTC))
        orders = await _open_orders(session)
    ledger = _Ledger(rows, devices, orders, changes, started)
    listing.ledger = ledger
    return ledger


async def _snapshot(services: Any, listing: Any) -> tuple[list[Listed], float]:
    """Every asset, in id order, with its status (no model built), and how long that holds.

    Unless something happens, the statuses hold until the first bound device that is
    reporting would have been silent for ``stale_after_s`` (in seconds from now).
    """
    ledger = await _ledger(services, listing)
    live, now_ms = services.live, int(time.time() * 1000)
    stale_ms = services.stale_after_s * 1000
    newest = [
        device.ts
        for devices in ledger.devices.values()
        for name in devices
        if (device := live.devices.get(name)) is not None
        and device.ts is not None
        and now_ms - device.ts <= stale_ms
    ]
    holds_s = (min(newest) + stale_ms - now_ms) / 1000 + 0.001 if newest else float("inf")
    listed = []
    for index, (values, site, building, text) in enumerate(ledger.rows):
        if index % 1000 == 999:
            await asyncio.sleep(0)  # answer other requests meanwhile
        lifecycle = values["lifecycle"]
        verdict = derive(
            getattr(lifecycle, "value", lifecycle),
            ledger.devices.get(values["id"], []),
            live.devices,
            live.gateways,
            ledger.orders.get(values["id"], []),
            now_ms,
            services.stale_after_s,
        )
        listed.append(Listed(values, site, building, verdict, text))
    return listed, holds_s


def _placed_assets() -> Select[Asset, str | None, str | None]:
    """Assets with their building and site (None while not placed)."""
    return (
        select(Asset, Building.id, Building.site_id)
        .outerjoin(Room, Asset.room_id == Room.id)
        .outerjoin(Floor, Room.floor_id == Floor.id)
        .outerjoin(Building, Floor.building_id == Building.id)
    )


async def _summaries(
    services: Any, query: Select[Asset, str | None, str | None]
) -> list[AssetSummary]:
    """Run ``query`` (from :func:`_placed_assets`) and give each asset its status."""
    async with services.sessions() as session:
        rows = (await session.execute(query)).all()
        devices = await _bound_now(session, datetime.now(UTC))
        orders = await _open_orders(session)
    live, now_ms = services.live, int(time.time() * 1000)
    summaries = []
    for asset, building_id, site_id in rows:
        verdict = derive(
            asset.lifecycle.value,
            devices.get(asset.id, []),
            live.devices,
            live.gateways,
            orders.get(asset.id, []),
            now_ms,
            services.stale_after_s,
        )
        summaries.append(
            AssetSummary(
                asset=AssetIn.model_validate(columns(asset)),
                site_id=site_id,
                building_id=building_id,
                status=verdict.status,
                reason=verdict.reason,
            )
        )
    return summaries


def _bound_at(now: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """The bindings in effect at ``now``."""
    return (
        Binding.effective_from <= now,
        or_(Binding.effective_to.is_(None), Binding.effective_to > now),
    )


async def _bound_now(session: AsyncSession, now: datetime) -> dict[str, list[str]]:
    """The devices bound to each asset now."""
    rows = await session.stream(
        select(Binding.asset_id, Binding.device)
        .where(*_bound_at(now))
        .order_by(Binding.effective_from)
    )
    bound: dict[str, list[str]] = {}
    async for part in rows.partitions(PART):
        for asset_id, device in part:
            bound.setdefault(asset_id, []).append(device)
    return bound


async def _open_orders(session: AsyncSession) -> dict[str, list[OpenOrder]]:
    """The work orders not closed, by asset, newest first."""
    rows = await session.execute(
        select(WorkOrder.asset_id, WorkOrder.id, WorkOrder.title)
        .where(WorkOrder.status != WorkOrderStatus.CLOSED)
        .order_by(WorkOrder.opened_at.desc(), WorkOrder.id.desc())
    )
    orders: dict[str, list[OpenOrder]] = {}
    for asset_id, number, title in rows:
        orders.setdefault(asset_id, []).append(OpenOrder(number, title))
    return orders


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
    responses={401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem}},
    summary="Get a room's file",
)
async def room_file(item: SlugId, request: Request) -> RoomFile:
    """The room, where it is, its assets and their status, its environment, open work."""
    services = request.app.state.services
    async with services.sessions() as session:
        room = await session.get(Room, item)
        if room is None:
            raise HTTPException(404, f"no room {item!r}")
        location = await _location(session, item)
        orders = list(
            await session.scalars(
                select(WorkOrder)
                .join(Asset, WorkOrder.asset_id == Asset.id)
                .where(Asset.room_id == item, WorkOrder.status != WorkOrderStatus.CLOSED)
                .order_by(WorkOrder.opened_at.desc(), WorkOrder.id.desc())
                .limit(HISTORY)
            )
        )
        bound = await _bound_now(session, datetime.now(UTC))
        alerts = await open_alerts(session, "room", item)
    assets = await _summaries(services, _placed_assets().where(Asset.room_id == item))
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
        location=location.model_copy(update={"room": None}),
        status_counts=counts,
        assets=assets,
        environment=environment,
        open_alerts=alerts,
        work_orders=[WorkOrderOut.model_validate(columns(o)) for o in orders],
    )


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
    responses={401: {"model": Problem}, 403: {"model": Problem}},
    summary="Counts by status, category and site; availability; idle assets",
)
async def summary(request: Request) -> Summary:
    """Counts by status, category and site, availability and the idle list."""
    assets = await _summaries(request.app.state.services, _placed_assets())
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
