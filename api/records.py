"""The registry's records as the API takes and gives them: sites to work orders.

Input is strict (:class:`StrictInput`): what lax coercion would take is refused. The stored
records (``BindingOut``, ``WorkOrderOut``) add the id the database assigns.
"""

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Self
from zoneinfo import available_timezones

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from sqlalchemy import Select, select

from api.registry.models import Base, Document, Lifecycle, WorkOrderStatus
from facmon.types import Slug

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


METER = "meter"
"""The category of energy meters: the only assets that may sit in a metering tree."""


class AssetIn(StrictInput):
    """An asset to create."""

    id: Slug
    name: Name
    category: Slug = Field(
        description="One of `GET /api/v1/categories` (checked when written, not when read)"
    )
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
    meter_parent: Slug | None = Field(
        default=None,
        description=(
            f"For a `{METER}` only: the meter upstream of it, which its energy is part of "
            "(null: a main meter, the top of its tree). Energy totals count only main meters"
        ),
    )


MeterTree = Mapping[str, tuple[str, str | None]]
"""Every asset's category and meter parent, by asset id."""


def meter_tree_problem(
    asset: str,
    category: str,
    parent: str | None,
    tree: MeterTree,
    below: list[str] | None = None,
) -> str | None:
    """Why ``asset`` (of ``category``) may not have ``parent`` upstream of it, or ``None``.

    ``tree`` is what is stored: at least every meter and ``parent``. The parent must exist
    and be a meter, the asset must be a meter (and stays one while a meter is below it:
    ``below``, the meters whose parent it is, found in ``tree`` when not given), and
    following parents upward must never come back to ``asset``.
    """
    if category != METER:
        if below is None:
            below = [a for a, (_, above) in tree.items() if above == asset and a != asset]
        if below:
            below = sorted(below)
            return f"{asset!r} is upstream of {', '.join(below)}: it stays a {METER!r}"
        if parent is not None:
            return f"only a {METER!r} has a meter parent, not a {category!r}"
        return None
    if parent is None:
        return None
    if parent != asset and parent not in tree:
        return f"no asset {parent!r}"
    seen = [asset]
    upward: str | None = parent
    while upward is not None:
        kind, above = tree.get(upward, (METER, None))
        if upward == asset or upward in seen:
            return "makes a cycle: " + " → ".join([*seen, upward])
        if kind != METER:
            return f"{upward!r} is a {kind!r}, not a {METER!r}"
        seen.append(upward)
        upward = above
    return None


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


class _WorkOrderFields(StrictInput):
    """A work order's fields, and the one check a stored record must pass too."""

    asset_id: Slug
    title: Name
    description: LongText = ""
    status: WorkOrderStatus = WorkOrderStatus.OPEN
    assignee: Text = ""
    alert_id: Slug | None = None
    opened_at: IsoTime = Field(default_factory=_now)
    closed_at: IsoTime | None = Field(
        default=None,
        description=(
            "When it was closed: given, or stamped when a change closes it; null while it "
            "is not closed (reopening clears it), and for an order closed without a time"
        ),
    )
    resolution: LongText = ""
    cost: Money | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.closed_at is not None and self.closed_at < self.opened_at:
            raise ValueError("closed_at must not be before opened_at")
        return self


class WorkOrderIn(_WorkOrderFields):
    """A maintenance job on an asset.

    Its close time is stamped when it is written (:func:`closing`), not here: a read must
    give back what was stored.
    """


class WorkOrderOut(_WorkOrderFields):
    """A stored work order, as stored (``closed_at`` is never made up)."""

    model_config = ConfigDict(extra="ignore")
    id: int


def closing(
    stored: Mapping[str, Any] | None, values: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The values to write to a work order: ``values`` with its close time kept true.

    ``stored`` is the order before the write (``None`` when it is created), ``values`` the
    fields given. A write that closes it without saying when stamps ``now`` (never before it
    was opened); a write that leaves it not closed clears the close time, and refuses one
    given. An order that was closed already keeps what it has, even no time at all.
    """
    after = {**(stored or {}), **values}
    closed = after["status"] == WorkOrderStatus.CLOSED
    if not closed:
        if values.get("closed_at") is not None:
            raise ValueError("closed_at is only for a closed work order (status closed)")
        return {**values, "closed_at": None} if after.get("closed_at") is not None else values
    was_closed = stored is not None and stored["status"] == WorkOrderStatus.CLOSED
    if was_closed or values.get("closed_at") is not None:
        return values
    return {**values, "closed_at": max(now, after["opened_at"])}


def _zones() -> set[str]:
    global _ZONES  # noqa: PLW0603 - loaded once, on first use
    if _ZONES is None:
        _ZONES = available_timezones()
    return _ZONES


_ZONES: set[str] | None = None


def columns(row: Base) -> dict[str, Any]:
    """The stored values of ``row`` by column."""
    return {c.key: getattr(row, c.key) for c in row.__mapper__.column_attrs}


class DocumentInfo(BaseModel):
    """A document's description (its content is at ``/documents/{id}/content``)."""

    id: int
    asset_id: str
    name: str
    content_type: str
    size: int
    uploaded_at: datetime


def described() -> Select[int, str, str, str, int, datetime]:
    """Documents without their content, newest first."""
    return select(
        Document.id,
        Document.asset_id,
        Document.name,
        Document.content_type,
        Document.size,
        Document.uploaded_at,
    ).order_by(Document.uploaded_at.desc(), Document.id.desc())
