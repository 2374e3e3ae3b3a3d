"""``/api/v1/alerts``, ``/silences``, ``/deliveries``, ``/utilization``: alerts and what follows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, StringConstraints, model_validator
from sqlalchemy import Select, func, select

from api import streams
from api.alerts.manager import Alerting
from api.auth import Operator, Viewer, actor
from api.listing import registry_changed
from api.registry.models import (
    Alert,
    AlertDelivery,
    AlertNote,
    AlertState,
    Asset,
    Building,
    Delivery,
    Floor,
    Room,
    Silence,
    Utilization,
    WorkOrder,
    WorkOrderStatus,
)
from api.resource import IsoTime, StrictInput, WorkOrderOut, columns
from api.routes.assets import local_today
from api.schemas import Problem, invalid
from facmon.types import SLUG_MAX, SLUG_PATTERN, Severity, Slug

router = APIRouter(prefix="/api/v1", tags=["alerts"], dependencies=[Viewer])

AlertId = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=SLUG_MAX)]


class AlertOut(BaseModel):
    """An alert: what, where, how bad, and where it is in its life."""

    id: str
    state: AlertState
    severity: str
    rule: str
    kind: str
    subject: str = Field(description="The device, or site/gateway")
    labels: dict[str, str] = Field(description="site, device, asset, room, building, ...")
    values: dict[str, Any]
    summary: str
    summary_zh: str
    quiet: str = Field(description="Why it was not notified (silence, inhibition, maintenance)")
    started_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str
    resolved_at: datetime | None
    resolved_by: str = Field(description="'auto' when the condition cleared")
    notified_at: datetime | None
    escalated_at: datetime | None


class NoteOut(BaseModel):
    """One thing that happened to an alert."""

    at: datetime
    what: str
    by: str
    text: str


class DeliveryOut(BaseModel):
    """A notification to one target and how it went."""

    id: int
    route: str
    target: str = Field(description="Secrets hidden")
    what: str
    alert_ids: list[str]
    title: str
    status: Literal["pending", "sent", "failed"]
    attempts: int
    last_error: str
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None


class AlertFile(BaseModel):
    """An alert with its history, its notifications and its work orders."""

    alert: AlertOut
    notes: list[NoteOut]
    deliveries: list[DeliveryOut]
    work_orders: list[WorkOrderOut]


class AlertPage(BaseModel):
    """One page of alerts, newest first."""

    items: list[AlertOut]
    total: int
    limit: int
    offset: int


class ChangeIn(StrictInput):
    """An acknowledgement or a resolution, with an optional comment."""

    comment: str = Field(default="", max_length=2000)


class CommentIn(StrictInput):
    """A comment."""

    text: str = Field(min_length=1, max_length=2000)


class WorkOrderFromAlert(StrictInput):
    """A work order opened from an alert; the title defaults to the alert's summary."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    assignee: str = Field(default="", max_length=200)


Matchers = dict[Slug, Annotated[str, StringConstraints(min_length=1, max_length=200)]]
"""Label → the value an alert's label must have."""


class SilenceIn(StrictInput):
    """Alerts whose labels include every matcher are not notified between start and end."""

    matchers: Matchers = Field(
        min_length=1, max_length=20, examples=[{"asset": "ups-a"}, {"rule": "door-held-open"}]
    )
    starts_at: IsoTime | None = Field(default=None, description="Now when not given")
    ends_at: IsoTime
    comment: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _in_order(self) -> SilenceIn:
        start = self.starts_at or datetime.now(UTC)
        if self.ends_at <= start:
            raise ValueError("ends_at must be after starts_at (and after now)")
        return self


class SilenceChange(StrictInput):
    """A change to a silence: what it matches, when it ends, its comment."""

    matchers: Matchers | None = Field(default=None, min_length=1, max_length=20)
    ends_at: IsoTime | None = None
    comment: str | None = Field(default=None, max_length=2000)


class SilenceOut(BaseModel):
    """A silence."""

    id: int
    matchers: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str
    created_at: datetime
    active: bool


class UsageGroup(BaseModel):
    """Time in use of a group of assets over the window."""

    group: str
    assets: int
    in_use_h: float
    observed_h: float
    share: float | None = Field(description="in use / observed; null when nothing was observed")
    hours_per_day: float = Field(description="Hours in use per asset and day of the window")


class UsageReport(BaseModel):
    """Utilization by category, building or asset."""

    group_by: Literal["category", "building", "asset"]
    start: date
    end: date
    groups: list[UsageGroup]


def _alerting(request: Request) -> Alerting:
    alerting: Alerting | None = request.app.state.services.alerting
    if alerting is None:
        raise HTTPException(503, "alerting is not running in this process")
    return alerting


