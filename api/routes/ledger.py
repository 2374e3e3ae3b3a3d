"""The asset ledger as a spreadsheet: export to CSV or XLSX, import with a dry run.

An import creates the assets it does not know and updates those it does (by ``id``). It
is all or nothing: one bad row and nothing is written, and the answer names every bad row
(numbered as a spreadsheet numbers them, the header being row 1) and column.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Admin, Viewer
from api.categories import UnknownCategory
from api.listing import registry_changed
from api.records import AssetIn, MeterTree, columns, meter_tree_problem
from api.registry.models import Asset, Room
from api.schemas import problems, read_body
from api.services import Services, ServicesDep

router = APIRouter(prefix="/api/v1/assets", tags=["assets"])

COLUMNS = tuple(AssetIn.model_fields)
"""The ledger's columns, in order."""
MAX_BYTES = 20 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TAG_SEPARATOR = ";"


class Unreadable(Exception):
    """The file as a whole cannot be read as a ledger."""


class RowError(BaseModel):
    """What is wrong in one cell (or row, when ``column`` is empty)."""

    row: int = Field(
        description="As the spreadsheet numbers it: the header is row 1; 0 is the whole file"
    )
    column: str
    message: str


class ImportReport(BaseModel):
    """What an import did, or would do (dry run)."""

    dry_run: bool
    rows: int
    created: int
    updated: int
    errors: list[RowError]


@router.get(
    "/export",
    responses={200: {"content": {"text/csv": {}, XLSX: {}}}, **problems(401)},
    summary="Export the asset ledger",
    dependencies=[Viewer],
)
async def export(services: ServicesDep, format: Literal["csv", "xlsx"] = "csv") -> Response:  # noqa: A002 - the query parameter's name
    """Every asset, a row each, in CSV (UTF-8 with a BOM, so that Excel reads it) or XLSX."""
    async with services.sessions() as session:
        assets = list(await session.scalars(select(Asset).order_by(Asset.id)))
    rows = [[_cell(columns(a)[name]) for name in COLUMNS] for a in assets]
    if format == "xlsx":
        from openpyxl import Workbook  # noqa: PLC0415 - only exports need it

        book = Workbook(write_only=True)
        sheet = book.create_sheet("assets")
        sheet.append(list(COLUMNS))
        for row in rows:
            sheet.append(row)
        out = io.BytesIO()
        book.save(out)
        return Response(
            out.getvalue(),
            media_type=XLSX,
            headers={"Content-Disposition": 'attachment; filename="assets.xlsx"'},
        )
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return Response(
        ("\ufeff" + text.getvalue()).encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="assets.csv"'},
    )


@router.post(
    "/import",
    response_model=ImportReport,
    responses={**problems(401, 403, 413, 415), 422: {"model": ImportReport}},
    summary="Import the asset ledger (CSV or XLSX)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
    dependencies=[Admin],
)
async def import_ledger(
    request: Request,
    services: ServicesDep,
    dry_run: bool = Query(default=True, description="Check only; write nothing"),
) -> Any:
    """Create or update assets from a spreadsheet with a header row.

    The header names ``id``, ``name``, ``category`` and any other column of the export; a
    category is one of ``GET /api/v1/categories``.
    """
    body = await read_body(request, MAX_BYTES, "a ledger file")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in (XLSX, "text/csv", "text/plain", "application/csv"):
        raise HTTPException(415, f"send text/csv or {XLSX}, not {kind or 'nothing'}")
    try:
        table = _read_xlsx(body) if kind == XLSX else _read_csv(body)
        report = await _apply(request, services, table, dry_run=dry_run)
    except Unreadable as exc:
        whole = RowError(row=0, column="", message=str(exc))
        report = ImportReport(dry_run=dry_run, rows=0, created=0, updated=0, errors=[whole])
    if report.errors:
        return Response(report.model_dump_json(), status_code=422, media_type="application/json")
    return report


