"""``/api/v1`` registry resources: sites, buildings, floors, rooms and assets.

Each resource has the same five operations, built by :func:`resource`: list (paginated,
filtered, sorted), get, create, partial update and delete. Reading takes a viewer token;
changing the registry an admin token.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Self, TypeVar
from zoneinfo import available_timezones

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    create_model,
    field_validator,
    model_validator,
)
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Admin, Operator, Viewer
from api.listing import registry_changed
from api.registry.models import (
    Asset,
    Base,
    Binding,
    Building,
    Floor,
    Lifecycle,
    Room,
    Site,
    WorkOrder,
    WorkOrderStatus,
)
from api.schemas import Problem
from facmon.types import SLUG_MAX, SLUG_PATTERN, Slug

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=200)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=64)]


def _number(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError('must be a number (or a number in a string, such as "1234.50")')  # noqa: TRY004 - pydantic reports ValueError
    return value


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: object) -> object:
    # Lax parsing would take "1694131200" for a Unix time; a ledger means a calendar day.
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DAY.fullmatch(value)):
        return value
    raise ValueError("must be a date as YYYY-MM-DD")


Money = Annotated[
    Decimal,
    BeforeValidator(_number),
    Field(ge=0, le=Decimal("999999999999.99"), max_digits=14, decimal_places=2),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 999999999999.99, "multipleOf": 0.01},
                {"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,2})?$"},
            ],
            "description": 'An amount in whole cents, such as 1234.50 or "1234.50"',
        }
    ),
]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Level = Annotated[int, Strict(), Field(ge=-20, le=300)]


class StrictInput(BaseModel):
    """Input that refuses what lax coercion would take.

    ``false`` or ``"2"`` for a number, a timestamp for a date, unknown keys.
    """

    model_config = ConfigDict(extra="forbid")


class SiteIn(StrictInput):
    """A site to create."""

    id: Slug
    name: Name
    address: Text = ""
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value not in _zones():
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai)")
        return value


class BuildingIn(StrictInput):
    """A building to create."""

    id: Slug
    site_id: Slug
    name: Name


class FloorIn(StrictInput):
    """A floor to create."""

    id: Slug
    building_id: Slug
    name: Name
    level: Level = 0


class RoomIn(StrictInput):
    """A room to create."""

    id: Slug
    floor_id: Slug
    name: Name
    kind: Slug = "office"


class AssetIn(StrictInput):
    """An asset to create."""

    id: Slug
    name: Name
    category: Slug
    room_id: Slug | None = None
    vendor: Text = ""
    model: Text = ""
    serial: Text = ""
    purchase_date: IsoDate | None = None
    cost: Money | None = None
    warranty_end: IsoDate | None = None
    owner_department: Text = ""
    responsible: Text = ""
    lifecycle: Lifecycle = Lifecycle.IN_SERVICE
    tags: Annotated[list[Tag], Field(max_length=50)] = Field(default_factory=list)


def _iso_time(value: object) -> object:
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DAY.match(value)):
        return value
    raise ValueError("must be a time as ISO 8601 with its zone, e.g. 2026-11-27T08:30:00+08:00")


IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_time)]
LongText = Annotated[str, StringConstraints(max_length=10_000)]


def _now() -> datetime:
    return datetime.now(UTC)


class BindingIn(StrictInput):
    """A device bound to an asset from ``effective_from`` (until ``effective_to``, if set)."""

    asset_id: Slug
    device: Slug
    effective_from: IsoTime = Field(default_factory=_now)
    effective_to: IsoTime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.effective_to is not None and self.effective_to <= self.effective_from:
            raise ValueError("effective_to must be after effective_from")
        return self


class BindingOut(BindingIn):
    """A stored binding."""

    model_config = ConfigDict(extra="ignore")
    id: int


class WorkOrderIn(StrictInput):
    """A maintenance job on an asset."""

    asset_id: Slug
    title: Name
    description: LongText = ""
    status: WorkOrderStatus = WorkOrderStatus.OPEN
    assignee: Text = ""
    alert_id: Slug | None = None
    opened_at: IsoTime = Field(default_factory=_now)
    closed_at: IsoTime | None = None
    resolution: LongText = ""
    cost: Money | None = None

    @model_validator(mode="after")
    def _closed(self) -> Self:
        if self.closed_at is not None and self.closed_at < self.opened_at:
            raise ValueError("closed_at must not be before opened_at")
        if self.status is WorkOrderStatus.CLOSED and self.closed_at is None:
            self.closed_at = max(_now(), self.opened_at)  # closed now, unless said otherwise
        return self


class WorkOrderOut(WorkOrderIn):
    """A stored work order."""

    model_config = ConfigDict(extra="ignore")
    id: int


def _zones() -> set[str]:
    global _ZONES  # noqa: PLW0603 - loaded once, on first use
    if _ZONES is None:
        _ZONES = available_timezones()
    return _ZONES


_ZONES: set[str] | None = None

Out = TypeVar("Out", bound=BaseModel)


class Page(BaseModel, Generic[Out]):
    """One page of a list."""

    items: list[Out]
    total: int = Field(description="Items matching the filters, on all pages")
    limit: int
    offset: int


def _patch_model(model: type[StrictInput]) -> type[StrictInput]:
    """The same fields as ``model`` but ``id``, all optional: a partial update."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name != "id":
            # Absent means unchanged. Null is accepted only where the field may be null
            # (its default is null), so the default here is never validated or stored.
            annotation: Any = info.annotation
            if info.metadata:  # the constraints (pattern, bounds) live here, not in annotation
                annotation = Annotated[(annotation, *info.metadata)]
            fields[name] = (annotation, Field(default=None, validate_default=False))
    patch: type[StrictInput] = create_model(
        f"{model.__name__.removesuffix('In')}Patch", __base__=StrictInput, **fields
    )
    patch.__doc__ = f"Fields to change; absent ones stay as they are ({model.__name__})."
    return patch


