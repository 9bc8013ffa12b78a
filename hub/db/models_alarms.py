"""Alarm tables: alarms with their lifecycle, and the rules with thresholds the evaluator uses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models import Base
from hub.db.types import BigIntPK


class Alarm(Base):
    """One alarm: opened by a rule or a component, acknowledged and resolved by HQ, or cleared.

    ``open_key`` is ``"<kind>|<key>"`` while the alarm is open (open or acknowledged) and NULL
    once it is resolved or cleared; its unique index makes "one open alarm per (kind, key)"
    hold on SQLite and PostgreSQL alike (both allow many NULLs in a unique index).
    """

    __tablename__ = "alarms"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200))
    open_key: Mapped[str | None] = mapped_column(String(240), unique=True)
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    raised_count: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime]
    last_raised_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    acknowledged_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_alarms_status_opened", "status", "opened_at"),
        Index("ix_alarms_kind_key", "kind", "key"),
    )


class AlarmRule(Base):
    """A rule of the periodic evaluator: on or off, its threshold and the severity it raises."""

    __tablename__ = "alarm_rules"
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    threshold: Mapped[int] = mapped_column(Integer, default=0)
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    updated_at: Mapped[datetime | None]
    updated_by: Mapped[str | None] = mapped_column(String(100))
