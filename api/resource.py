"""The registry's resources as routers: sites, buildings, floors, rooms, assets, ...

Each resource has the same five operations, built by :func:`resource`: list (paginated,
filtered, sorted), get, create, partial update and delete. Reading takes a viewer token;
changing the registry an admin token.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field, ValidationError, create_model
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Admin, Viewer
from api.listing import registry_changed
from api.paging import Page, PagingQuery
from api.records import StrictInput, columns
from api.registry.models import Base
from api.schemas import NumberId, SlugId, problems
from api.services import Services, ServicesDep

FieldCheck = Callable[[Services, Any], object]
"""A check of one field's value on write that needs the services (raises ``ValueError``)."""


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


WriteCheck = Callable[[AsyncSession, str | None, dict[str, Any]], Awaitable[tuple[str, str] | None]]
"""A check of a record against others, in the transaction that writes it.

It is given the session, the stored record's id (``None``: creating) and the whole record
as it would be written, and says which field is wrong and why (``None``: nothing); that is
answered with 422.
"""

BeforeWrite = Callable[[Mapping[str, Any] | None, dict[str, Any], datetime], dict[str, Any]]
"""What a resource writes, from what is stored (``None``: creating), what was given and now.

It runs in the transaction that writes, so a time it stamps is stored once, with the change;
it may refuse the write with an :class:`~fastapi.HTTPException`.
"""


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
    before_write: BeforeWrite | None
    checks: dict[str, FieldCheck]
    write_check: WriteCheck | None

    @property
    def label(self) -> str:
        return self.path.removesuffix("s").replace("_", " ")


_ERRORS = problems(401, 403, 404)
_CHANGE_ERRORS = problems(401, 403, 404, 409)


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
    before_write: BeforeWrite | None = None,
    checks: dict[str, FieldCheck] | None = None,
    write_check: WriteCheck | None = None,
) -> APIRouter:
    """Build the five operations of one registry resource.

    ``parents`` maps a reference field to the table it points at and what to call it;
    ``filters`` are fields the list filters on by equality, ``search`` the fields ``q``
    matches (case-insensitive substring), ``sortable`` those ``sort`` accepts. ``out`` is
    the answer's schema when it differs from ``schema``: the stored record has a number for
    id the database assigns. ``writer`` is the role that may change the resource. Without
    ``get_one`` the resource's ``GET /{id}`` is left to another router (an asset's file);
    without ``list_all``, its list (assets, listed with their status). ``before_write``
    turns what a create or a change was given into what it writes (work orders stamp their
    close time). ``checks`` check a field's value when it is written (created or changed),
    not when it is read: a value stored before the check existed still lists.
    ``write_check`` checks the whole record against the others when it is written (an
    asset's meter parent: a meter, no cycle).
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
        before_write,
        checks or {},
        write_check,
    )
    router = APIRouter(prefix=f"/api/v1/{path}", tags=[path])
    plural = path.replace("_", " ")
    if list_all:
        router.add_api_route(
            "",
            _listing(spec),
            methods=["GET"],
            response_model=Page[spec.out],  # type: ignore[name-defined]
            responses=_ERRORS,
            summary=f"List {plural}",
            openapi_extra={
                "parameters": [
                    {"name": f, "in": "query", "required": False, "schema": {"type": "string"}}
                    for f in spec.filters
                ]
            },
        )
    operations = [  # path, method, status, errors, the endpoint's builder, what it does
        ("/{item}", "GET", 200, _ERRORS, _get_one, "Get"),
        ("", "POST", 201, _CHANGE_ERRORS, _create, "Create"),
        ("/{item}", "PATCH", 200, _CHANGE_ERRORS, _update, "Change"),
        ("/{item}", "DELETE", 204, _CHANGE_ERRORS, _delete, "Delete"),
    ]
    for route, method, status, errors, build, verb in operations[0 if get_one else 1 :]:
        router.add_api_route(
            route,
            build(spec),
            methods=[method],
            status_code=status,
            response_model=None if status == 204 else spec.out,
            responses=errors,
            summary=f"{verb} a {spec.label}",
        )
    return router


Endpoint = Callable[..., Awaitable[Any]]
"""A route's function; its parameters are what FastAPI reads from the request."""


