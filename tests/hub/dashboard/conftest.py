"""Dashboard fixtures: an app on the migrated database, HQ accounts, signed-in clients."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hub.app import create_app
from hub.config import HubSettings
from hub.dashboard.users import create_user
from hub.db.models_dashboard import HqUser
from tests.hub.conftest import NOW

PASSWORD = "correct horse battery"
ROLES = ("admin", "hq", "finance", "viewer", "tech")


def login_token(client: TestClient) -> str:
    """Open the sign-in form; returns its CSRF token (the cookie is kept by the client)."""
    page = client.get("/dashboard/login")
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> TestClient:
    """Sign ``client`` in through the form."""
    token = login_token(client)
    answer = client.post(
        "/dashboard/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return client


def csrf_of(client: TestClient) -> str:
    """The session's CSRF token, read from a page's sign-out form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/dashboard/alarms").text)
    assert found is not None
    return found.group(1)


@pytest.fixture
def users(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """One HQ account per role, named after it."""
    # argon2 is slow on purpose: hash once, then copy the hash to the other accounts.
    with sessions.begin() as s:
        first = create_user(s, username=ROLES[0], password=PASSWORD, roles=ROLES[0], now=NOW)
        for role in ROLES[1:]:
            s.add(
                HqUser(
                    username=role,
                    display_name=role,
                    password_hash=first.password_hash,
                    roles=role,
                    active=True,
                    failed_logins=0,
                    created_at=NOW,
                )
            )
    return sessions


@pytest.fixture
def dashboard_app(hub_engine: Engine, users: sessionmaker[Session]) -> Iterator[TestClient]:
    """The hub app (no ingest, no evaluator thread) and an anonymous client."""
    settings = HubSettings(
        database_url=str(hub_engine.url), ingest_enabled=False, alarms_enabled=False
    )
    app = create_app(settings, engine=hub_engine)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def client_for(dashboard_app: TestClient) -> Iterator[Callable[[str], TestClient]]:
    """Signed-in clients by role (each with its own cookies)."""
    opened: list[TestClient] = []

    def _make(role: str) -> TestClient:
        client = TestClient(dashboard_app.app)
        opened.append(client)
        return sign_in(client, role)

    yield _make
    for client in opened:
        client.close()
