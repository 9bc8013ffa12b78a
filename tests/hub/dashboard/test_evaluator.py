"""The alarm evaluator on SQLite and PostgreSQL: store offline, sync lag, negative stock and
dead letters are raised from real ingest state and cleared when the condition is gone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from hub import alarms
from hub.alarm_evaluator import AlarmEvaluator, evaluate_once
from hub.db.deadletters import discard_dead_letter
from hub.db.models import DeadLetter
from hub.ingest.apply import BatchApplier, InboundMessage
from protocol import topics
from protocol.codec import encode, encode_batch
from tests.hub import events as ev
from tests.hub.conftest import NOW


def _status(sessions: sessionmaker[Session], store: str, message: object, at: object) -> None:
    BatchApplier(sessions, clock=lambda: at).apply(  # type: ignore[arg-type,return-value]
        [InboundMessage(topics.up_status(store), encode(message))]  # type: ignore[arg-type]
    )


def _events(sessions: sessionmaker[Session], store: str, events: list) -> None:  # type: ignore[type-arg]
    BatchApplier(sessions, clock=lambda: NOW).apply(
        [InboundMessage(topics.up_events(store), encode_batch(events))]
    )


def _open(sessions: sessionmaker[Session]) -> set[tuple[str, str]]:
    with sessions() as s:
        return {(a.kind, a.key) for a in alarms.open_alarms(s)}


def _evaluate(sessions: sessionmaker[Session], minutes: float) -> None:
    with sessions.begin() as s:
        evaluate_once(s, now=NOW + timedelta(minutes=minutes))


def test_store_offline_and_sync_lag_raise_then_clear(sessions: sessionmaker[Session]) -> None:
    """GIVEN s-001 went offline with 3 events unsynced WHEN minutes pass THEN store_offline after
    10 min and sync_lag after 15 min; a new birth clears both. Stores never seen stay quiet."""
    _status(sessions, "s-001", ev.birth("s-001", 1), NOW - timedelta(minutes=1))
    _status(sessions, "s-001", ev.death("s-001", 1), NOW)
    _evaluate(sessions, 5)
    assert _open(sessions) == set()
    _evaluate(sessions, 11)
    assert _open(sessions) == {("store_offline", "s-001")}
    _evaluate(sessions, 16)
    assert _open(sessions) == {("store_offline", "s-001"), ("sync_lag", "s-001")}
    with sessions() as s:
        alarm = alarms.find_open(s, kind="store_offline", key="s-001")
        assert alarm is not None
        assert alarm.raised_count == 2  # refreshed, not duplicated
        assert alarm.severity == "critical"
    _status(sessions, "s-001", ev.birth("s-001", 2), NOW + timedelta(minutes=17))
    _evaluate(sessions, 17)
    assert _open(sessions) == set()
    with sessions() as s:
        assert {a.status for a in alarms.recent_closed(s)} == {"cleared"}


def test_rule_thresholds_and_switches_come_from_the_database(
    sessions: sessionmaker[Session],
) -> None:
    """A lowered threshold raises sooner; a switched-off rule raises nothing and clears."""
    _status(sessions, "s-002", ev.birth("s-002", 1), NOW - timedelta(minutes=1))
    _status(sessions, "s-002", ev.death("s-002", 1), NOW)
    with sessions.begin() as s:
        alarms.set_rule(
            s, "store_offline", enabled=True, threshold=2, severity="warning", by="t", now=NOW
        )
    _evaluate(sessions, 3)
    assert _open(sessions) == {("store_offline", "s-002")}
    with sessions.begin() as s:
        alarms.set_rule(
            s, "store_offline", enabled=False, threshold=2, severity="warning", by="t", now=NOW
        )
    _evaluate(sessions, 4)
    assert _open(sessions) == set()


def test_negative_stock_and_dead_letters(sessions: sessionmaker[Session]) -> None:
    """A sale below zero raises negative_stock until a count fixes it; an open dead letter
    raises dead_letters until it is handled."""
    _events(
        sessions, "s-001", [ev.counted("s-001", 1, "SKU-9", 1), ev.sale("s-001", 2, [("SKU-9", 3)])]
    )
    _events(sessions, "s-404", [ev.counted("s-404", 1, "SKU-9", 1)])  # unknown store
    _evaluate(sessions, 0)
    assert _open(sessions) == {("negative_stock", "s-001/SKU-9"), ("dead_letters", "all")}
    _events(sessions, "s-001", [ev.counted("s-001", 3, "SKU-9", 5)])
    with sessions.begin() as s:
        for letter in s.query(DeadLetter).all():
            discard_dead_letter(s, letter.id, now=NOW)
    _evaluate(sessions, 1)
    assert _open(sessions) == set()


def test_only_the_lease_holder_evaluates(sessions: sessionmaker[Session]) -> None:
    """Two hub workers: one evaluates, the other waits for the lease."""
    first = AlarmEvaluator(sessions, worker_id="a", interval_s=1, lease_ttl_s=15, clock=lambda: NOW)
    second = AlarmEvaluator(
        sessions, worker_id="b", interval_s=1, lease_ttl_s=15, clock=lambda: NOW
    )
    assert first.tick() is True
    assert second.tick() is False
    first.stop()  # releases the lease
    assert second.tick() is True
