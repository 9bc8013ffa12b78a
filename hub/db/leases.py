"""Named leases in the database: one hub worker at a time runs the singleton jobs.

Works on SQLite and PostgreSQL alike: a single UPDATE ... WHERE (expired or mine)
is atomic on both, so two workers can never both hold a live lease.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from hub.db.models import Lease
from hub.db.util import insert_for


def try_acquire(session: Session, name: str, *, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the lease ``name`` for ``holder``; True when held until now + ttl."""
    session.execute(
        insert_for(session, Lease)
        .values(name=name, holder=holder, expires_at=now - timedelta(seconds=1))
        .on_conflict_do_nothing()
    )
    result = session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
        .values(holder=holder, expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release(session: Session, name: str, *, holder: str, now: datetime) -> None:
    """Give the lease up early (clean shutdown)."""
    session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.holder == holder)
        .values(expires_at=now - timedelta(seconds=1))
        .execution_options(synchronize_session=False)
    )
