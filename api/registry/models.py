"""The registry's tables (SQLAlchemy 2). Schema changes go through Alembic migrations.

Hierarchy ids (sites, buildings, floors, rooms) and asset ids are slugs chosen by people
(``hq``, ``b1``, ``b1-2f``, ``ups-1``), like the device ids of the wire contract, so that
they read well in URLs, alerts and dashboards.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

SLUG = 64
NAME = 200

# Constraint names spelled out, so migrations name them the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in time, stored in UTC and read back aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store in UTC."""
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as an aware UTC time."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of every registry table."""

    metadata = MetaData(naming_convention=NAMING)


class Lifecycle(StrEnum):
    """Where an asset is in its life."""

    IN_SERVICE = "in_service"
    IDLE = "idle"
    UNDER_MAINTENANCE = "under_maintenance"
    RETIRED = "retired"


class Role(StrEnum):
    """What an API token may do; each role includes the ones before it."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


class WorkOrderStatus(StrEnum):
    """Where a work order is."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


def _enum(kind: type[StrEnum]) -> Enum:
    return Enum(kind, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class Site(Base):
    """A site: a campus or office of the enterprise."""

    __tablename__ = "sites"
    id: Mapped[str] = mapped_column(String(SLUG), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME))
    address: Mapped[str] = mapped_column(String(NAME), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")


class Building(Base):
    """A building of a site."""

    __tablename__ = "buildings"
    id: Mapped[str] = mapped_column(String(SLUG), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(NAME))


class Floor(Base):
    """A floor of a building; ``level`` orders them (negative below ground)."""

    __tablename__ = "floors"
    id: Mapped[str] = mapped_column(String(SLUG), primary_key=True)
    building_id: Mapped[str] = mapped_column(
        ForeignKey("buildings.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(NAME))
    level: Mapped[int] = mapped_column(Integer, default=0)


class Room(Base):
    """A room: the unit of "one room, one file"."""

    __tablename__ = "rooms"
    id: Mapped[str] = mapped_column(String(SLUG), primary_key=True)
    floor_id: Mapped[str] = mapped_column(ForeignKey("floors.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(NAME))
    kind: Mapped[str] = mapped_column(String(SLUG), default="office")


class Asset(Base):
    """A piece of equipment in the ledger."""

    __tablename__ = "assets"
    id: Mapped[str] = mapped_column(String(SLUG), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME))
    category: Mapped[str] = mapped_column(String(SLUG), index=True)
    room_id: Mapped[str | None] = mapped_column(
        ForeignKey("rooms.id", ondelete="RESTRICT"), index=True
    )
    vendor: Mapped[str] = mapped_column(String(NAME), default="")
    model: Mapped[str] = mapped_column(String(NAME), default="")
    serial: Mapped[str] = mapped_column(String(NAME), default="")
    purchase_date: Mapped[date | None] = mapped_column(Date)
    cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    warranty_end: Mapped[date | None] = mapped_column(Date)
    owner_department: Mapped[str] = mapped_column(String(NAME), default="")
    responsible: Mapped[str] = mapped_column(String(NAME), default="")
    lifecycle: Mapped[Lifecycle] = mapped_column(_enum(Lifecycle), default=Lifecycle.IN_SERVICE)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    meter_parent: Mapped[str | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL"), index=True
    )


class Binding(Base):
    """Which device reports for an asset, and from when to when.

    A replaced device gets a new binding, so the asset keeps its whole history.
    """

    __tablename__ = "bindings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    device: Mapped[str] = mapped_column(String(SLUG), index=True)
    effective_from: Mapped[datetime] = mapped_column(UtcDateTime)
    effective_to: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WorkOrder(Base):
    """A maintenance job on an asset, perhaps opened from an alert."""

    __tablename__ = "work_orders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(NAME))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[WorkOrderStatus] = mapped_column(
        _enum(WorkOrderStatus), default=WorkOrderStatus.OPEN
    )
    assignee: Mapped[str] = mapped_column(String(NAME), default="")
    alert_id: Mapped[str | None] = mapped_column(String(SLUG), index=True)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolution: Mapped[str] = mapped_column(Text, default="")
    cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))


class Document(Base):
    """A file attached to an asset (manual, contract, inspection report)."""

    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME))
    content_type: Mapped[str] = mapped_column(String(NAME))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ApiToken(Base):
    """An API token, stored as its SHA-256 digest: the token itself is shown once."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME))
    role: Mapped[Role] = mapped_column(_enum(Role))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


Index("ix_bindings_device_from", Binding.device, Binding.effective_from)


class AlertState(StrEnum):
    """Where an alert is in its life."""

    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Alert(Base):
    """A rule that held for a subject (a device or a gateway), from firing to resolved."""

    __tablename__ = "alerts"
    id: Mapped[str] = mapped_column(String(SLUG), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(400), index=True)
    """Rule, subject and key: one open alert per fingerprint at most."""
    rule: Mapped[str] = mapped_column(String(SLUG), index=True)
    kind: Mapped[str] = mapped_column(String(SLUG))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[AlertState] = mapped_column(_enum(AlertState), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    """site, gateway, device, asset, room, building, category, profile, and names."""
    site: Mapped[str] = mapped_column(String(SLUG), index=True, default="")
    building: Mapped[str] = mapped_column(String(SLUG), index=True, default="")
    room: Mapped[str] = mapped_column(String(SLUG), index=True, default="")
    asset: Mapped[str] = mapped_column(String(SLUG), index=True, default="")
    device: Mapped[str] = mapped_column(String(SLUG), index=True, default="")
    """The place labels again, as columns, so that filters by place use an index."""
    values: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    summary: Mapped[str] = mapped_column(Text)
    summary_zh: Mapped[str] = mapped_column(Text)
    quiet: Mapped[str] = mapped_column(Text, default="")
    """Why it was not notified (silence, inhibition, maintenance); empty when it was."""
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str] = mapped_column(String(NAME), default="")
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[str] = mapped_column(String(NAME), default="")
    """``auto`` when the condition cleared, else who resolved it."""
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AlertNote(Base):
    """One thing that happened to an alert: fired, notified, acknowledged, commented, ..."""

    __tablename__ = "alert_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    what: Mapped[str] = mapped_column(String(SLUG))
    by: Mapped[str] = mapped_column(String(NAME), default="")
    text: Mapped[str] = mapped_column(Text, default="")


class Silence(Base):
    """Alerts whose labels include ``matchers`` are not notified from start to end."""

    __tablename__ = "silences"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    matchers: Mapped[dict[str, str]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(NAME), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Delivery(Base):
    """One notification to one target, retried until it is delivered or given up."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    route: Mapped[str] = mapped_column(String(SLUG))
    target: Mapped[str] = mapped_column(String(500))
    """The target with its secrets masked."""
    target_ref: Mapped[str] = mapped_column(String(200))
    """Where the target is in the configuration: ``route/targets/0``, ``route/escalate_to/1``."""
    what: Mapped[str] = mapped_column(String(SLUG))
    """firing, resolved, reminder or escalation."""
    alert_ids: Mapped[list[str]] = mapped_column(JSON)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    """pending, sent or failed (given up)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AlertDelivery(Base):
    """Which deliveries told of which alert (a delivery may tell of a group)."""

    __tablename__ = "alert_deliveries"
    alert_id: Mapped[str] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Utilization(Base):
    """Time an asset was in use on one local day, and the time it was watched."""

    __tablename__ = "utilization"
    asset_id: Mapped[str] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    in_use_s: Mapped[float] = mapped_column(Float, default=0.0)
    observed_s: Mapped[float] = mapped_column(Float, default=0.0)