@dataclass(frozen=True)
class _Resource:
    """What the operations of one resource need."""

    path: str
    table: Any
    schema: type[StrictInput]
    out: type[BaseModel]
    parents: dict[str, tuple[type[Base], str]]
    filters: tuple[str, ...]
    search: tuple[str, ...]
    sortable: tuple[str, ...]
    writer: Any
    item: Any

    @property
    def label(self) -> str:
        return self.path.removesuffix("s").replace("_", " ")


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem},
    403: {"model": Problem},
    404: {"model": Problem},
}
_CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {**_ERRORS, 409: {"model": Problem}}
SlugId = Annotated[str, PathParam(pattern=SLUG_PATTERN, max_length=SLUG_MAX, description="Id")]
NumberId = Annotated[int, PathParam(ge=1, le=2**31 - 1, description="Id")]


def resource(
    path: str,
    table: type[Base],
    schema: type[StrictInput],
    *,
    parents: dict[str, tuple[type[Base], str]],
    filters: tuple[str, ...] = (),
    search: tuple[str, ...] = (),
    sortable: tuple[str, ...] = ("id", "name"),
    out: type[BaseModel] | None = None,
    writer: Any = Admin,
    get_one: bool = True,
    list_all: bool = True,
) -> APIRouter:
    """Build the five operations of one registry resource.

    ``parents`` maps a reference field to the table it points at and what to call it;
    ``filters`` are fields the list filters on by equality, ``search`` the fields ``q``
    matches (case-insensitive substring), ``sortable`` those ``sort`` accepts. ``out`` is
    the answer's schema when it differs from ``schema``: the stored record has a number for
    id the database assigns. ``writer`` is the role that may change the resource. Without
    ``get_one`` the resource's ``GET /{id}`` is left to another router (an asset's file);
    without ``list_all``, its list (assets, listed with their status).
    """
    numbered = out is not None and "id" not in schema.model_fields
    spec = _Resource(
        path,
        table,
        schema,
        out or schema,
        parents,
        filters,
        search,
        sortable,
        writer,
        NumberId if numbered else SlugId,
    )
    router = APIRouter(prefix=f"/api/v1/{path}", tags=[path])
    if list_all:
        _add_list(router, spec)
    if get_one:
        _add_get(router, spec)
    _add_create(router, spec)
    _add_update(router, spec)
    _add_delete(router, spec)
    return router