def _out(alert: Alert) -> AlertOut:
    return AlertOut.model_validate(columns(alert))


@router.get(
    "/alerts",
    response_model=AlertPage,
    responses={401: {"model": Problem}, 403: {"model": Problem}},
    summary="List alerts, newest first",
)
async def list_alerts(
    request: Request,
    state: Literal["open", "firing", "acknowledged", "resolved"] | None = None,
    severity: Severity | None = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    site: Annotated[str | None, Query(max_length=64)] = None,
    building: Annotated[str | None, Query(max_length=64)] = None,
    room: Annotated[str | None, Query(max_length=64)] = None,
    asset: Annotated[str | None, Query(max_length=64)] = None,
    device: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AlertPage:
    """Alerts by state (``open``: firing or acknowledged), severity, rule and place."""
    query: Select[Alert] = select(Alert).order_by(Alert.started_at.desc(), Alert.id)
    if state == "open":
        query = query.where(Alert.state != AlertState.RESOLVED)
    elif state is not None:
        query = query.where(Alert.state == AlertState(state))
    if severity is not None:
        query = query.where(Alert.severity == severity)
    if rule is not None:
        query = query.where(Alert.rule == rule)
    for column, wanted in [
        (Alert.site, site),
        (Alert.building, building),
        (Alert.room, room),
        (Alert.asset, asset),
        (Alert.device, device),
    ]:
        if wanted is not None:
            query = query.where(column == wanted)
    async with request.app.state.services.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = list(await session.scalars(query.limit(limit).offset(offset)))
    return AlertPage(items=[_out(a) for a in rows], total=total or 0, limit=limit, offset=offset)


@router.get(
    "/alerts/stream",
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": (
                "Server-sent events: `open` (the open alerts, a list of Alert) first, then "
                "`alert` (an Alert) at each change: fired, acknowledged, commented, resolved."
            ),
        },
        401: {"model": Problem},
        403: {"model": Problem},
        503: {"model": Problem},
    },
    response_class=StreamingResponse,
    summary="Alert changes as they happen, over server-sent events",
)
async def alert_stream(request: Request) -> StreamingResponse:
    """The open alerts, then every change of any alert."""
    alerting = _alerting(request)
    opened = streams.counter(request.app, "alerts")
    return streams.response(_alert_events(request.app, alerting, opened))


async def _alert_events(
    app: Any, alerting: Alerting, opened: dict[str, int]
) -> AsyncIterator[bytes]:
    services = app.state.services
    opened["open"] += 1
    try:
        seen = alerting.seq
        async with services.sessions() as session:
            rows = await session.scalars(
                select(Alert)
                .where(Alert.state != AlertState.RESOLVED)
                .order_by(Alert.started_at.desc())
            )
            snapshot = [_out(a).model_dump(mode="json") for a in rows]
        yield b"retry: 3000\n\n"
        yield streams.event("open", orjson.dumps(snapshot))
        spoke = time.monotonic()
        while not services.stopping.is_set():
            try:
                async with asyncio.timeout(1.0), alerting.changed:
                    await alerting.changed.wait()
            except TimeoutError:
                pass
            fresh = [alert_id for seq, alert_id in alerting.recent if seq > seen]
            if alerting.recent and alerting.recent[0][0] > seen + 1 and seen < alerting.seq:
                fresh = [alert_id for _, alert_id in alerting.recent]  # fell behind: all kept
            seen = alerting.seq
            if fresh:
                async with services.sessions() as session:
                    found = await session.scalars(select(Alert).where(Alert.id.in_(set(fresh))))
                    for alert in found:
                        yield streams.event("alert", _out(alert).model_dump_json().encode())
                spoke = time.monotonic()
            elif time.monotonic() - spoke > streams.KEEPALIVE_S:
                yield b": keepalive\n\n"
                spoke = time.monotonic()
    finally:
        opened["open"] -= 1


@router.get(
    "/alerts/{alert}",
    response_model=AlertFile,
    responses={401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem}},
    summary="Get an alert with its history",
)
async def get_alert(alert: AlertId, request: Request) -> AlertFile:
    """The alert, what happened to it, its notifications and its work orders."""
    async with request.app.state.services.sessions() as session:
        found = await session.get(Alert, alert)
        if found is None:
            raise HTTPException(404, f"no alert {alert!r}")
        notes = await session.scalars(
            select(AlertNote).where(AlertNote.alert_id == alert).order_by(AlertNote.id)
        )
        deliveries = await session.scalars(
            select(Delivery)
            .join(AlertDelivery, AlertDelivery.delivery_id == Delivery.id)
            .where(AlertDelivery.alert_id == alert)
            .order_by(Delivery.id.desc())
        )
        orders = await session.scalars(select(WorkOrder).where(WorkOrder.alert_id == alert))
        return AlertFile(
            alert=_out(found),
            notes=[NoteOut.model_validate(columns(n)) for n in notes],
            deliveries=[DeliveryOut.model_validate(columns(d)) for d in deliveries],
            work_orders=[WorkOrderOut.model_validate(columns(o)) for o in orders],
        )


