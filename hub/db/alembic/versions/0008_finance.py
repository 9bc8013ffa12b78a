"""finance: settlements, settlement lines, the scheduled settlement import's state

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 09:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc(name: str, *, nullable: bool) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, hub.db.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the finance tables."""
    op.create_table(
        "settlements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("settlement_id", sa.String(length=32), nullable=False),
        sa.Column("marketplace_id", sa.String(length=32), nullable=True),
        sa.Column("marketplace_name", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _utc("start_at", nullable=False),
        _utc("end_at", nullable=False),
        _utc("deposit_at", nullable=True),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("lines_total_minor", sa.BigInteger(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_name", sa.String(length=255), nullable=False),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        _utc("imported_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["channel_accounts.id"],
            name=op.f("fk_settlements_account_id_channel_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlements")),
        sa.UniqueConstraint(
            "channel", "settlement_id", name="uq_settlements_channel_settlement_id"
        ),
    )
    op.create_table(
        "settlement_lines",
        sa.Column("id", _BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("settlement_pk", sa.Integer(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("transaction_type", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("component", sa.String(length=16), nullable=False),
        sa.Column("amount_type", sa.String(length=64), nullable=False),
        sa.Column("amount_description", sa.String(length=128), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("merchant_order_id", sa.String(length=64), nullable=True),
        sa.Column("adjustment_id", sa.String(length=64), nullable=True),
        sa.Column("shipment_id", sa.String(length=64), nullable=True),
        sa.Column("order_item_code", sa.String(length=64), nullable=True),
        sa.Column("sku", sa.String(length=64), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        _utc("posted_at", nullable=True),
        sa.Column("promotion_id", sa.String(length=128), nullable=True),
        sa.Column("marketplace_order_pk", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["marketplace_order_pk"],
            ["marketplace_orders.id"],
            name=op.f("fk_settlement_lines_marketplace_order_pk_marketplace_orders"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["settlement_pk"],
            ["settlements.id"],
            name=op.f("fk_settlement_lines_settlement_pk_settlements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_lines")),
    )
    with op.batch_alter_table("settlement_lines") as batch_op:
        batch_op.create_index("ix_settlement_lines_settlement_pk", ["settlement_pk"])
        batch_op.create_index("ix_settlement_lines_order_id", ["order_id"])
        batch_op.create_index("ix_settlement_lines_marketplace_order_pk", ["marketplace_order_pk"])
    op.create_table(
        "settlement_import_state",
        sa.Column("account_id", sa.Integer(), nullable=False),
        _utc("checkpoint", nullable=True),
        _utc("last_run_at", nullable=True),
        _utc("last_success_at", nullable=True),
        sa.Column("reports_seen", sa.Integer(), nullable=False),
        sa.Column("settlements_imported", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["channel_accounts.id"],
            name=op.f("fk_settlement_import_state_account_id_channel_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_settlement_import_state")),
    )


def downgrade() -> None:
    """Drop the finance tables."""
    op.drop_table("settlement_import_state")
    with op.batch_alter_table("settlement_lines") as batch_op:
        batch_op.drop_index("ix_settlement_lines_marketplace_order_pk")
        batch_op.drop_index("ix_settlement_lines_order_id")
        batch_op.drop_index("ix_settlement_lines_settlement_pk")
    op.drop_table("settlement_lines")
    op.drop_table("settlements")
