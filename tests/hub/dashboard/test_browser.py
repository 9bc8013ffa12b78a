"""The dashboard in headless Chromium against a real hub (uvicorn, ingest worker, Mosquitto):
sign in, a store's agent dies and its tile turns offline without a reload while an alarm
appears, acknowledge it, export a CSV, and a viewer is kept out of the admin pages.
Each page's screenshot goes to artifacts/screenshots/ (git-ignored) for people to look at."""

from __future__ import annotations

import csv
import shutil
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from hub import alarms
from hub.app import create_app
from hub.config import HubSettings
from hub.dashboard.users import create_user
from hub.db import stock as stock_db
from hub.db import stores
from hub.db.engine import make_engine, make_sessionmaker
from hub.db.models import StoreStatus
from hub.ingest.apply import BatchApplier, InboundMessage
from hub.ingest.worker import IngestWorker
from protocol import topics
from protocol.codec import encode, encode_batch
from tests.fixtures.brokers import BrokerInfo
from tests.fixtures.mqtt import Will, mqtt_client
from tests.fixtures.util import free_port, wait_until
from tests.hub import events as ev
from tests.routing_e2e.helpers import make_account, make_order

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SHOTS = Path(__file__).resolve().parents[3] / "artifacts" / "screenshots"
PASSWORD = "correct horse battery"
TIMEOUT_MS = 20_000


class Hub:
    """A hub served by uvicorn on 127.0.0.1 in a thread, with its ingest worker and evaluator."""

    def __init__(self, url: str, sessions: sessionmaker[Session], base: str) -> None:
        self.url = url
        self.sessions = sessions
        self.base = base


@pytest.fixture
def hub(hub_sqlite_template: Path, tmp_path: Path, mosquitto_private: BrokerInfo) -> Iterator[Hub]:
    """A migrated SQLite hub with two stores, stock, an admin and a viewer; served over HTTP."""
    shutil.copyfile(hub_sqlite_template, tmp_path / "hub.db")
    url = f"sqlite:///{tmp_path}/hub.db"
    now = datetime.now(UTC)
    engine = make_engine(url, writer=True)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as s:
        for store_id, name in (("s-001", "Berlin Mitte"), ("s-002", "Hamburg")):
            stores.create_store(
                s, store_id=store_id, name=name, timezone="Europe/Berlin", currency="EUR", now=now
            )
        stores.create_warehouse(s, location_id="w-001", name="Central warehouse", now=now)
        stock_db.set_stock(s, "w-001", [("SKU-1", 12), ("SKU-2", 4)], now=now)
        admin = create_user(
            s, username="admin", password=PASSWORD, roles="admin", now=now, display_name="Ada Admin"
        )
        create_user(s, username="viewer", password=PASSWORD, roles="viewer", now=now)
        assert admin.id
        # Raise store_offline as soon as a store goes away (the default waits 10 minutes).
        alarms.set_rule(
            s, "store_offline", enabled=True, threshold=0, severity="critical", by="test", now=now
        )
    # Real ingest of a count and two sales at s-001, and two imported marketplace orders,
    # so the overview, reports and orders pages have something to show.
    BatchApplier(sessions, clock=lambda: now).apply(
        [
            InboundMessage(
                topics.up_events("s-001"),
                encode_batch(
                    [
                        ev.counted("s-001", 1, "SKU-1", 20),
                        ev.sale("s-001", 2, [("SKU-1", 2)]),
                        ev.sale("s-001", 3, [("SKU-1", 1)]),
                    ]
                ),
            )
        ]
    )
    with sessions.begin() as s:
        account = make_account(s, now=now)
        make_order(s, account.id, "302-1111111-1111111", [("SKU-1", 1)], now=now)
        make_order(
            s, account.id, "302-2222222-2222222", [("SKU-2", 1)], now=now, state="manual_review"
        )
    settings = HubSettings(
        database_url=url,
        mqtt_host=mosquitto_private.host,
        mqtt_port=mosquitto_private.port,
        mqtt_username="hub",
        mqtt_password=mosquitto_private.users["hub"],
        worker_id=f"w-{uuid.uuid4().hex[:8]}",
        scheduler_interval_s=0.2,
        alarm_interval_s=0.3,
    )
    worker = IngestWorker(settings, sessions)
    app = create_app(settings, engine=engine, worker=worker)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=20, message="uvicorn started")
    try:
        yield Hub(url, sessions, f"http://127.0.0.1:{port}")
    finally:
        app.state.dashboard_stopping.set()  # end open live streams, so uvicorn can stop
        server.should_exit = True
        thread.join(timeout=20)
        assert not thread.is_alive(), "uvicorn did not stop"
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (no `playwright install`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot for people to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, base: str, username: str) -> None:
    """Sign in through the form."""
    page.goto(f"{base}/dashboard")
    page.wait_for_url("**/dashboard/login**")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/dashboard")


