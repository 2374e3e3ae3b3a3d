"""Alerts' place labels as indexed columns; which deliveries told of which alert.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PLACES = ("site", "building", "room", "asset", "device")


def upgrade() -> None:
    """Apply this revision, filling the new columns from what is already kept."""
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        for place in PLACES:
            batch_op.add_column(
                sa.Column(place, sa.String(length=64), nullable=False, server_default="")
            )
            batch_op.create_index(batch_op.f(f"ix_alerts_{place}"), [place], unique=False)
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        for place in PLACES:
            batch_op.alter_column(place, server_default=None)
    op.create_table(
        "alert_deliveries",
        sa.Column("alert_id", sa.String(length=64), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_deliveries_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_alert_deliveries_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alert_id", "delivery_id", name=op.f("pk_alert_deliveries")),
    )
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_deliveries_delivery_id"), ["delivery_id"], unique=False
        )

    connection = op.get_bind()
    alerts = sa.table("alerts", sa.column("id", sa.String), sa.column("labels", sa.JSON))
    deliveries = sa.table(
        "deliveries", sa.column("id", sa.Integer), sa.column("alert_ids", sa.JSON)
    )
    placed = sa.table("alerts", sa.column("id", sa.String), *(sa.column(p) for p in PLACES))
    for alert_id, labels in connection.execute(sa.select(alerts.c.id, alerts.c.labels)).all():
        values = {p: str((labels or {}).get(p) or "")[:64] for p in PLACES}
        connection.execute(placed.update().where(placed.c.id == alert_id).values(**values))
    links = sa.table(
        "alert_deliveries", sa.column("alert_id", sa.String), sa.column("delivery_id", sa.Integer)
    )
    known = set(connection.scalars(sa.select(alerts.c.id)))
    for delivery_id, alert_ids in connection.execute(
        sa.select(deliveries.c.id, deliveries.c.alert_ids)
    ).all():
        rows = [
            {"alert_id": a, "delivery_id": delivery_id} for a in set(alert_ids or ()) if a in known
        ]
        if rows:
            connection.execute(links.insert(), rows)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_deliveries_delivery_id"))
    op.drop_table("alert_deliveries")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        for place in PLACES:
            batch_op.drop_index(batch_op.f(f"ix_alerts_{place}"))
            batch_op.drop_column(place)