async def _changed(
    request: Request, alert: str, what: Literal["acknowledge", "resolve"], body: ChangeIn
) -> AlertOut:
    alerting = _alerting(request)
    change = alerting.acknowledge if what == "acknowledge" else alerting.resolve
    try:
        done = await change(alert, actor(request), body.comment)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
    if done is None:
        raise HTTPException(404, f"no alert {alert!r}")
    return _out(done)


_CHANGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem},
    403: {"model": Problem},
    404: {"model": Problem},
    409: {"model": Problem},
    503: {"model": Problem},
}


@router.post(
    "/alerts/{alert}/acknowledge",
    response_model=AlertOut,
    responses=_CHANGE_RESPONSES,
    dependencies=[Operator],
    summary="Acknowledge an alert",
)
async def acknowledge(alert: AlertId, body: ChangeIn, request: Request) -> AlertOut:
    """Someone is on it: no more reminders, no escalation."""
    return await _changed(request, alert, "acknowledge", body)


@router.post(
    "/alerts/{alert}/resolve",
    response_model=AlertOut,
    responses=_CHANGE_RESPONSES,
    dependencies=[Operator],
    summary="Resolve an alert by hand",
)
async def resolve(alert: AlertId, body: ChangeIn, request: Request) -> AlertOut:
    """Close an alert whose condition will not clear by itself (an event, a false alarm)."""
    return await _changed(request, alert, "resolve", body)


@router.post(
    "/alerts/{alert}/comments",
    response_model=AlertOut,
    responses=_CHANGE_RESPONSES,
    dependencies=[Operator],
    summary="Comment on an alert",
)
async def comment(alert: AlertId, body: CommentIn, request: Request) -> AlertOut:
    """Add a comment to the alert's history."""
    done = await _alerting(request).comment(alert, actor(request), body.text)
    if done is None:
        raise HTTPException(404, f"no alert {alert!r}")
    return _out(done)


@router.post(
    "/alerts/{alert}/work_order",
    response_model=WorkOrderOut,
    status_code=201,
    responses={**_CHANGE_RESPONSES, 422: {"model": Problem}},
    dependencies=[Operator],
    summary="Open a work order from an alert",
)
async def work_order(alert: AlertId, body: WorkOrderFromAlert, request: Request) -> WorkOrderOut:
    """A work order on the alert's asset, linked to the alert; the alert is acknowledged.

    While it is open, the asset's alerts are not notified (maintenance).
    """
    alerting = _alerting(request)
    now = datetime.now(UTC)
    async with request.app.state.services.sessions() as session, session.begin():
        found = await session.get(Alert, alert)
        if found is None:
            raise HTTPException(404, f"no alert {alert!r}")
        asset = found.labels.get("asset")
        if not asset or await session.get(Asset, asset) is None:
            raise invalid("path", "alert", "the alert is not on an asset of the registry")
        order = WorkOrder(
            asset_id=asset,
            title=body.title or found.summary[:200],
            description=body.description or found.summary,
            assignee=body.assignee,
            status=WorkOrderStatus.OPEN,
            alert_id=alert,
            opened_at=now,
        )
        session.add(order)
        await session.flush()
        made = WorkOrderOut.model_validate(columns(order))
    if found.state is AlertState.FIRING:
        await alerting.acknowledge(alert, actor(request), f"work order #{made.id} opened")
    await alerting.comment(alert, actor(request), f"work order #{made.id} opened")
    registry_changed(request.app)
    return made


# -- silences ------------------------------------------------------------------------------

SilenceId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _silence_out(silence: Silence) -> SilenceOut:
    now = datetime.now(UTC)
    return SilenceOut(
        **{k: v for k, v in columns(silence).items() if k in SilenceOut.model_fields},
        active=silence.starts_at <= now < silence.ends_at,
    )


@router.get(
    "/silences",
    response_model=list[SilenceOut],
    responses={401: {"model": Problem}, 403: {"model": Problem}},
    summary="List silences",
)
async def list_silences(request: Request, expired: bool = False) -> list[SilenceOut]:
    """The silences in force or to come (``expired=true``: ended ones too, the last 500)."""
    query = select(Silence).order_by(Silence.ends_at.desc()).limit(500)
    if not expired:
        query = query.where(Silence.ends_at > datetime.now(UTC))
    async with request.app.state.services.sessions() as session:
        return [_silence_out(s) for s in await session.scalars(query)]


