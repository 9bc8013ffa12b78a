"""Dashboard over HTTP on SQLite and PostgreSQL: every route refuses anonymous callers, sign-in
with lockout, session cookie flags, CSRF on every form, roles, audit log, CSV exports, alarms."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.routing import Mount

from hub import alarms
from hub.app import create_app
from hub.auth import Role
from hub.config import HubSettings
from hub.dashboard.users import MAX_FAILED_LOGINS
from hub.db import stock as stock_db
from hub.db import stores
from hub.db.models import DeadLetter, StockLevel
from hub.db.models_dashboard import AuditEntry, HqUser
from hub.db.tokens import create_token
from hub.ingest.apply import BatchApplier, InboundMessage
from protocol import topics
from protocol.codec import encode_batch
from tests.hub import events as ev
from tests.hub.conftest import NOW
from tests.hub.dashboard.conftest import PASSWORD, csrf_of, login_token, sign_in

SignedIn = Callable[[str], TestClient]
PUBLIC = {"/healthz", "/readyz", "/dashboard/login"}


def _all_routes(app: object) -> list[tuple[str, str]]:
    from fastapi.routing import iter_route_contexts

    out = []
    for rc in iter_route_contexts(app.routes):  # type: ignore[attr-defined]
        route = rc.original_route
        if isinstance(route, Mount):
            out.append((rc.path, "MOUNT"))
            continue
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                out.append((rc.path, method))
    return out


def test_every_route_refuses_an_anonymous_request(dashboard_app: TestClient) -> None:
    """GIVEN every route of the hub (API and dashboard) WHEN called with no credentials THEN 401,
    except the probes and the sign-in form; static files are public but hold no data."""
    checked = 0
    for path, method in _all_routes(dashboard_app.app):
        if method == "MOUNT":
            assert path == "/dashboard/static", path
            assert dashboard_app.get("/dashboard/static/app.css").status_code == 200
            continue
        if path in PUBLIC or path == "/api/v1/enroll":
            continue
        url = re.sub(r"\{[^}]+\}", "x1", path)
        for accept in ("text/html", "application/json"):
            answer = dashboard_app.request(method, url, headers={"accept": accept})
            assert answer.status_code == 401, f"{method} {path} ({accept}): {answer.status_code}"
            assert "acorn_hq_session" not in answer.headers.get("set-cookie", "")
        if path.startswith("/dashboard"):
            checked += 1
    assert checked >= 20, "the enumeration found the dashboard routes"
    browser = dashboard_app.get("/dashboard/alarms", headers={"accept": "text/html"})
    assert "/dashboard/login?next=/dashboard/alarms" in browser.text


def test_sign_in_sets_a_hardened_cookie_and_is_audited(
    dashboard_app: TestClient, users: sessionmaker[Session]
) -> None:
    """The session cookie is HttpOnly, SameSite and scoped; pages carry security headers."""
    token = login_token(dashboard_app)
    answer = dashboard_app.post(
        "/dashboard/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert "acorn_hq_session=" in cookie
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/dashboard" in cookie
    assert "secure" not in cookie.split("acorn_hq_login")[0]  # plain HTTP here
    page = dashboard_app.get("/dashboard")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    with users() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "login")).one()
        assert (entry.actor, entry.outcome) == ("admin", "ok")


def test_secure_cookie_behind_https(dashboard_app: TestClient) -> None:
    """Behind a TLS proxy (X-Forwarded-Proto: https) the cookie is Secure."""
    token = login_token(dashboard_app)
    answer = dashboard_app.post(
        "/dashboard/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token},
        headers={"x-forwarded-proto": "https"},
        follow_redirects=False,
    )
    session_cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith("acorn_hq_session=")
    )
    assert "secure" in session_cookie.lower()


def test_login_without_the_form_token_is_refused(
    dashboard_app: TestClient, users: sessionmaker[Session]
) -> None:
    """Login CSRF: a POST without the form's token does not sign in."""
    answer = dashboard_app.post(
        "/dashboard/login", data={"username": "admin", "password": PASSWORD}, follow_redirects=False
    )
    assert answer.status_code == 200
    assert "The form expired" in answer.text
    assert "acorn_hq_session" not in answer.headers.get("set-cookie", "")


