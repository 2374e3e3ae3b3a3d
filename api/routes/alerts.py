"""``/api/v1/alerts``: alerts, their history, and what people do with them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select

from api import streams
from api.alerts.manager import Alerting
from api.auth import Operator, Viewer, actor
from api.estate import AlertReadings, readings_of
from api.listing import registry_changed
from api.paging import PagingQuery
from api.places import PlaceQuery
from api.records import StrictInput, WorkOrderOut, closing, columns
from api.registry.models import (
    Alert,
    AlertDelivery,
    AlertNote,
    AlertState,
    Asset,
    Delivery,
    WorkOrder,
    WorkOrderStatus,
)
from api.schemas import DeliveryOut, invalid, problems
from api.services import Services, ServicesDep
from facmon.types import SLUG_MAX, SLUG_PATTERN, Severity

router = APIRouter(prefix="/api/v1", tags=["alerts"], dependencies=[Viewer])

AlertId = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=SLUG_MAX)]
Endpoint = Callable[..., Awaitable[Any]]


class AlertOut(AlertReadings):
    """An alert: what, where, how bad, where it is in its life, its points then and now."""

    id: str
    state: AlertState
    severity: str
    rule: str
    kind: str
    subject: str = Field(description="The device, or site/gateway")
    labels: dict[str, str] = Field(description="site, device, asset, room, building, ...")
    values: dict[str, Any] = Field(description="The values when it fired")
    summary: str = Field(description="Written when it fired, with the values of then")
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


def _out(alert: Alert, services: Services) -> AlertOut:
    """The alert as answered: its columns, and its points at firing and now."""
    return AlertOut.model_validate({**columns(alert), **dict(readings_of(services, alert))})


@router.get(
    "/alerts",
    response_model=AlertPage,
    responses=problems(401, 403),
    summary="List alerts, newest first",
)
async def list_alerts(
    services: ServicesDep,
    places: PlaceQuery,
    paging: PagingQuery,
    state: Literal["open", "firing", "acknowledged", "resolved"] | None = None,
    severity: Severity | None = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    asset: Annotated[str | None, Query(max_length=64)] = None,
    device: Annotated[str | None, Query(max_length=64)] = None,
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
    query = query.where(*places.conditions(Alert.site, Alert.building, Alert.room))
    for column, wanted in [(Alert.asset, asset), (Alert.device, device)]:
        if wanted is not None:
            query = query.where(column == wanted)
    async with services.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = list(await session.scalars(paging.select(query)))
    return AlertPage(
        items=[_out(a, services) for a in rows],
        total=total or 0,
        limit=paging.limit,
        offset=paging.offset,
    )


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
        **problems(401, 403, 503),
    },
    response_class=StreamingResponse,
    summary="Alert changes as they happen, over server-sent events",
)
async def alert_stream(request: Request, services: ServicesDep) -> StreamingResponse:
    """The open alerts, then every change of any alert."""
    alerting = services.running_alerting()
    opened = streams.counter(request.app, "alerts")
    return streams.response(_alert_events(services, alerting, opened))


async def _alert_events(
    services: Services, alerting: Alerting, opened: dict[str, int]
) -> AsyncIterator[bytes]:
    opened["open"] += 1
    try:
        seen = alerting.seq
        async with services.sessions() as session:
            rows = await session.scalars(
                select(Alert)
                .where(Alert.state != AlertState.RESOLVED)
                .order_by(Alert.started_at.desc())
            )
            snapshot = [_out(a, services).model_dump(mode="json") for a in rows]
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
                        yield streams.event(
                            "alert", _out(alert, services).model_dump_json().encode()
                        )
                spoke = time.monotonic()
            elif time.monotonic() - spoke > streams.KEEPALIVE_S:
                yield b": keepalive\n\n"
                spoke = time.monotonic()
    finally:
        opened["open"] -= 1


@router.get(
    "/alerts/{alert}",
    response_model=AlertFile,
    responses=problems(401, 403, 404),
    summary="Get an alert with its history",
)
async def get_alert(alert: AlertId, services: ServicesDep) -> AlertFile:
    """The alert, what happened to it, its notifications and its work orders."""
    async with services.sessions() as session:
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
            alert=_out(found, services),
            notes=[NoteOut.model_validate(columns(n)) for n in notes],
            deliveries=[DeliveryOut.model_validate(columns(d)) for d in deliveries],
            work_orders=[WorkOrderOut.model_validate(columns(o)) for o in orders],
        )


async def _changed(
    request: Request,
    services: Services,
    alert: str,
    what: Literal["acknowledge", "resolve"],
    body: ChangeIn,
) -> AlertOut:
    alerting = services.running_alerting()
    change = alerting.acknowledge if what == "acknowledge" else alerting.resolve
    try:
        done = await change(alert, actor(request), body.comment)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
    if done is None:
        raise HTTPException(404, f"no alert {alert!r}")
    return _out(done, services)


def _change(path: str, summary: str) -> Callable[[Endpoint], Endpoint]:
    """Register an operator's change of an alert, answered with the alert."""
    return router.post(
        path,
        response_model=AlertOut,
        responses=problems(401, 403, 404, 409, 503),
        dependencies=[Operator],
        summary=summary,
    )


