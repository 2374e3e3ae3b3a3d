"""A meter's place in its metering tree: the meter upstream of it (none: a main meter).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision: every existing meter stays a main meter."""
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("meter_parent", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_assets_meter_parent"), ["meter_parent"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_assets_meter_parent_assets"),
            "assets",
            ["meter_parent"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_assets_meter_parent_assets"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_assets_meter_parent"))
        batch_op.drop_column("meter_parent")