def _listing(spec: _Resource) -> Endpoint:
    table = spec.table
    sort_pattern = "^-?(" + "|".join(spec.sortable) + ")$"

    async def listing(
        request: Request,
        services: ServicesDep,
        paging: PagingQuery,
        _role: Any = Viewer,
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
        async with services.sessions() as session:
            total = await session.scalar(select(func.count()).select_from(table).where(*wanted))
            rows = await session.scalars(
                paging.select(select(table).where(*wanted).order_by(order, table.id))
            )
            items = [spec.out.model_validate(columns(row)) for row in rows]
        return Page[Any](items=items, total=total or 0, limit=paging.limit, offset=paging.offset)

    listing.__doc__ = f"List {spec.path.replace('_', ' ')}, a page at a time."
    return listing


def _get_one(spec: _Resource) -> Endpoint:
    async def get_one(item: spec.item, services: ServicesDep, _role: Any = Viewer) -> Any:  # type: ignore[name-defined]
        async with services.sessions() as session:
            row = await _find(session, spec, item)
            return spec.out.model_validate(columns(row))

    return get_one


def _create(spec: _Resource) -> Endpoint:
    async def create(
        body: spec.schema,  # type: ignore[name-defined]
        request: Request,
        services: ServicesDep,
        _role: Any = spec.writer,
    ) -> Any:
        values = body.model_dump()
        _check_values(services, values, spec.checks)
        async with services.sessions() as session:
            await _check_parents(session, values, spec.parents)
            if "id" in values and await session.get(spec.table, values["id"]) is not None:
                raise HTTPException(409, f"{spec.label} {values['id']!r} exists already")
            await _check_write(session, spec, None, values)
            if spec.before_write is not None:
                values = spec.before_write(None, values, datetime.now(UTC))
            row = spec.table(**values)
            session.add(row)
            await _commit(request, session, f"{spec.label} {values.get('id', '')!r}")
            await session.refresh(row)  # as stored: ids assigned, times in UTC
            return spec.out.model_validate(columns(row))

    return create


def _update(spec: _Resource) -> Endpoint:
    patch = _patch_model(spec.schema)

    async def update(
        item: spec.item,  # type: ignore[name-defined]
        body: patch,  # type: ignore[valid-type]
        request: Request,
        services: ServicesDep,
        _role: Any = spec.writer,
    ) -> Any:
        values = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
        _check_values(services, values, spec.checks)
        async with services.sessions() as session:
            row = await _find(session, spec, item)
            await _check_parents(session, values, spec.parents)
            await _check_write(session, spec, item, {**columns(row), **values})
            if spec.before_write is not None:
                values = spec.before_write(columns(row), values, datetime.now(UTC))
            for name, value in values.items():
                setattr(row, name, value)
            try:  # the whole record again: checks across fields (from before to)
                spec.out.model_validate(columns(row))
            except ValidationError as exc:
                raise HTTPException(422, _errors(exc)) from None
            await _commit(request, session, f"{spec.label} {item!r}")
            await session.refresh(row)
            return spec.out.model_validate(columns(row))

    return update


def _delete(spec: _Resource) -> Endpoint:
    async def delete(
        item: spec.item,  # type: ignore[name-defined]
        request: Request,
        services: ServicesDep,
        _role: Any = spec.writer,
    ) -> Response:
        async with services.sessions() as session:
            row = await _find(session, spec, item)
            await session.delete(row)
            await _commit(request, session, f"{spec.label} {item!r}", deleting=True)
        return Response(status_code=204)

    return delete


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


async def _find(session: AsyncSession, spec: _Resource, item: str) -> Any:
    row = await session.get(spec.table, item)
    if row is None:
        raise HTTPException(404, f"no {spec.label} {item!r}")
    return row


def _check_values(
    services: Services, values: dict[str, Any], checks: dict[str, FieldCheck]
) -> None:
    for field, check in checks.items():
        if values.get(field) is not None:
            try:
                check(services, values[field])
            except ValueError as exc:
                raise HTTPException(
                    422, [{"loc": ["body", field], "msg": str(exc), "type": "value_error"}]
                ) from None


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


async def _check_write(
    session: AsyncSession, spec: _Resource, item: str | None, record: dict[str, Any]
) -> None:
    if spec.write_check is None:
        return
    problem = await spec.write_check(session, item, record)
    if problem is not None:
        field, message = problem
        raise HTTPException(422, [{"loc": ["body", field], "msg": message, "type": "value_error"}])


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