def test_live_store_offline_alarm_acknowledge_export_and_roles(
    hub: Hub, browser: Any, mosquitto_private: BrokerInfo, tmp_path: Path
) -> None:
    """GIVEN a store online WHEN its agent dies THEN its tile turns offline without a reload and
    a store_offline alarm appears; HQ acknowledges it; a CSV export has the ledger's rows; a
    viewer cannot reach the admin pages."""
    will = Will(topics.up_status("s-001"), encode(ev.death("s-001", 1)), qos=1)
    with mqtt_client(mosquitto_private, "s-001", will=will) as agent:
        agent.publish(topics.up_status("s-001"), encode(ev.birth("s-001", 1)), qos=1)

        def online() -> bool:
            with hub.sessions() as s:
                row = s.get(StoreStatus, "s-001")
                return bool(row and row.online)

        wait_until(online, timeout=15, message="s-001 online at the hub")

        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        page = context.new_page()
        sign_in(page, hub.base, "admin")
        tile = page.locator('#store-tiles [data-store-id="s-001"]')
        assert "online" in (tile.get_attribute("class") or "")
        page.wait_for_function("document.getElementById('live').classList.contains('on')")
        shot(page, "01-overview-online")

        agent.abort()  # no DISCONNECT: the broker publishes the Last Will
        page.wait_for_selector('#store-tiles [data-store-id="s-001"].offline', timeout=TIMEOUT_MS)
        row = page.locator('#open-alarms tr[data-kind="store_offline"][data-key="s-001"]')
        row.wait_for(timeout=TIMEOUT_MS)
        assert page.locator("#alarm-count").inner_text() == "1"
        assert "Berlin Mitte" in row.inner_text()
        shot(page, "02-overview-offline-alarm")

    row.locator("button.ack").click()
    page.wait_for_url(f"{hub.base}/dashboard")
    acknowledged = page.locator('#open-alarms tr[data-kind="store_offline"][data-key="s-001"]')
    assert "acknowledged" in acknowledged.inner_text()
    assert "by admin" in acknowledged.inner_text()
    with hub.sessions() as s:
        alarm = alarms.find_open(s, kind="store_offline", key="s-001")
        assert alarm is not None
        assert (alarm.status, alarm.acknowledged_by) == ("acknowledged", "admin")

    page.goto(f"{hub.base}/dashboard/stock?sku=SKU-1")
    with page.expect_download() as download_info:
        page.click("text=All stock as CSV")
    target = tmp_path / "stock.csv"
    download_info.value.save_as(str(target))
    with target.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["location"], r["sku"], r["on_hand"], r["sellable"]) for r in rows] == [
        ("s-001", "SKU-1", "17", "17"),  # counted 20, sold 2 and 1 through ingest
        ("w-001", "SKU-1", "12", "12"),
        ("w-001", "SKU-2", "4", "4"),
    ]
    shot(page, "03-stock")

    pages = {
        "04-store": "/dashboard/stores/s-001",
        "05-orders": "/dashboard/orders",
        "06-channels": "/dashboard/channels",
        "07-alarms": "/dashboard/alarms",
        "08-reports": "/dashboard/reports",
        "08b-finance": "/dashboard/finance",
        "09-dead-letters": "/dashboard/dead-letters",
        "10-users": "/dashboard/admin/users",
        "11-audit": "/dashboard/admin/audit",
    }
    for name, path in pages.items():
        response = page.goto(hub.base + path)
        assert response is not None, path
        assert response.status == 200, path
        shot(page, name)
    assert page.locator("#audit").inner_text().count("alarm.acknowledge") == 1
    context.close()

    viewer = browser.new_context(viewport={"width": 1280, "height": 700})
    vpage = viewer.new_page()
    sign_in(vpage, hub.base, "viewer")
    assert vpage.locator('a[href="/dashboard/admin/users"]').count() == 0
    assert vpage.locator("button.ack").count() == 0  # no alarm actions for a viewer
    refused = vpage.goto(f"{hub.base}/dashboard/admin/users")
    assert refused is not None
    assert refused.status == 403
    assert "does not allow" in vpage.locator("#error-message").inner_text()
    shot(vpage, "12-viewer-refused")
    viewer.close()
