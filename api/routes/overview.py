"""The status page at ``/`` and what it shows: sites → rooms → assets, live over SSE."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from importlib import resources
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from api import streams
from api.auth import Viewer
from api.board import Board, Line
from api.estate import AlertReading, readings_of
from api.listing import asset_listing
from api.registry.models import Alert, AlertState, Building, Floor, Room, Site
from api.schemas import problems
from api.services import Services
from api.snapshot import current_assets
from api.status import Language, Status

router = APIRouter(prefix="/api/v1", tags=["status page"], dependencies=[Viewer])
page = APIRouter(include_in_schema=False)

POLL_S = 1.0
"""How often a stream looks for a newer snapshot (the list's snapshots are at most 1 s apart)."""
RECHECK_S = 30.0
"""How often a stream checks that its token has not been revoked."""
RELAYOUT_S = 300.0
"""How often the hierarchy is read again for changes made outside the API."""
READINGS_S = 5.0
"""How often a stream reads the open alerts again for what their points read now."""

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class AssetLine(BaseModel):
    """An asset as the status page shows it."""

    id: str
    name: str
    category: str
    status: Status
    reason: str


class RoomNode(BaseModel):
    """A room and its assets."""

    id: str
    name: str
    floor: str = Field(description="The name of the room's floor")
    assets: list[AssetLine]


class BuildingNode(BaseModel):
    """A building and its rooms, by floor level."""

    id: str
    name: str
    rooms: list[RoomNode]


class SiteNode(BaseModel):
    """A site and its buildings."""

    id: str
    name: str
    buildings: list[BuildingNode]


class Overview(BaseModel):
    """Every site, building, room and asset with its status, in one language."""

    generation: int = Field(description="The snapshot this was made from")
    language: Language
    counts: dict[Status, int] = Field(description="Assets by status")
    sites: list[SiteNode]
    unplaced: list[AssetLine] = Field(description="Assets not in any room")


class StatusChanges(BaseModel):
    """The assets whose status or reason changed since the previous event of the stream."""

    generation: int
    counts: dict[Status, int]
    assets: list[AssetLine]


LanguageQuery = Annotated[
    Language, Query(description="Language of the reasons: en (English) or zh (简体中文)")
]


@page.get("/")
async def status_page() -> Response:
    """The status page: static, no data in it; it reads the API with the viewer's token."""
    html = resources.files("api").joinpath("ui/index.html").read_bytes()
    return Response(html, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get(
    "/overview",
    response_model=Overview,
    responses=problems(401, 403),
    summary="Every site, room and asset with its status",
)
async def overview(request: Request, lang: LanguageQuery = "en") -> Response:
    """Sites → buildings → rooms → assets, each asset with its status and the reason.

    What the status page at ``/`` draws; ``/overview/stream`` keeps it current.
    """
    board = await _board(request.app, settled=True)
    return Response(await _overview_body(request.app, board, lang), media_type="application/json")


@router.get(
    "/overview/stream",
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": (
                "Server-sent events: `overview` (an Overview, the first one made from the "
                "estate as it is when asked) at the start and whenever the layout changes, then "
                "`status` (StatusChanges) as statuses change; `alerts` (the open alerts, a "
                "list of AlertLine) just before the first overview, whenever an alert "
                "changes and when what their points read now changes (looked at every 5 s); "
                "`revoked` when the token is revoked, after which the stream ends."
            ),
        },
        **problems(401, 403, 503),
    },
    response_class=StreamingResponse,
    summary="The overview, kept current over server-sent events",
)
async def overview_stream(request: Request, lang: LanguageQuery = "en") -> StreamingResponse:
    """The overview, then each change of status as it happens (within about a second)."""
    opened = streams.counter(request.app, "overview")
    token = request.headers["authorization"].partition(" ")[2].strip()
    return streams.response(_events(request.app, lang, token, opened))


async def _events(
    app: FastAPI, language: Language, token: str, opened: dict[str, int]
) -> AsyncIterator[bytes]:
    services: Services = app.state.services
    opened["open"] += 1
    try:
        yield b"retry: 3000\n\n"
        # The first paint: the alerts, then an overview that is true now (never the
        # previous snapshot), so that the page draws both at once and nothing out of date.
        told, said, read = -1, b"", time.monotonic()
        if services.alerting is not None:
            told, said = services.alerting.seq, await _alerts_body(services, language)
            yield streams.event("alerts", said)
        board = await _board(app, settled=True)
        layout, generation = board.layout, board.generation
        yield streams.event("overview", await _overview_body(app, board, language))
        spoke = checked = time.monotonic()
        while not services.stopping.is_set():
            try:
                async with asyncio.timeout(POLL_S):
                    await services.stopping.wait()
            except TimeoutError:
                pass
            board = await _board(app)
            changed = board.changed_since(generation) if board.layout == layout else None
            if changed is None:
                layout, generation = board.layout, board.generation
                yield streams.event("overview", await _overview_body(app, board, language))
                spoke = time.monotonic()
            elif changed:
                generation = board.generation
                changes = StatusChanges(
                    generation=generation,
                    counts=board.counts,
                    assets=[AssetLine(**_line(line, language)) for line in changed],
                )
                yield streams.event("status", changes.model_dump_json().encode())
                spoke = time.monotonic()
            elif time.monotonic() - spoke > streams.KEEPALIVE_S:
                yield b": keepalive\n\n"
                spoke = time.monotonic()
            alerting = services.alerting
            if alerting is not None and (
                alerting.seq != told or time.monotonic() - read > READINGS_S
            ):  # an alert changed, or maybe the values its points read now
                fired, told, read = alerting.seq != told, alerting.seq, time.monotonic()
                body = await _alerts_body(services, language)
                if fired or body != said:
                    said = body
                    yield streams.event("alerts", body)
                    spoke = time.monotonic()
            if time.monotonic() - checked > RECHECK_S:
                checked = time.monotonic()
                if await services.tokens.role(token) is None:
                    yield streams.event("revoked", b'{"detail": "the API token was revoked"}')
                    return
    finally:
        opened["open"] -= 1


