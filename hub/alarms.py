"""The alarms service: open, refresh, clear, acknowledge and resolve alarms.

Any hub component raises an alarm with ``raise_alarm`` and clears it with ``clear_alarm``
when the condition is gone; both are idempotent per open (kind, key), so a component can
call them on every pass. HQ staff acknowledge ("someone is on it") and resolve alarms from
the dashboard; each records who and when. An alarm resolved by hand while its condition
persists is opened again by the next ``raise_alarm``.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.db.models_alarms import Alarm, AlarmRule
from hub.db.util import insert_for

_LOGGER = logging.getLogger(__name__)

SEVERITIES = ("info", "warning", "critical")
OPEN_STATES = ("open", "acknowledged")


class AlarmStatus(enum.StrEnum):
    """Where an alarm is in its life."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLEARED = "cleared"


class AlarmError(Exception):
    """An alarm action the alarm's state does not allow, or an unknown alarm."""


@dataclass(frozen=True, slots=True)
class RuleDefault:
    """A built-in rule: what it watches, its default threshold and unit, its severity, and who
    raises it (``evaluator`` reads the threshold; components apply their own)."""

    kind: str
    title: str
    threshold: int
    unit: str
    severity: str
    raised_by: str = "evaluator"

    @property
    def evaluated(self) -> bool:
        """True when the hub's periodic evaluator raises and clears it with this threshold."""
        return self.raised_by == "evaluator"


DEFAULT_RULES: tuple[RuleDefault, ...] = (
    RuleDefault("store_offline", "Store offline longer than", 10, "minutes", "critical"),
    RuleDefault("sync_lag", "Oldest unsynced event older than", 15, "minutes", "warning"),
    RuleDefault("negative_stock", "Stock on hand below minus", 0, "units", "warning"),
    RuleDefault("dead_letters", "Open dead letters more than", 0, "letters", "warning"),
    RuleDefault(
        "oversell",
        "Marketplace order for stock we no longer have",
        0,
        "",
        "critical",
        "channel worker",
    ),
    RuleDefault(
        "channel_auth", "Channel authentication failure", 0, "", "critical", "channel worker"
    ),
    RuleDefault("import_lag", "Channel order import lagging", 0, "", "warning", "channel worker"),
    RuleDefault("feed_errors", "Channel feed errors", 0, "", "warning", "channel worker"),
    RuleDefault("unroutable_order", "Order that cannot be routed", 0, "", "warning", "routing"),
    RuleDefault("printer_offline", "Store printer offline", 0, "", "info", "store agent"),
    RuleDefault(
        "settlement_mismatch",
        "Settlement rows do not add up to its total",
        0,
        "",
        "warning",
        "settlement import",
    ),
    RuleDefault(
        "settlement_import", "Scheduled settlement import failing", 0, "", "warning", "finance"
    ),
)
RULES_BY_KIND = {rule.kind: rule for rule in DEFAULT_RULES}


def _open_key(kind: str, key: str) -> str:
    return f"{kind}|{key}"


def _check(kind: str, severity: str) -> None:
    if not kind or len(kind) > 32:
        raise ValueError(f"alarm kind must be 1..32 characters, got {kind!r}")
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}; one of {', '.join(SEVERITIES)}")


def find_open(session: Session, *, kind: str, key: str) -> Alarm | None:
    """The open (or acknowledged) alarm for (kind, key), if any."""
    return session.scalars(select(Alarm).where(Alarm.open_key == _open_key(kind, key))).first()


def raise_alarm(
    session: Session,
    *,
    kind: str,
    key: str,
    message: str,
    severity: str = "warning",
    now: datetime,
) -> Alarm:
    """Open an alarm, or refresh the open one with the same (kind, key); idempotent.

    A refresh keeps the acknowledgement, counts the raise and updates message and
    severity; ``updated_at`` moves only when what a person sees changes, so the
    dashboard's live stream stays quiet while a condition merely persists.
    """
    _check(kind, severity)
    open_key = _open_key(kind, key)
    alarm = find_open(session, kind=kind, key=key)
    if alarm is None:
        inserted = session.execute(
            insert_for(session, Alarm)
            .values(
                kind=kind,
                key=key,
                open_key=open_key,
                severity=severity,
                message=message,
                status=AlarmStatus.OPEN.value,
                raised_count=1,
                opened_at=now,
                last_raised_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["open_key"])
        )
        alarm = find_open(session, kind=kind, key=key)
        if alarm is None:  # pragma: no cover - the row was just inserted or exists
            raise AlarmError(f"alarm {open_key!r} vanished while being raised")
        if inserted.rowcount:  # type: ignore[attr-defined]
            _LOGGER.info("alarm opened: %s %s (%s)", kind, key, severity)
            return alarm
    changed = alarm.message != message or alarm.severity != severity
    alarm.message = message
    alarm.severity = severity
    alarm.raised_count += 1
    alarm.last_raised_at = now
    if changed:
        alarm.updated_at = now
    session.flush()
    return alarm


