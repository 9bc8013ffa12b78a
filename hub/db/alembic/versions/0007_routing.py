"""routing: decisions, assignments, reviews, location positions and capacity

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 08:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc(name: str, *, nullable: bool) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, hub.db.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the routing tables."""
    op.create_table(
        "routing_decisions",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("marketplace_order_pk", sa.BigInteger(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=True),
        sa.Column("rule", sa.String(length=200), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        _utc("decided_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_decisions")),
    )
    with op.batch_alter_table("routing_decisions") as batch_op:
        batch_op.create_index("ix_routing_decisions_order", ["order_id", "attempt"])
        batch_op.create_index("ix_routing_decisions_decided_at", ["decided_at"])
        batch_op.create_index("ix_routing_decisions_outcome", ["outcome"])
    op.create_table(
        "routing_assignments",
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("marketplace_order_pk", sa.BigInteger(), nullable=True),
        sa.Column("decision_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("release_reason", sa.String(length=32), nullable=True),
        sa.Column("reject_reason", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        _utc("routed_at", nullable=False),
        _utc("accept_by", nullable=True),
        _utc("accepted_at", nullable=True),
        _utc("handed_over_at", nullable=True),
        _utc("released_at", nullable=True),
        _utc("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_routing_assignments_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("order_id", "location_id", name=op.f("pk_routing_assignments")),
    )
    with op.batch_alter_table("routing_assignments") as batch_op:
        batch_op.create_index("ix_routing_assignments_state", ["state", "accept_by"])
        batch_op.create_index("ix_routing_assignments_location", ["location_id", "routed_at"])
    op.create_table(
        "routing_reviews",
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("marketplace_order_pk", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("decision_id", sa.BigInteger(), nullable=True),
        _utc("opened_at", nullable=False),
        _utc("decided_at", nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_routing_reviews")),
    )
    with op.batch_alter_table("routing_reviews") as batch_op:
        batch_op.create_index("ix_routing_reviews_state", ["state", "opened_at"])
    op.create_table(
        "routing_locations",
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("daily_capacity", sa.Integer(), nullable=True),
        _utc("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_routing_locations_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("location_id", name=op.f("pk_routing_locations")),
    )


def downgrade() -> None:
    """Drop the routing tables."""
    op.drop_table("routing_locations")
    with op.batch_alter_table("routing_reviews") as batch_op:
        batch_op.drop_index("ix_routing_reviews_state")
    op.drop_table("routing_reviews")
    with op.batch_alter_table("routing_assignments") as batch_op:
        batch_op.drop_index("ix_routing_assignments_location")
        batch_op.drop_index("ix_routing_assignments_state")
    op.drop_table("routing_assignments")
    with op.batch_alter_table("routing_decisions") as batch_op:
        batch_op.drop_index("ix_routing_decisions_outcome")
        batch_op.drop_index("ix_routing_decisions_decided_at")
        batch_op.drop_index("ix_routing_decisions_order")
    op.drop_table("routing_decisions")
