"""The finance API and the dashboard's Finance page: roles, figures, CSV exports, audit.

The hub app runs in-process (FastAPI TestClient) on SQLite and PostgreSQL, fed by a real
till's events through the ingest applier.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub.auth import Role
from hub.db.models_dashboard import AuditEntry
from hub.db.tokens import create_token
from tests.hub.conftest import NOW
from tests.hub.dashboard.conftest import client_for, dashboard_app, users  # noqa: F401
from tests.hub.finance.till_kit import DAY, JP, T0, Till, create_store

RANGE = f"from={DAY}&to={DAY}"


def token(sessions: sessionmaker[Session], *roles: Role) -> dict[str, str]:
    with sessions.begin() as s:
        _, new = create_token(
            s, name="t-" + "-".join(r.value for r in roles), roles=frozenset(roles), now=NOW
        )
    return {"Authorization": f"Bearer {new.plaintext}"}


@pytest.fixture
def tokyo(users: sessionmaker[Session]) -> sessionmaker[Session]:  # noqa: F811
    """A Tokyo store whose till sold sake and rice and closed a shift 180 JPY short."""
    create_store(users, "s-jp", "JPY", "Asia/Tokyo")
    till = Till("s-jp", JP)
    sake, rice = till.item("SAKE", "1100"), till.item("RICE", "540", "reduced")
    sales = [
        till.sell([(sake, 1), (rice, 2)], shift_id="sh-1"),
        till.sell([(rice, 1)], shift_id="sh-1", card=True),
    ]
    till.shift(float_="10000", counted="12000", sales=sales, shift_id="sh-1", opened_at=T0)
    till.sync(users)
    return users


def test_api_figures_and_roles(
    dashboard_app: TestClient,  # noqa: F811
    tokyo: sessionmaker[Session],
) -> None:
    """GIVEN the Tokyo day WHEN finance, operator, reader and anonymous callers ask the API
    THEN only the finance-permitted ones get the ledger, shifts, tax and CSV."""
    client = dashboard_app
    assert client.get(f"/api/v1/finance/ledger?{RANGE}").status_code == 401
    reader = client.get(f"/api/v1/finance/ledger?{RANGE}", headers=token(tokyo, Role.READER))
    assert reader.status_code == 403
    auth = token(tokyo, Role.FINANCE)
    assert (
        client.get(f"/api/v1/finance/tax?{RANGE}", headers=token(tokyo, Role.OPERATOR)).status_code
        == 200
    )

    ledger = client.get(f"/api/v1/finance/ledger?{RANGE}&group_by=store", headers=auth)
    assert ledger.status_code == 200, ledger.text
    body = ledger.json()
    assert body["rows"] == [
        {
            "day": None,
            "store": "s-jp",
            "channel": None,
            "currency": "JPY",
            "gross_minor": 2720,
            "discounts_minor": 0,
            "refunds_minor": 0,
            "tax_minor": 100 + 120,
            "fees_minor": 0,
            "other_minor": 0,
            "net_minor": 2500,
        }
    ]
    assert body["totals"][0]["net_minor"] == 2500

    shifts = client.get(f"/api/v1/finance/shifts?{RANGE}&discrepancies=true", headers=auth)
    (shift,) = shifts.json()
    assert (shift["shift_id"], shift["over_short_minor"], shift["outcome"]) == (
        "sh-1",
        -180,
        "cash_short",
    )
    assert all(c["difference"] == 0 for c in shift["checks"])

    tax = {r["rate"]: r for r in client.get(f"/api/v1/finance/tax?{RANGE}", headers=auth).json()}
    assert (tax["10%"]["tax_minor"], tax["8%"]["tax_minor"]) == (100, 120)
    assert tax["8%"]["pricing"] == "inclusive"

    assert client.get(f"/api/v1/finance/orders?{RANGE}", headers=auth).json() == []
    profit = client.get(f"/api/v1/finance/profit?{RANGE}", headers=auth).json()
    assert profit[0]["profit_minor"] is None
    assert profit[0]["skus_cost_unknown"] == ["RICE", "SAKE"]

    exported = client.get(f"/api/v1/finance/export/tax.csv?{RANGE}", headers=auth)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["rate"], r["tax"], r["gross"]) for r in rows] == [
        ("10%", "100", "1100"),
        ("8%", "120", "1620"),
    ]
    assert client.get("/api/v1/finance/export/nope.csv", headers=auth).status_code == 404
    backwards = client.get(f"/api/v1/finance/ledger?from={DAY}&to=2026-01-01", headers=auth)
    assert backwards.status_code == 422


def test_finance_page_by_role_and_its_audited_csv(
    client_for: Callable[[str], TestClient],  # noqa: F811
    tokyo: sessionmaker[Session],
) -> None:
    """GIVEN the Tokyo day WHEN finance and hq open the Finance page THEN they see the
    summary, the short drawer, tax by rate and the CSV links, and a CSV download is
    audited; a viewer gets 403 for the page and its CSV, and no menu entry. (Admin holds
    every permission and tech none of finance: hub.dashboard.permissions.)"""
    finance = client_for("finance")
    page = finance.get(f"/dashboard/finance?{RANGE}")
    assert page.status_code == 200
    html = page.text
    for section in ('id="ledger"', 'id="profit"', 'id="order-discrepancies"', 'id="tax"'):
        assert section in html
    assert 'href="/dashboard/finance"' in html
    assert "drawer short by 180 JPY" in html
    assert "2500 JPY" in html  # the store's net
    assert "cost unknown" in html
    assert "/dashboard/finance/export/ledger.csv?from=2026-11-26&amp;to=2026-11-26" in html
    assert client_for("hq").get(f"/dashboard/finance?{RANGE}").status_code == 200

    answer = finance.get(f"/dashboard/finance/export/shifts.csv?{RANGE}&discrepancies=true")
    assert answer.status_code == 200
    assert "attachment" in answer.headers["content-disposition"]
    (row,) = list(csv.DictReader(io.StringIO(answer.text)))
    assert (row["shift_id"], row["outcome"], row["over_short"]) == ("sh-1", "cash_short", "-180")
    assert (row["z_sales_count"], row["synced_sales_count"]) == ("2", "2")
    with tokyo() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.target == "finance-shifts")
        ).one()
    assert (entry.actor, entry.action) == ("finance", "export")

    viewer = client_for("viewer")
    assert viewer.get("/dashboard/finance").status_code == 403
    assert viewer.get(f"/dashboard/finance/export/ledger.csv?{RANGE}").status_code == 403
    assert 'href="/dashboard/finance"' not in viewer.get("/dashboard").text


def test_finance_permission_by_role() -> None:
    """The Finance page's permission: finance, hq, admin and operator tokens; not the rest."""
    from hub.auth import Principal
    from hub.dashboard.permissions import Perm, can

    allowed = {
        role for role in Role if can(Principal("user", "x", frozenset({role})), Perm.FINANCE)
    }
    assert allowed == {Role.FINANCE, Role.HQ, Role.ADMIN, Role.OPERATOR}
