"""Finance tables: imported marketplace settlements and their lines.

The contract with the reports and reconciliation code is docs/finance.md ("Settlement
import") and /work/notes/finance-contract.md: ``settlements`` holds one row per Amazon
settlement (the summary row of the V2 flat file), ``settlement_lines`` one row per amount
component, each classified by ``kind`` and ``component`` and linked to our
``marketplace_orders`` row when the order is known.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models import Base
from hub.db.types import BigIntPK


class Settlement(Base):
    """One marketplace settlement (the summary row of a settlement report)."""

    __tablename__ = "settlements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16), default="amazon")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("channel_accounts.id"))
    settlement_id: Mapped[str] = mapped_column(String(32))
    marketplace_id: Mapped[str | None] = mapped_column(String(32))
    marketplace_name: Mapped[str] = mapped_column(String(64), default="")
    currency: Mapped[str] = mapped_column(String(3))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    deposit_at: Mapped[datetime | None]
    total_minor: Mapped[int] = mapped_column(BigInteger)
    """The summary row's total-amount, in minor units of ``currency``."""
    lines_total_minor: Mapped[int] = mapped_column(BigInteger)
    """The sum of every line's amount; differs from ``total_minor`` on a mismatch."""
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(16))
    """``file`` (imported from the CLI) or ``reports_api`` (the scheduled import)."""
    source_name: Mapped[str] = mapped_column(String(255), default="")
    document_sha256: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("channel", "settlement_id", name="uq_settlements_channel_settlement_id"),
    )


class SettlementLine(Base):
    """One amount component of a settlement (a non-summary row of the flat file)."""

    __tablename__ = "settlement_lines"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    settlement_pk: Mapped[int] = mapped_column(ForeignKey("settlements.id", ondelete="CASCADE"))
    row_no: Mapped[int] = mapped_column(Integer)
    """Line number in the file (the header is line 1)."""
    transaction_type: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    """order, refund, adjustment, reserve, transfer, fee or other."""
    component: Mapped[str] = mapped_column(String(16))
    """principal, tax, shipping, shipping_tax, promotion, fee, withheld_tax or other."""
    amount_type: Mapped[str] = mapped_column(String(64), default="")
    amount_description: Mapped[str] = mapped_column(String(128), default="")
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    order_id: Mapped[str | None] = mapped_column(String(64))
    merchant_order_id: Mapped[str | None] = mapped_column(String(64))
    adjustment_id: Mapped[str | None] = mapped_column(String(64))
    shipment_id: Mapped[str | None] = mapped_column(String(64))
    order_item_code: Mapped[str | None] = mapped_column(String(64))
    sku: Mapped[str | None] = mapped_column(String(64))
    quantity: Mapped[int | None] = mapped_column(Integer)
    posted_at: Mapped[datetime | None]
    promotion_id: Mapped[str | None] = mapped_column(String(128))
    marketplace_order_pk: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("marketplace_orders.id", ondelete="SET NULL")
    )

    __table_args__ = (
        Index("ix_settlement_lines_settlement_pk", "settlement_pk"),
        Index("ix_settlement_lines_order_id", "order_id"),
        Index("ix_settlement_lines_marketplace_order_pk", "marketplace_order_pk"),
    )


class SettlementImportState(Base):
    """The scheduled import per channel account: the getReports checkpoint and last outcome."""

    __tablename__ = "settlement_import_state"
    account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id"), primary_key=True)
    checkpoint: Mapped[datetime | None]
    """createdSince of the next getReports call (the newest report seen, minus an overlap)."""
    last_run_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    reports_seen: Mapped[int] = mapped_column(Integer, default=0)
    settlements_imported: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