def _read_csv(body: bytes) -> list[list[str]]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = body.decode("gb18030")  # what Excel on a Chinese Windows saves
        except UnicodeDecodeError:
            raise Unreadable("the CSV file is neither UTF-8 nor GB 18030") from None
    try:
        return [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise Unreadable(f"not a CSV file: {exc}") from None


def _read_xlsx(body: bytes) -> list[list[str]]:
    from openpyxl import load_workbook  # noqa: PLC0415 - only imports need it

    try:  # a read-only book parses its sheet while rows are read: bad XML shows up there too
        book = load_workbook(io.BytesIO(body), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        table = [
            [_text(cell) for cell in row]
            for row in sheet.iter_rows(values_only=True)
            if any(cell not in (None, "") for cell in row)
        ]
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
        raise Unreadable(f"not an XLSX file: {exc.__class__.__name__}") from None
    book.close()
    return table


def _text(cell: object) -> str:
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == datetime.min.time() else cell.isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting so is taken for a formula by spreadsheet programs (CSV injection)."""


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, list):
        value = TAG_SEPARATOR.join(value)
    if isinstance(value, date | Decimal):
        return str(value)
    value = getattr(value, "value", value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value  # shown as text, and read back without the quote
    return value


async def _meter_tree(
    session: AsyncSession, assets: list[tuple[int, AssetIn]]
) -> dict[str, tuple[str, str | None]]:
    """Every asset's category and meter parent, as they will be once ``assets`` are written."""
    rows = await session.execute(select(Asset.id, Asset.category, Asset.meter_parent))
    tree = {a: (category, parent) for a, category, parent in rows}
    tree.update({a.id: (a.category, a.meter_parent) for _, a in assets})
    return tree


def _depth(tree: MeterTree, asset: str) -> int:
    """How many meters are upstream of ``asset`` (the tree has no cycle)."""
    depth, upward = 0, tree.get(asset, ("", None))[1]
    while upward is not None and depth < len(tree):
        depth, upward = depth + 1, tree.get(upward, ("", None))[1]
    return depth


async def _apply(
    request: Request, services: Services, table: list[list[str]], *, dry_run: bool
) -> ImportReport:
    if not table:
        raise Unreadable("the file is empty: it needs a header row")
    header = [name.strip().lower() for name in table[0]]
    errors = [
        RowError(row=1, column=name, message="unknown column")
        for name in header
        if name not in COLUMNS
    ]
    errors += [
        RowError(row=1, column=name, message="required column missing")
        for name in ("id", "name", "category")
        if name not in header
    ]
    if errors:
        return ImportReport(
            dry_run=dry_run, rows=len(table) - 1, created=0, updated=0, errors=errors
        )
    assets: list[tuple[int, AssetIn]] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(table[1:], start=2):
        record = _parse_row(number, header, row, errors)
        if record is None:
            continue
        if record.id in seen:
            errors.append(
                RowError(row=number, column="id", message=f"also on row {seen[record.id]}")
            )
            continue
        seen[record.id] = number
        assets.append((number, record))
    for number, asset in assets:
        try:
            services.categories.check(asset.category)
        except UnknownCategory as exc:
            errors.append(RowError(row=number, column="category", message=str(exc)))
    async with services.sessions() as session:
        rooms = set(await session.scalars(select(Room.id)))
        errors += [
            RowError(row=n, column="room_id", message=f"no room {a.room_id!r}")
            for n, a in assets
            if a.room_id is not None and a.room_id not in rooms
        ]
        existing = {
            asset.id: asset
            for asset in await session.scalars(select(Asset).where(Asset.id.in_(list(seen))))
        }
        tree = await _meter_tree(session, assets)
        below: dict[str, list[str]] = {}
        for meter, (_, above) in tree.items():
            if above is not None and above != meter:
                below.setdefault(above, []).append(meter)
        errors += [
            RowError(row=n, column="meter_parent", message=problem)
            for n, a in assets
            if (
                problem := meter_tree_problem(
                    a.id, a.category, a.meter_parent, tree, below.get(a.id, [])
                )
            )
        ]
        assets.sort(key=lambda numbered: _depth(tree, numbered[1].id))  # parents stored first
        created = sum(1 for _, a in assets if a.id not in existing)
        report = ImportReport(
            dry_run=dry_run,
            rows=len(table) - 1,
            created=created,
            updated=len(assets) - created,
            errors=sorted(errors, key=lambda e: (e.row, e.column)),
        )
        if report.errors or dry_run:
            return report
        for _, record in assets:
            values = record.model_dump()
            stored = existing.get(record.id)
            if stored is None:
                session.add(Asset(**values))
            else:
                for name, value in values.items():
                    setattr(stored, name, value)
        await session.commit()
    registry_changed(request.app)
    return report


def _parse_row(
    number: int, header: list[str], row: list[str], errors: list[RowError]
) -> AssetIn | None:
    if len(row) > len(header) and any(cell.strip() for cell in row[len(header) :]):
        errors.append(RowError(row=number, column="", message="more cells than header columns"))
        return None
    values: dict[str, Any] = {}
    for name, raw in zip(header, row, strict=False):
        cell = raw.strip()
        if cell == "":
            continue  # the default, as if the column were absent
        if cell[:1] == "'" and cell[1:].startswith(FORMULA_STARTS):
            cell = cell[1:]  # quoted on export so that no spreadsheet runs it
        if name == "tags":
            values[name] = [t.strip() for t in cell.split(TAG_SEPARATOR) if t.strip()]
        else:
            values[name] = cell
    try:
        return AssetIn.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            column = str(error["loc"][0]) if error["loc"] else ""
            message = error["msg"].removeprefix("Value error, ")
            errors.append(RowError(row=number, column=column, message=message))
        return None