def test_lockout_after_repeated_failures(
    dashboard_app: TestClient, users: sessionmaker[Session]
) -> None:
    """GIVEN five wrong passwords THEN even the right one is refused until the lock expires."""
    for _ in range(MAX_FAILED_LOGINS):
        token = login_token(dashboard_app)
        answer = dashboard_app.post(
            "/dashboard/login",
            data={"username": "hq", "password": "wrong password", "csrf_token": token},
        )
        assert "Wrong user name or password" in answer.text or "locked" in answer.text
    token = login_token(dashboard_app)
    answer = dashboard_app.post(
        "/dashboard/login",
        data={"username": "hq", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 200
    assert "locked" in answer.text
    with users.begin() as s:
        user = s.scalars(select(HqUser).where(HqUser.username == "hq")).one()
        assert user.locked_until is not None
        user.locked_until = datetime.now(UTC) - timedelta(minutes=1)  # the lock has run out
        refused = s.scalars(
            select(AuditEntry).where(AuditEntry.actor == "hq", AuditEntry.outcome == "refused")
        ).all()
        assert len(refused) == MAX_FAILED_LOGINS + 1
    sign_in(dashboard_app, "hq")
    assert dashboard_app.get("/dashboard").status_code == 200


def test_failed_sign_ins_are_limited_per_address(
    hub_engine: Engine, users: sessionmaker[Session]
) -> None:
    """GIVEN failures spread over many accounts from one address THEN that address must wait,
    even with a right password, while the accounts themselves are not locked."""
    settings = HubSettings(
        database_url=str(hub_engine.url),
        ingest_enabled=False,
        alarms_enabled=False,
        login_failures_per_ip=3,
    )
    with TestClient(create_app(settings, engine=hub_engine)) as client:
        for role in ("hq", "viewer", "tech"):
            token = login_token(client)
            answer = client.post(
                "/dashboard/login",
                data={"username": role, "password": "wrong password", "csrf_token": token},
            )
            assert answer.status_code == 200
            assert "Wrong user name or password" in answer.text
        token = login_token(client)
        answer = client.post(
            "/dashboard/login",
            data={"username": "admin", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert answer.status_code == 429
        assert "Too many failed sign-ins from this address" in answer.text
    with users.begin() as s:
        locked = s.scalars(select(HqUser).where(HqUser.locked_until.is_not(None))).all()
        assert locked == []


def test_roles_gate_pages_and_actions(client_for: SignedIn) -> None:
    """A viewer sees the operational pages but not admin pages, exports or alarm actions."""
    viewer = client_for("viewer")
    assert viewer.get("/dashboard").status_code == 200
    assert viewer.get("/dashboard/reports").status_code == 200
    for path in (
        "/dashboard/admin/users",
        "/dashboard/admin/audit",
        "/dashboard/dead-letters",
        "/dashboard/export/stock.csv",
    ):
        answer = viewer.get(path, headers={"accept": "text/html"})
        assert answer.status_code == 403, path
        assert "does not allow" in answer.text
    assert 'href="/dashboard/admin/users"' not in viewer.get("/dashboard").text
    finance = client_for("finance")
    assert finance.get("/dashboard/export/sales.csv").status_code == 200
    assert finance.get("/dashboard/dead-letters").status_code == 403
    tech = client_for("tech")
    assert tech.get("/dashboard/dead-letters").status_code == 200
    assert tech.get("/dashboard/admin/audit").status_code == 403
    admin = client_for("admin")
    assert "viewer" in admin.get("/dashboard/admin/users").text


def test_api_tokens_share_the_role_checks(
    dashboard_app: TestClient, users: sessionmaker[Session]
) -> None:
    """An API token reaches the dashboard with its role (no cookie, so no CSRF token needed)."""
    with users.begin() as s:
        _, reader = create_token(s, name="r", roles=frozenset({Role.READER}), now=NOW)
        _, operator = create_token(s, name="o", roles=frozenset({Role.OPERATOR}), now=NOW)
        alarm = alarms.raise_alarm(s, kind="sync_lag", key="s-001", message="lag", now=NOW)
    as_reader = {"Authorization": f"Bearer {reader.plaintext}"}
    as_operator = {"Authorization": f"Bearer {operator.plaintext}"}
    assert dashboard_app.get("/dashboard", headers=as_reader).status_code == 200
    refused = dashboard_app.post(f"/dashboard/alarms/{alarm.id}/acknowledge", headers=as_reader)
    assert refused.status_code == 403
    done = dashboard_app.post(
        f"/dashboard/alarms/{alarm.id}/acknowledge", headers=as_operator, follow_redirects=False
    )
    assert done.status_code == 303
    with users() as s:
        assert alarms.find_open(s, kind="sync_lag", key="s-001").acknowledged_by == "o"  # type: ignore[union-attr]
        refusal = s.scalars(select(AuditEntry).where(AuditEntry.outcome == "refused")).one()
        assert refusal.actor == "r"


def test_forms_need_the_session_csrf_token(
    client_for: SignedIn, users: sessionmaker[Session]
) -> None:
    """GIVEN a signed-in HQ user WHEN a form arrives without its CSRF token THEN nothing changes."""
    with users.begin() as s:
        alarm = alarms.raise_alarm(s, kind="store_offline", key="s-002", message="off", now=NOW)
    hq = client_for("hq")
    forged = hq.post(f"/dashboard/alarms/{alarm.id}/acknowledge", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    missing = hq.post(f"/dashboard/alarms/{alarm.id}/resolve")
    assert missing.status_code == 403
    with users() as s:
        assert alarms.find_open(s, kind="store_offline", key="s-002").status == "open"  # type: ignore[union-attr]
    token = csrf_of(hq)
    ok = hq.post(
        f"/dashboard/alarms/{alarm.id}/acknowledge",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    resolved = hq.post(
        f"/dashboard/alarms/{alarm.id}/resolve", data={"csrf_token": token}, follow_redirects=False
    )
    assert resolved.status_code == 303
    with users() as s:
        closed = alarms.recent_closed(s)[0]
        assert (closed.acknowledged_by, closed.resolved_by) == ("hq", "hq")
        assert closed.status == "resolved"
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions[-2:] == ["alarm.acknowledge", "alarm.resolve"]
    # Signing out ends the session on the server: the old cookie is worthless afterwards.
    cookie = hq.cookies.get("acorn_hq_session")
    hq.post("/dashboard/logout", data={"csrf_token": token})
    stale = TestClient(hq.app, cookies={"acorn_hq_session": cookie or ""})
    assert stale.get("/dashboard").status_code == 401


def test_rule_change_is_recorded(client_for: SignedIn, users: sessionmaker[Session]) -> None:
    """An admin changes a threshold; who and when are on the rule; hq may not."""
    admin = client_for("admin")
    answer = admin.post(
        "/dashboard/alarms/rules/store_offline",
        data={
            "csrf_token": csrf_of(admin),
            "threshold": "3",
            "severity": "critical",
            "enabled": "on",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    with users() as s:
        rule = alarms.rule(s, "store_offline")
        assert (rule.threshold, rule.updated_by, rule.enabled) == (3, "admin", True)
    hq = client_for("hq")
    assert (
        hq.post(
            "/dashboard/alarms/rules/store_offline",
            data={"csrf_token": csrf_of(hq), "threshold": "1"},
        ).status_code
        == 403
    )


def test_stock_page_and_csv_exports(client_for: SignedIn, users: sessionmaker[Session]) -> None:
    """Stock at every location, and CSV exports whose rows match the ledger (formula-safe)."""
    with users.begin() as s:
        stores.create_warehouse(s, location_id="w-001", name="Warehouse", now=NOW)
        stock_db.set_stock(s, "w-001", [("SKU-1", 3), ("=CMD()", 1)], now=NOW)
    BatchApplier(users, clock=lambda: NOW).apply(
        [
            InboundMessage(
                topics.up_events("s-001"), encode_batch([ev.counted("s-001", 1, "SKU-1", 7)])
            )
        ]
    )
    hq = client_for("hq")
    page = hq.get("/dashboard/stock", params={"sku": "SKU-1"})
    assert page.status_code == 200
    assert '<strong id="kpi-on-hand">10</strong>' in page.text
    export = hq.get("/dashboard/export/stock.csv")
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert {(r["location"], r["sku"], r["on_hand"]) for r in rows} == {
        ("s-001", "SKU-1", "7"),
        ("w-001", "SKU-1", "3"),
        ("w-001", "'=CMD()", "1"),
    }
    moves = list(
        csv.DictReader(io.StringIO(hq.get("/dashboard/export/movements.csv?sku=SKU-1").text))
    )
    assert sorted(int(m["on_hand_after"]) for m in moves) == [3, 7]
    with users() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "export")).all()
        assert [e.target for e in entry] == ["stock", "movements"]
        assert entry[0].detail["rows"] == 3


def test_dead_letter_replay_after_a_fix(client_for: SignedIn, users: sessionmaker[Session]) -> None:
    """GIVEN an event from a store the hub did not know WHEN the store is created and a tech
    replays the dead letter from the page THEN it applies and is resolved; all audited."""
    BatchApplier(users, clock=lambda: NOW).apply(
        [
            InboundMessage(
                topics.up_events("s-009"), encode_batch([ev.counted("s-009", 1, "SKU-7", 4)])
            )
        ]
    )
    tech = client_for("tech")
    page = tech.get("/dashboard/dead-letters")
    assert "unknown_store" in page.text
    with users() as s:
        letter = s.scalars(select(DeadLetter)).one()
    token = csrf_of(tech)
    still = tech.post(f"/dashboard/dead-letters/{letter.id}/replay", data={"csrf_token": token})
    assert "still failing (unknown_store)" in still.text
    with users.begin() as s:
        stores.create_store(
            s, store_id="s-009", name="New", timezone="Europe/Berlin", currency="EUR", now=NOW
        )
    done = tech.post(f"/dashboard/dead-letters/{letter.id}/replay", data={"csrf_token": token})
    assert "Replayed: applied." in done.text
    with users() as s:
        assert s.get(DeadLetter, letter.id).status == "resolved"  # type: ignore[union-attr]
        assert s.get(StockLevel, ("s-009", "SKU-7")).on_hand == 4  # type: ignore[union-attr]
        replays = s.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "dead_letter.replay")
        ).all()
        assert [r["result"] for r in replays] == ["open", "resolved"]
