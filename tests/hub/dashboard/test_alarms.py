"""The alarms service on SQLite and PostgreSQL: idempotent raise/clear, acknowledge, resolve."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hub import alarms
from hub.db.models_alarms import Alarm
from tests.hub.conftest import NOW


def test_raise_is_idempotent_per_open_kind_and_key(sessions: sessionmaker[Session]) -> None:
    """GIVEN an open alarm WHEN the same (kind, key) is raised again THEN it is refreshed."""
    with sessions.begin() as s:
        first = alarms.raise_alarm(s, kind="store_offline", key="s-001", message="off", now=NOW)
        again = alarms.raise_alarm(
            s,
            kind="store_offline",
            key="s-001",
            message="off 12 min",
            severity="critical",
            now=NOW + timedelta(minutes=2),
        )
        other = alarms.raise_alarm(s, kind="store_offline", key="s-002", message="off", now=NOW)
        assert first.id == again.id != other.id
        assert again.raised_count == 2
        assert again.severity == "critical"
        assert again.message == "off 12 min"
        assert again.updated_at == NOW + timedelta(minutes=2)
    with sessions.begin() as s:
        assert s.scalar(select(func.count()).select_from(Alarm)) == 2


def test_refresh_without_change_keeps_updated_at(sessions: sessionmaker[Session]) -> None:
    """The live stream keys on updated_at: a mere re-raise must not move it."""
    with sessions.begin() as s:
        alarms.raise_alarm(s, kind="sync_lag", key="s-001", message="lag", now=NOW)
        again = alarms.raise_alarm(
            s, kind="sync_lag", key="s-001", message="lag", now=NOW + timedelta(minutes=1)
        )
        assert again.updated_at == NOW
        assert again.last_raised_at == NOW + timedelta(minutes=1)


def test_clear_closes_and_a_new_raise_opens_a_new_alarm(sessions: sessionmaker[Session]) -> None:
    """Clearing closes the open alarm; the next raise of the same (kind, key) is a new alarm."""
    with sessions.begin() as s:
        first = alarms.raise_alarm(s, kind="dead_letters", key="all", message="3", now=NOW)
        assert alarms.clear_alarm(s, kind="dead_letters", key="all", now=NOW) is True
        assert alarms.clear_alarm(s, kind="dead_letters", key="all", now=NOW) is False
        second = alarms.raise_alarm(s, kind="dead_letters", key="all", message="4", now=NOW)
        assert second.id != first.id
        assert first.status == "cleared"
        assert first.open_key is None


def test_acknowledge_and_resolve_record_who_and_when(sessions: sessionmaker[Session]) -> None:
    """Acknowledged alarms stay open (a raise refreshes them); resolved ones are closed."""
    later = NOW + timedelta(minutes=5)
    with sessions.begin() as s:
        alarm = alarms.raise_alarm(s, kind="oversell", key="A-1", message="x", now=NOW)
        alarms.acknowledge(s, alarm.id, by="alice", now=later, note="calling the store")
        refreshed = alarms.raise_alarm(s, kind="oversell", key="A-1", message="x", now=later)
        assert refreshed.id == alarm.id
        assert refreshed.status == "acknowledged"
        assert (refreshed.acknowledged_by, refreshed.acknowledged_at) == ("alice", later)
        with pytest.raises(alarms.AlarmError):
            alarms.acknowledge(s, alarm.id, by="bob", now=later)
        alarms.resolve(s, alarm.id, by="bob", now=later)
        assert (alarm.status, alarm.resolved_by, alarm.resolved_at) == ("resolved", "bob", later)
        with pytest.raises(alarms.AlarmError):
            alarms.resolve(s, alarm.id, by="bob", now=later)
        assert [a.id for a in alarms.open_alarms(s)] == []
        assert [a.id for a in alarms.recent_closed(s)] == [alarm.id]


def test_rules_default_and_overrides(sessions: sessionmaker[Session]) -> None:
    """Rules come with defaults; a change records who and when and is read back."""
    with sessions.begin() as s:
        assert alarms.rule(s, "store_offline").threshold == 10
        alarms.set_rule(
            s, "store_offline", enabled=True, threshold=3, severity="critical", by="alice", now=NOW
        )
    with sessions.begin() as s:
        changed = alarms.rule(s, "store_offline")
        assert (changed.threshold, changed.updated_by) == (3, "alice")
        with pytest.raises(alarms.AlarmError):
            alarms.set_rule(
                s, "nope", enabled=True, threshold=1, severity="info", by="alice", now=NOW
            )
