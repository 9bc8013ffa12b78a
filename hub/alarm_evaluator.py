"""The periodic alarm evaluator: store offline, sync lag, negative stock, open dead letters.

One hub worker at a time evaluates (the ``alarm-evaluator`` lease). Each pass reads the
thresholds from ``alarm_rules`` (defaults in ``hub.alarms.DEFAULT_RULES``), raises an
alarm for every condition that holds and clears the open alarms of its kinds whose
condition is gone. Channel, routing and printer alarms are raised by their components.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hub import alarms
from hub.db.models import DeadLetter, StockLevel, Store, StoreStatus
from hub.db.models_alarms import Alarm
from hub.leased_loop import LeasedLoop

_LOGGER = logging.getLogger(__name__)

LEASE_NAME = "alarm-evaluator"
EVALUATED_KINDS = ("store_offline", "sync_lag", "negative_stock", "dead_letters")
MAX_NEGATIVE_STOCK_ALARMS = 200


@dataclass(frozen=True, slots=True)
class Condition:
    """An alarm that should be open now."""

    kind: str
    key: str
    message: str
    severity: str


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """What the evaluator needs of a store's status row."""

    store_id: str
    name: str
    online: bool
    offline_since: datetime | None
    outbox_depth: int | None
    oldest_unsynced_age_s: float | None
    last_seen_at: datetime | None
    """When the hub last heard from the store (hub clock, so no clock skew)."""


def unsynced_age_s(health: StoreHealth, now: datetime) -> float | None:
    """Age of the store's oldest unsynced event now: reported age, plus the time since the
    report while the store is offline (its outbox cannot drain then)."""
    if not health.outbox_depth or health.oldest_unsynced_age_s is None:
        return None
    age = health.oldest_unsynced_age_s
    if not health.online and health.last_seen_at is not None:
        age += max(0.0, (now - health.last_seen_at).total_seconds())
    return age


def store_conditions(
    stores: list[StoreHealth], *, now: datetime, rules: dict[str, alarms.Rule]
) -> list[Condition]:
    """Store offline and sync lag conditions (pure)."""
    out: list[Condition] = []
    offline = rules["store_offline"]
    lag = rules["sync_lag"]
    for s in stores:
        if offline.enabled and not s.online and s.offline_since is not None:
            minutes = (now - s.offline_since).total_seconds() / 60
            if minutes >= offline.threshold:
                out.append(
                    Condition(
                        "store_offline",
                        s.store_id,
                        f"{s.name} ({s.store_id}) offline since "
                        f"{s.offline_since:%Y-%m-%d %H:%M} UTC",
                        offline.severity,
                    )
                )
        age = unsynced_age_s(s, now)
        if lag.enabled and age is not None and age / 60 > lag.threshold:
            out.append(
                Condition(
                    "sync_lag",
                    s.store_id,
                    f"{s.name} ({s.store_id}): oldest unsynced event is older than "
                    f"{lag.threshold} min ({s.outbox_depth} waiting)",
                    lag.severity,
                )
            )
    return out


def _conditions(session: Session, now: datetime, rules: dict[str, alarms.Rule]) -> list[Condition]:
    rows = session.execute(
        select(Store.id, Store.name, StoreStatus)
        .join(StoreStatus, StoreStatus.store_id == Store.id)
        .where(Store.active.is_(True))
    ).all()
    healths = [
        StoreHealth(
            store_id,
            name,
            st.online,
            st.offline_since,
            st.outbox_depth,
            st.oldest_unsynced_age_s,
            st.last_seen_at,
        )
        for store_id, name, st in rows
    ]
    out = store_conditions(healths, now=now, rules=rules)
    negative = rules["negative_stock"]
    if negative.enabled:
        for loc, sku, on_hand in session.execute(
            select(StockLevel.location_id, StockLevel.sku, StockLevel.on_hand)
            .where(StockLevel.on_hand < -negative.threshold)
            .order_by(StockLevel.location_id, StockLevel.sku)
            .limit(MAX_NEGATIVE_STOCK_ALARMS)
        ):
            out.append(
                Condition(
                    "negative_stock",
                    f"{loc}/{sku}",
                    f"{sku} at {loc}: on hand {on_hand}",
                    negative.severity,
                )
            )
    dead = rules["dead_letters"]
    if dead.enabled:
        n = int(session.scalar(select(func.count()).where(DeadLetter.status == "open")) or 0)
        if n > dead.threshold:
            out.append(
                Condition(
                    "dead_letters", "all", f"{n} open dead letter(s) need a look", dead.severity
                )
            )
    return out


def evaluate_once(session: Session, *, now: datetime) -> tuple[int, int]:
    """One pass: raise what holds, clear what no longer does; returns (raised, cleared)."""
    rules = {r.kind: r for r in alarms.rules(session)}
    conditions = _conditions(session, now, rules)
    for c in conditions:
        alarms.raise_alarm(
            session, kind=c.kind, key=c.key, message=c.message, severity=c.severity, now=now
        )
    holding = {(c.kind, c.key) for c in conditions}
    cleared = 0
    for kind, key in session.execute(
        select(Alarm.kind, Alarm.key).where(
            Alarm.kind.in_(EVALUATED_KINDS), Alarm.status.in_(alarms.OPEN_STATES)
        )
    ).all():
        if (kind, key) not in holding:
            cleared += alarms.clear_alarm(session, kind=kind, key=key, now=now)
    return len(conditions), cleared


class AlarmEvaluator:
    """A thread that evaluates the alarm rules every ``interval_s`` while it holds the lease."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        worker_id: str,
        interval_s: float,
        lease_ttl_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._lease = LeasedLoop(
            sessions,
            lease=LEASE_NAME,
            holder=worker_id,
            ttl_s=max(lease_ttl_s, interval_s * 3),
            tick_s=interval_s,
            clock=clock,
            work=self.tick,
            thread_name="alarm-evaluator",
        )

    def tick(self) -> bool:
        """Evaluate once if this worker holds the lease; True when it evaluated."""
        if not self._lease.hold():
            return False
        with self._sessions.begin() as session:
            evaluate_once(session, now=self._clock())
        return True

    def start(self) -> None:
        """Start the evaluator thread."""
        self._lease.start()

    def stop(self) -> None:
        """Stop the thread and give the lease up."""
        self._lease.stop(timeout=10)