class AlertLine(BaseModel):
    """An open alert as the status page shows it."""

    id: str
    severity: str
    state: str
    summary: str = Field(description="In the language asked for, written when it fired")
    asset: str | None
    room: str | None
    started_at: datetime
    readings: list[AlertReading] = Field(description="Its points at firing and now")
    readings_text: str = Field(description="The same in the language asked for")


async def _alerts_body(services: Services, language: Language) -> bytes:
    """The open alerts, most severe first, then newest."""
    async with services.sessions() as session:
        rows = await session.scalars(select(Alert).where(Alert.state != AlertState.RESOLVED))
        lines = []
        for a in rows:
            now = readings_of(services, a)
            lines.append(
                AlertLine(
                    id=a.id,
                    severity=a.severity,
                    state=a.state.value,
                    summary=a.summary_zh if language == "zh" else a.summary,
                    asset=a.labels.get("asset"),
                    room=a.labels.get("room"),
                    started_at=a.started_at,
                    readings=now.readings,
                    readings_text=now.readings_text_zh if language == "zh" else now.readings_text,
                )
            )
    rank = {"critical": 0, "warning": 1, "info": 2}
    lines.sort(key=lambda a: (rank.get(a.severity, 3), -a.started_at.timestamp()))
    return orjson.dumps([line.model_dump(mode="json") for line in lines])


async def _board(app: FastAPI, *, settled: bool = False) -> Board:
    """The board, brought up to the newest snapshot of the asset list.

    ``settled``: a snapshot true now, for a first answer (see :func:`current_assets`).
    """
    board: Board | None = getattr(app.state, "board", None)
    if board is None:
        board = app.state.board = Board()
        app.state.board_changes = app.state.board_read = -1.0
    listing = asset_listing(app)
    generation, items = await current_assets(app, settled=settled)
    if generation != board.generation:
        stale = time.monotonic() - app.state.board_read > RELAYOUT_S
        relayout = listing.changes != app.state.board_changes or stale
        board.update(
            generation,
            (
                Line(
                    item.columns["id"],
                    item.columns["name"],
                    item.columns["category"],
                    item.columns["room_id"],
                    item.verdict,
                )
                for item in items
            ),
            relayout=relayout,
        )
        if relayout:
            app.state.board_changes, app.state.board_read = listing.changes, time.monotonic()
    return board


async def _overview_body(app: FastAPI, board: Board, language: Language) -> bytes:
    """The overview of ``board`` in ``language``, made once per snapshot and language."""
    kept: dict[Language, tuple[tuple[int, int], bytes]]
    kept = app.state.__dict__.setdefault("overviews", {})
    key = (board.generation, board.layout)
    if language in kept and kept[language][0] == key:
        return kept[language][1]
    services: Services = app.state.services
    async with services.sessions() as session:
        sites = (await session.scalars(select(Site).order_by(Site.id))).all()
        buildings = (await session.scalars(select(Building).order_by(Building.id))).all()
        floors = {f.id: f for f in await session.scalars(select(Floor))}
        rooms = (await session.scalars(select(Room).order_by(Room.id))).all()
    # Plain dicts and one orjson call: models would take a third of a second for 10,000
    # assets. The API's schema tests hold this to the Overview model.
    room_ids = {room.id for room in rooms}
    in_room: dict[str, list[dict[str, str]]] = {}
    unplaced = []
    for line in board.lines.values():
        shown = _line(line, language)
        if line.room_id is None or line.room_id not in room_ids:
            unplaced.append(shown)
        else:
            in_room.setdefault(line.room_id, []).append(shown)
    by_building: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for room in rooms:
        floor = floors[room.floor_id]
        node = {
            "id": room.id,
            "name": room.name,
            "floor": floor.name,
            "assets": in_room.get(room.id, []),
        }
        by_building.setdefault(floor.building_id, []).append((floor.level, node))
    by_site: dict[str, list[dict[str, Any]]] = {}
    for building in buildings:
        placed = sorted(by_building.get(building.id, []), key=lambda pair: pair[0])
        by_site.setdefault(building.site_id, []).append(
            {"id": building.id, "name": building.name, "rooms": [node for _, node in placed]}
        )
    body = orjson.dumps(
        {
            "generation": board.generation,
            "language": language,
            "counts": {status.value: count for status, count in board.counts.items()},
            "sites": [
                {"id": s.id, "name": s.name, "buildings": by_site.get(s.id, [])} for s in sites
            ],
            "unplaced": unplaced,
        }
    )
    kept[language] = (key, body)
    return body


def _line(line: Line, language: Language) -> dict[str, str]:
    """An asset as :class:`AssetLine` has it."""
    return {
        "id": line.id,
        "name": line.name,
        "category": line.category,
        "status": line.verdict.status.value,
        "reason": line.verdict.say(language),
    }
