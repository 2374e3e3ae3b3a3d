"""``/api/v1/silences``: alerts matching a silence are recorded, not notified."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, Field, StringConstraints, model_validator
from sqlalchemy import select

from api.auth import Operator, Viewer, actor
from api.records import IsoTime, StrictInput, columns
from api.registry.models import Silence
from api.schemas import invalid, problems
from api.services import Services, ServicesDep
from facmon.types import Slug

router = APIRouter(prefix="/api/v1", tags=["alerts"], dependencies=[Viewer])


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
    responses=problems(401, 403),
    summary="List silences",
)
async def list_silences(services: ServicesDep, expired: bool = False) -> list[SilenceOut]:
    """The silences in force or to come (``expired=true``: ended ones too, the last 500)."""
    query = select(Silence).order_by(Silence.ends_at.desc()).limit(500)
    if not expired:
        query = query.where(Silence.ends_at > datetime.now(UTC))
    async with services.sessions() as session:
        return [_silence_out(s) for s in await session.scalars(query)]


@router.post(
    "/silences",
    response_model=SilenceOut,
    status_code=201,
    responses=problems(401, 403),
    dependencies=[Operator],
    summary="Create a silence",
)
async def create_silence(body: SilenceIn, request: Request, services: ServicesDep) -> SilenceOut:
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
    async with services.sessions() as session, session.begin():
        session.add(silence)
    _reread(services)
    return _silence_out(silence)


@router.get(
    "/silences/{silence}",
    response_model=SilenceOut,
    responses=problems(401, 403, 404),
    summary="Get a silence",
)
async def get_silence(silence: SilenceId, services: ServicesDep) -> SilenceOut:
    """One silence."""
    async with services.sessions() as session:
        found = await session.get(Silence, silence)
    if found is None:
        raise HTTPException(404, f"no silence {silence}")
    return _silence_out(found)


@router.patch(
    "/silences/{silence}",
    response_model=SilenceOut,
    responses=problems(401, 403, 404, 409),
    dependencies=[Operator],
    summary="Change a silence",
)
async def change_silence(
    silence: SilenceId, body: SilenceChange, services: ServicesDep
) -> SilenceOut:
    """Extend or shorten it, change what it matches or its comment (not once it has ended)."""
    now = datetime.now(UTC)
    async with services.sessions() as session, session.begin():
        found = await session.get(Silence, silence)
        if found is None:
            raise HTTPException(404, f"no silence {silence}")
        if found.ends_at <= now:
            raise HTTPException(409, f"silence {silence} has ended; create a new one")
        if body.ends_at is not None:
            if body.ends_at <= max(found.starts_at, now):
                raise invalid("body", "ends_at", "must be after starts_at and after now")
            found.ends_at = body.ends_at
        if body.matchers is not None:
            found.matchers = body.matchers
        if body.comment is not None:
            found.comment = body.comment
    _reread(services)
    return _silence_out(found)


@router.delete(
    "/silences/{silence}",
    status_code=204,
    responses=problems(401, 403, 404),
    dependencies=[Operator],
    summary="End a silence now",
)
async def end_silence(silence: SilenceId, services: ServicesDep) -> Response:
    """End the silence (it stays in the list of expired ones)."""
    now = datetime.now(UTC)
    async with services.sessions() as session, session.begin():
        found = await session.get(Silence, silence)
        if found is None:
            raise HTTPException(404, f"no silence {silence}")
        found.ends_at = min(found.ends_at, now)
        found.starts_at = min(found.starts_at, found.ends_at)
    _reread(services)
    return Response(status_code=204)


def _reread(services: Services) -> None:
    if services.alerting is not None:
        services.alerting.registry_changed()
