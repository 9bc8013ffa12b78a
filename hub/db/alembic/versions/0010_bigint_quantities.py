"""64-bit quantities: the ledger, reservations, sales facts and store status counters

The protocol carries 64-bit integers; PostgreSQL's 32-bit columns refused a valid
quantity above 2**31 - 1 and dead-lettered its event as apply_failed, which holds the
store's ack back until someone acts. SQLite stores every integer in 64 bits already;
its columns are recreated with the new declared type so model and schema agree.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 11:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COLUMNS: dict[str, tuple[str, ...]] = {
    "stock_levels": ("last_count", "deltas_since_count", "on_hand", "reserved", "safety_stock"),
    "stock_movements": ("delta", "reserved_delta", "on_hand_after"),
    "order_reservations": ("qty",),
    "sales_facts": ("qty",),
    "store_status": ("outbox_depth", "catalog_version_reported"),
}


def _alter(old: type[sa.types.TypeEngine[int]], new: type[sa.types.TypeEngine[int]]) -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, existing_type=old(), type_=new())


def upgrade() -> None:
    """Widen the quantity columns to BIGINT."""
    _alter(sa.Integer, sa.BigInteger)


def downgrade() -> None:
    """Back to INTEGER (fails on PostgreSQL if a value no longer fits)."""
    _alter(sa.BigInteger, sa.Integer)