@_change("/alerts/{alert}/acknowledge", "Acknowledge an alert")
async def acknowledge(
    alert: AlertId, body: ChangeIn, request: Request, services: ServicesDep
) -> AlertOut:
    """Someone is on it: no more reminders, no escalation."""
    return await _changed(request, services, alert, "acknowledge", body)


@_change("/alerts/{alert}/resolve", "Resolve an alert by hand")
async def resolve(
    alert: AlertId, body: ChangeIn, request: Request, services: ServicesDep
) -> AlertOut:
    """Close an alert whose condition will not clear by itself (an event, a false alarm)."""
    return await _changed(request, services, alert, "resolve", body)


@_change("/alerts/{alert}/comments", "Comment on an alert")
async def comment(
    alert: AlertId, body: CommentIn, request: Request, services: ServicesDep
) -> AlertOut:
    """Add a comment to the alert's history."""
    done = await services.running_alerting().comment(alert, actor(request), body.text)
    if done is None:
        raise HTTPException(404, f"no alert {alert!r}")
    return _out(done, services)


@router.post(
    "/alerts/{alert}/work_order",
    response_model=WorkOrderOut,
    status_code=201,
    responses=problems(401, 403, 404, 409, 503, 422),
    dependencies=[Operator],
    summary="Open a work order from an alert",
)
async def work_order(
    alert: AlertId, body: WorkOrderFromAlert, request: Request, services: ServicesDep
) -> WorkOrderOut:
    """A work order on the alert's asset, linked to the alert; the alert is acknowledged.

    While it is open, the asset's alerts are not notified (maintenance).
    """
    alerting = services.running_alerting()
    now = datetime.now(UTC)
    async with services.sessions() as session, session.begin():
        found = await session.get(Alert, alert)
        if found is None:
            raise HTTPException(404, f"no alert {alert!r}")
        asset = found.labels.get("asset")
        if not asset or await session.get(Asset, asset) is None:
            raise invalid("path", "alert", "the alert is not on an asset of the registry")
        opening = {
            "asset_id": asset,
            "title": body.title or found.summary[:200],
            "description": body.description or found.summary,
            "assignee": body.assignee,
            "status": WorkOrderStatus.OPEN,
            "alert_id": alert,
            "opened_at": now,
        }
        order = WorkOrder(**closing(None, opening, now))  # the close time as every write keeps it
        session.add(order)
        await session.flush()
        made = WorkOrderOut.model_validate(columns(order))
    if found.state is AlertState.FIRING:
        await alerting.acknowledge(alert, actor(request), f"work order #{made.id} opened")
    await alerting.comment(alert, actor(request), f"work order #{made.id} opened")
    registry_changed(request.app)
    return made
