"""Overview and report figures from real ingest on SQLite and PostgreSQL: today against the same
weekday last week by store and channel, the daily trend, top sellers, turnover, sell-through."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from hub.dashboard import data
from hub.ingest.apply import BatchApplier, InboundMessage
from protocol import topics
from protocol.codec import encode_batch
from tests.hub import events as ev
from tests.hub.conftest import NOW


def _sale_on(store: str, seq: int, day: str, qty: int) -> object:
    env = ev.sale(store, seq, [("SKU-1", qty)])
    return env.model_copy(update={"body": {**env.body, "business_day": day}})


def test_overview_and_reports(sessions: sessionmaker[Session]) -> None:
    """GIVEN s-001 sold 3 units today and 1 on the same weekday last week, and counted 6 left
    THEN the overview and the reports show exactly those figures."""
    events = [
        ev.counted("s-001", 1, "SKU-1", 10),
        _sale_on("s-001", 2, "2026-11-27", 3),
        _sale_on("s-001", 3, "2026-11-20", 1),
    ]
    result = BatchApplier(sessions, clock=lambda: NOW).apply(
        [InboundMessage(topics.up_events("s-001"), encode_batch(events))]  # type: ignore[arg-type]
    )
    assert result.dead_letters == 0
    with sessions() as s:
        view = data.overview(s, NOW)
        tile = next(t for t in view.tiles if t.store_id == "s-001")
        assert tile.today == date(2026, 11, 27)
        assert (tile.sales_today_minor, tile.sales_last_week_minor) == (300, 100)
        assert [(c.channel, c.today_minor, c.last_week_minor) for c in view.channels] == [
            ("store", 300, 100)
        ]
        assert view.totals == {"EUR": (300, 100)}
        report = data.reports(
            s, currency="EUR", day_from=date(2026, 11, 20), day_to=date(2026, 11, 27)
        )
    assert len(report.trend) == 8
    assert report.trend[0] == (date(2026, 11, 20), 100, 1)
    assert report.trend[-1] == (date(2026, 11, 27), 300, 3)
    assert report.top == [("SKU-1", None, 4, 400)]
    # on hand: counted 10, minus 4 sold = 6
    assert report.turnover == [("SKU-1", 4, 6, 0.67)]
    assert report.sell_through == [("s-001", "store", 4, 6, 40.0)]
    assert report.other_currencies == []