def _add_list(router: APIRouter, spec: _Resource) -> None:
    table = spec.table
    sort_pattern = "^-?(" + "|".join(spec.sortable) + ")$"

    async def listing(
        request: Request,
        _role: Any = Viewer,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        sort: Annotated[
            str,
            Query(pattern=sort_pattern, description=f"One of {spec.sortable}; '-' for descending"),
        ] = "id",
        q: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Page[Any]:
        wanted = [
            getattr(table, name) == request.query_params[name]
            for name in spec.filters
            if name in request.query_params
        ]
        if q and spec.search:
            pattern = f"%{q.lower()}%"
            wanted.append(or_(*(func.lower(getattr(table, f)).like(pattern) for f in spec.search)))
        column = getattr(table, sort.lstrip("-"))
        order = column.desc() if sort.startswith("-") else column.asc()
        async with request.app.state.services.sessions() as session:
            total = await session.scalar(select(func.count()).select_from(table).where(*wanted))
            rows = await session.scalars(
                select(table).where(*wanted).order_by(order, table.id).limit(limit).offset(offset)
            )
            items = [spec.out.model_validate(columns(row)) for row in rows]
        return Page[Any](items=items, total=total or 0, limit=limit, offset=offset)

    listing.__doc__ = f"List {spec.path.replace('_', ' ')}, a page at a time."
    router.add_api_route(
        "",
        listing,
        methods=["GET"],
        response_model=Page[spec.out],  # type: ignore[name-defined]
        responses=_ERRORS,
        summary=f"List {spec.path.replace('_', ' ')}",
        openapi_extra={
            "parameters": [
                {"name": f, "in": "query", "required": False, "schema": {"type": "string"}}
                for f in spec.filters
            ]
        },
    )


def _add_get(router: APIRouter, spec: _Resource) -> None:
    item_type = spec.item

    async def get_one(item: item_type, request: Request, _role: Any = Viewer) -> Any:  # type: ignore[valid-type]
        async with request.app.state.services.sessions() as session:
            row = await _find(session, spec, item)
            return spec.out.model_validate(columns(row))

    router.add_api_route(
        "/{item}",
        get_one,
        methods=["GET"],
        response_model=spec.out,
        responses=_ERRORS,
        summary=f"Get a {spec.label}",
    )


def _add_create(router: APIRouter, spec: _Resource) -> None:
    schema = spec.schema

    async def create(body: schema, request: Request, _role: Any = spec.writer) -> Any:  # type: ignore[valid-type]
        values = body.model_dump()  # type: ignore[attr-defined]
        async with request.app.state.services.sessions() as session:
            await _check_parents(session, values, spec.parents)
            if "id" in values and await session.get(spec.table, values["id"]) is not None:
                raise HTTPException(409, f"{spec.label} {values['id']!r} exists already")
            row = spec.table(**values)
            session.add(row)
            await _commit(request, session, f"{spec.label} {values.get('id', '')!r}")
            await session.refresh(row)  # as stored: ids assigned, times in UTC
            return spec.out.model_validate(columns(row))

    router.add_api_route(
        "",
        create,
        methods=["POST"],
        status_code=201,
        response_model=spec.out,
        responses=_CHANGE_ERRORS,
        summary=f"Create a {spec.label}",
    )


def _add_update(router: APIRouter, spec: _Resource) -> None:
    patch = _patch_model(spec.schema)

    item_type = spec.item

    async def update(
        item: item_type,  # type: ignore[valid-type]
        body: patch,  # type: ignore[valid-type]
        request: Request,
        _role: Any = spec.writer,
    ) -> Any:
        values = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
        async with request.app.state.services.sessions() as session:
            row = await _find(session, spec, item)
            await _check_parents(session, values, spec.parents)
            for name, value in values.items():
                setattr(row, name, value)
            try:  # the whole record again: checks across fields (from before to)
                spec.out.model_validate(columns(row))
            except ValidationError as exc:
                raise HTTPException(422, _errors(exc)) from None
            await _commit(request, session, f"{spec.label} {item!r}")
            await session.refresh(row)
            return spec.out.model_validate(columns(row))

    router.add_api_route(
        "/{item}",
        update,
        methods=["PATCH"],
        response_model=spec.out,
        responses=_CHANGE_ERRORS,
        summary=f"Change a {spec.label}",
    )


def _add_delete(router: APIRouter, spec: _Resource) -> None:
    item_type = spec.item

    async def delete(item: item_type, request: Request, _role: Any = spec.writer) -> Response:  # type: ignore[valid-type]
        async with request.app.state.services.sessions() as session:
            row = await _find(session, spec, item)
            await session.delete(row)
            await _commit(request, session, f"{spec.label} {item!r}", deleting=True)
        return Response(status_code=204)

    router.add_api_route(
        "/{item}",
        delete,
        methods=["DELETE"],
        status_code=204,
        responses=_CHANGE_ERRORS,
        summary=f"Delete a {spec.label}",
    )


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


async def _find(session: AsyncSession, spec: _Resource, item: str) -> Any:
    row = await session.get(spec.table, item)
    if row is None:
        raise HTTPException(404, f"no {spec.label} {item!r}")
    return row


def columns(row: Base) -> dict[str, Any]:
    """The stored values of ``row`` by column."""
    return {c.key: getattr(row, c.key) for c in row.__mapper__.column_attrs}


async def _check_parents(
    session: AsyncSession, values: dict[str, Any], parents: dict[str, tuple[type[Base], str]]
) -> None:
    for field, (table, what) in parents.items():
        value = values.get(field)
        if value is not None and await session.get(table, value) is None:
            raise HTTPException(
                422,
                [{"loc": ["body", field], "msg": f"no {what} {value!r}", "type": "reference"}],
            )


async def _commit(
    request: Request, session: AsyncSession, what: str, *, deleting: bool = False
) -> None:
    try:
        await session.commit()
        registry_changed(request.app)
    except IntegrityError:
        await session.rollback()
        if deleting:
            raise HTTPException(
                409, f"{what} is still referenced; delete or move what it holds first"
            ) from None
        raise HTTPException(409, f"{what} conflicts with what is stored") from None


routers = [
    resource("sites", Site, SiteIn, parents={}, search=("name", "address")),
    resource(
        "buildings",
        Building,
        BuildingIn,
        parents={"site_id": (Site, "site")},
        filters=("site_id",),
        search=("name",),
    ),
    resource(
        "floors",
        Floor,
        FloorIn,
        parents={"building_id": (Building, "building")},
        filters=("building_id",),
        sortable=("id", "name", "level"),
    ),
    resource(
        "rooms",
        Room,
        RoomIn,
        parents={"floor_id": (Floor, "floor")},
        filters=("floor_id", "kind"),
        search=("name",),
        get_one=False,  # GET /rooms/{id} is the room's file (routes/assets.py)
    ),
    resource(
        "assets",
        Asset,
        AssetIn,
        parents={"room_id": (Room, "room")},
        filters=("category", "room_id", "lifecycle"),
        search=("id", "name", "serial", "vendor", "model"),
        sortable=("id", "name", "category", "purchase_date", "warranty_end"),
        get_one=False,  # GET /assets/{id} is the asset's file (routes/assets.py)
        list_all=False,  # and the list has their status and place
    ),
    resource(
        "bindings",
        Binding,
        BindingIn,
        out=BindingOut,
        parents={"asset_id": (Asset, "asset")},
        filters=("asset_id", "device"),
        sortable=("id", "effective_from"),
    ),
    resource(
        "work_orders",
        WorkOrder,
        WorkOrderIn,
        out=WorkOrderOut,
        parents={"asset_id": (Asset, "asset")},
        filters=("asset_id", "status", "assignee", "alert_id"),
        search=("title", "description"),
        sortable=("id", "opened_at", "closed_at", "status"),
        writer=Operator,
    ),
]
"""Every registry router, included by the app."""