@router.post(
    "/silences",
    response_model=SilenceOut,
    status_code=201,
    responses={401: {"model": Problem}, 403: {"model": Problem}},
    dependencies=[Operator],
    summary="Create a silence",
)
async def create_silence(body: SilenceIn, request: Request) -> SilenceOut:
    """Alerts firing while it is in force are recorded, not notified.

    Matchers compare an alert's labels: site, building, room, asset, device, gateway,
    category, equipment, rule, kind, severity.
    """
    now = datetime.now(UTC)
    silence = Silence(
        matchers=body.matchers,
        starts_at=body.starts_at or now,
        ends_at=body.ends_at,
        comment=body.comment,
        created_by=actor(request),
        created_at=now,
    )
    async with request.app.state.services.sessions() as session, session.begin():
        session.add(silence)
    _reread(request)
    return _silence_out(silence)


@router.get(
    "/silences/{silence}",
    response_model=SilenceOut,
    responses={401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem}},
    summary="Get a silence",
)
async def get_silence(silence: SilenceId, request: Request) -> SilenceOut:
    """One silence."""
    async with request.app.state.services.sessions() as session:
        found = await session.get(Silence, silence)
    if found is None:
        raise HTTPException(404, f"no silence {silence}")
    return _silence_out(found)


@router.patch(
    "/silences/{silence}",
    response_model=SilenceOut,
    responses={
        401: {"model": Problem},
        403: {"model": Problem},
        404: {"model": Problem},
        409: {"model": Problem},
    },
    dependencies=[Operator],
    summary="Change a silence",
)
async def change_silence(silence: SilenceId, body: SilenceChange, request: Request) -> SilenceOut:
    """Extend or shorten it, change what it matches or its comment (not once it has ended)."""
    now = datetime.now(UTC)
    async with request.app.state.services.sessions() as session, session.begin():
        found = await session.get(Silence, silence)
        if found is None:
            raise HTTPException(404, f"no silence {silence}")
        if found.ends_at <= now:
            raise HTTPException(409, f"silence {silence} has ended; create a new one")
        if body.ends_at is not None:
            if body.ends_at <= max(found.starts_at, now):
                raise HTTPException(422, "ends_at must be after starts_at and after now")
            found.ends_at = body.ends_at
        if body.matchers is not None:
            found.matchers = body.matchers
        if body.comment is not None:
            found.comment = body.comment
    _reread(request)
    return _silence_out(found)


@router.delete(
    "/silences/{silence}",
    status_code=204,
    responses={401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem}},
    dependencies=[Operator],
    summary="End a silence now",
)
async def end_silence(silence: SilenceId, request: Request) -> Response:
    """End the silence (it stays in the list of expired ones)."""
    now = datetime.now(UTC)
    async with request.app.state.services.sessions() as session, session.begin():
        found = await session.get(Silence, silence)
        if found is None:
            raise HTTPException(404, f"no silence {silence}")
        found.ends_at = min(found.ends_at, now)
        found.starts_at = min(found.starts_at, found.ends_at)
    _reread(request)
    return Response(status_code=204)


def _reread(request: Request) -> None:
    alerting: Alerting | None = request.app.state.services.alerting
    if alerting is not None:
        alerting.registry_changed()


# -- deliveries and utilization ----------------------------------------------------------


@router.get(
    "/deliveries",
    response_model=list[DeliveryOut],
    responses={401: {"model": Problem}, 403: {"model": Problem}},
    summary="List notification deliveries, newest first",
)
async def list_deliveries(
    request: Request,
    status: Literal["pending", "sent", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    """Each notification to each target, with its attempts and last error."""
    query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Delivery.status == status)
    async with request.app.state.services.sessions() as session:
        return [DeliveryOut.model_validate(columns(d)) for d in await session.scalars(query)]


@router.get(
    "/utilization",
    response_model=UsageReport,
    responses={401: {"model": Problem}, 403: {"model": Problem}},
    summary="Hours in use by category, building or asset",
)
async def utilization(
    request: Request,
    group_by: Literal["category", "building", "asset"] = "category",
    start: date | None = None,
    end: date | None = None,
) -> UsageReport:
    """Time in use (the profile's "in use") per group, from ``start`` to ``end`` inclusive.

    Defaults to the last 30 days. Assets whose profile says nothing of use are not counted.
    """
    last = end or local_today(request.app.state.services)
    first = start or last - timedelta(days=29)
    if first > last:
        raise invalid("query", "start", "must not be after end")
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
    async with request.app.state.services.sessions() as session:
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