def clear_alarm(session: Session, *, kind: str, key: str, now: datetime) -> bool:
    """Close the open alarm for (kind, key) because its condition is gone; False if none."""
    alarm = find_open(session, kind=kind, key=key)
    if alarm is None:
        return False
    alarm.status = AlarmStatus.CLEARED.value
    alarm.open_key = None
    alarm.resolved_at = now
    alarm.updated_at = now
    session.flush()
    _LOGGER.info("alarm cleared: %s %s", kind, key)
    return True


def _get(session: Session, alarm_id: int) -> Alarm:
    alarm = session.get(Alarm, alarm_id)
    if alarm is None:
        raise AlarmError(f"no alarm {alarm_id}")
    return alarm


def acknowledge(
    session: Session, alarm_id: int, *, by: str, now: datetime, note: str | None = None
) -> Alarm:
    """Mark an open alarm as being looked after by ``by``."""
    alarm = _get(session, alarm_id)
    if alarm.status != AlarmStatus.OPEN.value:
        raise AlarmError(f"alarm {alarm_id} is {alarm.status}, only open alarms are acknowledged")
    alarm.status = AlarmStatus.ACKNOWLEDGED.value
    alarm.acknowledged_by = by
    alarm.acknowledged_at = now
    alarm.updated_at = now
    if note:
        alarm.note = note
    session.flush()
    return alarm


def resolve(
    session: Session, alarm_id: int, *, by: str, now: datetime, note: str | None = None
) -> Alarm:
    """Close an open or acknowledged alarm by hand, recording who and when."""
    alarm = _get(session, alarm_id)
    if alarm.status not in OPEN_STATES:
        raise AlarmError(f"alarm {alarm_id} is {alarm.status} already")
    alarm.status = AlarmStatus.RESOLVED.value
    alarm.open_key = None
    alarm.resolved_by = by
    alarm.resolved_at = now
    alarm.updated_at = now
    if note:
        alarm.note = note
    session.flush()
    return alarm


def open_alarms(session: Session, *, limit: int = 500) -> list[Alarm]:
    """Open and acknowledged alarms, the most severe and newest first."""
    rank = {"critical": 0, "warning": 1, "info": 2}
    rows = list(
        session.scalars(
            select(Alarm)
            .where(Alarm.status.in_(OPEN_STATES))
            .order_by(Alarm.opened_at.desc())
            .limit(limit)
        )
    )
    return sorted(rows, key=lambda a: rank.get(a.severity, 3))


def recent_closed(session: Session, *, limit: int = 100) -> list[Alarm]:
    """Resolved and cleared alarms, newest first."""
    return list(
        session.scalars(
            select(Alarm)
            .where(Alarm.status.not_in(OPEN_STATES))
            .order_by(Alarm.updated_at.desc(), Alarm.id.desc())
            .limit(limit)
        )
    )


def fingerprint(session: Session) -> tuple[int, str]:
    """(open count, latest change) — changes whenever an alarm opens, changes or closes."""
    count = session.scalar(select(func.count()).where(Alarm.status.in_(OPEN_STATES))) or 0
    latest = session.scalar(select(func.max(Alarm.updated_at)))
    return int(count), "" if latest is None else str(latest)


# --- rules ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule as configured: the default overlaid with the row in ``alarm_rules``."""

    kind: str
    title: str
    unit: str
    raised_by: str
    enabled: bool
    threshold: int
    severity: str
    updated_by: str | None
    updated_at: datetime | None


def rules(session: Session) -> list[Rule]:
    """Every built-in rule with its configured threshold, severity and switch."""
    rows = {row.kind: row for row in session.scalars(select(AlarmRule))}
    result = []
    for default in DEFAULT_RULES:
        row = rows.get(default.kind)
        result.append(
            Rule(
                kind=default.kind,
                title=default.title,
                unit=default.unit,
                raised_by=default.raised_by,
                enabled=True if row is None else row.enabled,
                threshold=default.threshold if row is None else row.threshold,
                severity=default.severity if row is None else row.severity,
                updated_by=None if row is None else row.updated_by,
                updated_at=None if row is None else row.updated_at,
            )
        )
    return result


def rule(session: Session, kind: str) -> Rule:
    """One rule by kind."""
    for item in rules(session):
        if item.kind == kind:
            return item
    raise AlarmError(f"unknown alarm rule {kind!r}")


def set_rule(
    session: Session,
    kind: str,
    *,
    enabled: bool,
    threshold: int,
    severity: str,
    by: str,
    now: datetime,
) -> Rule:
    """Change a rule's switch, threshold and severity, recording who and when."""
    if kind not in RULES_BY_KIND:
        raise AlarmError(f"unknown alarm rule {kind!r}")
    if not RULES_BY_KIND[kind].evaluated:
        raise AlarmError(f"{kind} is raised by the {RULES_BY_KIND[kind].raised_by}, not by a rule")
    _check(kind, severity)
    if threshold < 0:
        raise AlarmError("a threshold cannot be negative")
    row = session.get(AlarmRule, kind)
    if row is None:
        row = AlarmRule(kind=kind)
        session.add(row)
    row.enabled = enabled
    row.threshold = threshold
    row.severity = severity
    row.updated_by = by
    row.updated_at = now
    session.flush()
    return rule(session, kind)
