"""routing split: the lines, package and shipment confirmation of each assignment

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 10:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the part, package and confirmation columns to routing_assignments."""
    with op.batch_alter_table("routing_assignments") as batch:
        batch.add_column(sa.Column("lines", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("package_ref", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("carrier", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("tracking_number", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("package_items", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("shipment_state", sa.String(length=16), nullable=False, server_default="none")
        )
        batch.add_column(
            sa.Column("shipment_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("shipment_next_at", hub.db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("shipment_error", sa.Text(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column(
                "shipment_confirmed_at", hub.db.types.UTCDateTime(timezone=True), nullable=True
            )
        )
    op.create_index(
        "ix_routing_assignments_shipment",
        "routing_assignments",
        ["shipment_state", "shipment_next_at"],
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_routing_assignments_shipment", table_name="routing_assignments")
    with op.batch_alter_table("routing_assignments") as batch:
        for name in (
            "shipment_confirmed_at",
            "shipment_error",
            "shipment_next_at",
            "shipment_attempts",
            "shipment_state",
            "package_items",
            "tracking_number",
            "carrier",
            "package_ref",
            "lines",
        ):
            batch.drop_column(name)
