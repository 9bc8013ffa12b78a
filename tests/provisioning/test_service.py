"""Hub-side provisioning on SQLite and PostgreSQL: codes once and expiring, revocation,
credentials stored as hashes only, secrets encrypted at rest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub.broker_credentials import BrokerCredentials
from hub.config import HubSettings
from hub.db.engine import make_engine, make_sessionmaker
from hub.db.models import Store
from hub.db.models_provisioning import BrokerCredential, EnrollmentCode, HubSecret, StoreSite
from hub.db.provisioning import (
    EnrollmentError,
    broker_hashes,
    create_store,
    get_secret,
    issue_code,
    put_secret,
    redeem_code,
    revoke_store,
)
from hub.db.stores import HubDataError
from provisioning.acl import verify_password
from provisioning.codes import normalize_code
from provisioning.secretbox import SecretKeyError, code_pepper, new_key

KEY = new_key()
PEPPER = code_pepper(KEY)
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.fixture
def sessions(hub_db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(hub_db_url, writer=True)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


def _create(sessions: sessionmaker[Session], store_id: str = "s-012") -> str:
    with sessions.begin() as s:
        issued = create_store(
            s,
            store_id=store_id,
            name="Leeds",
            timezone="Europe/London",
            currency="GBP",
            address="1 Briggate, Leeds",
            lat=53.797,
            lon=-1.543,
            pepper=PEPPER,
            code_ttl=timedelta(hours=2),
            now=T0,
        )
    assert issued.expires_at == T0 + timedelta(hours=2)
    return issued.code


def _redeem(sessions: sessionmaker[Session], code: str, now: datetime) -> str:
    with sessions.begin() as s:
        return redeem_code(s, code, pepper=PEPPER, now=now, used_by="till-1").password


def test_a_code_works_once_and_only_its_hash_is_stored(sessions: sessionmaker[Session]) -> None:
    code = _create(sessions)
    with sessions() as s:
        row = s.scalars(select(EnrollmentCode)).one()
        assert normalize_code(code) not in row.code_hash
        assert code not in row.code_hash
        site = s.get(StoreSite, "s-012")
        assert site is not None
        assert site.address == "1 Briggate, Leeds"
        assert site.lat == 53.797
    password = _redeem(sessions, code.lower(), T0 + timedelta(minutes=5))
    with sessions() as s:
        credential = s.get(BrokerCredential, "s-012")
        assert credential is not None
        assert credential.username == "s-012"
        assert password not in credential.password_hash
        assert verify_password(password, credential.password_hash)
        assert broker_hashes(s) == {"s-012": credential.password_hash}
    with pytest.raises(EnrollmentError, match="already used") as err:
        _redeem(sessions, code, T0 + timedelta(minutes=6))
    assert err.value.code == "used"


def test_a_code_expires(sessions: sessionmaker[Session]) -> None:
    code = _create(sessions)
    with (
        freeze_time(T0 + timedelta(hours=2, seconds=1)),
        pytest.raises(EnrollmentError, match="expired") as err,
    ):
        _redeem(sessions, code, datetime.now(UTC))
    assert err.value.code == "expired"
    with freeze_time(T0 + timedelta(hours=1, minutes=59)):
        assert _redeem(sessions, code, datetime.now(UTC))


def test_typos_unknown_codes_and_replaced_codes_say_why(sessions: sessionmaker[Session]) -> None:
    first = _create(sessions)
    typo = first[:-1] + ("0" if first[-1] != "0" else "1")
    with pytest.raises(EnrollmentError, match="typo") as err:
        _redeem(sessions, typo, T0)
    assert err.value.code == "typo"
    with sessions.begin() as s:
        second = issue_code(s, "s-012", pepper=PEPPER, ttl=timedelta(hours=1), now=T0).code
    with pytest.raises(EnrollmentError, match="newer one") as err:
        _redeem(sessions, first, T0)
    assert err.value.code == "revoked"
    with sessions.begin() as s:
        other = issue_code(s, "s-012", pepper=b"another hub", ttl=timedelta(hours=1), now=T0)
    with pytest.raises(EnrollmentError, match="not known") as err:
        _redeem(sessions, other.code, T0)
    assert err.value.code == "unknown"
    with pytest.raises(EnrollmentError, match="newer one"):
        _redeem(sessions, second, T0)  # voided by the code issued after it


def test_re_enrollment_replaces_the_credentials(sessions: sessionmaker[Session]) -> None:
    first = _redeem(sessions, _create(sessions), T0)
    with sessions.begin() as s:
        code = issue_code(s, "s-012", pepper=PEPPER, ttl=timedelta(hours=1), now=T0).code
    second = _redeem(sessions, code, T0 + timedelta(minutes=1))
    with sessions() as s:
        stored = broker_hashes(s)["s-012"]
    assert first != second
    assert verify_password(second, stored)
    assert not verify_password(first, stored)


def test_revoke_disables_store_credentials_and_codes(sessions: sessionmaker[Session]) -> None:
    _redeem(sessions, _create(sessions, "s-001"), T0)
    _redeem(sessions, _create(sessions, "s-002"), T0)
    with sessions.begin() as s:
        pending = issue_code(s, "s-001", pepper=PEPPER, ttl=timedelta(hours=1), now=T0).code
        revoke_store(s, "s-001", now=T0)
    with sessions() as s:
        assert set(broker_hashes(s)) == {"s-002"}
        store = s.get(Store, "s-001")
        assert store is not None
        assert store.active is False
    with pytest.raises(EnrollmentError, match="revoked"):
        _redeem(sessions, pending, T0)
    with sessions.begin() as s, pytest.raises(HubDataError, match="no store"):
        revoke_store(s, "s-999", now=T0)
    # a new code brings a revoked store back with new credentials (a replacement box)
    with sessions.begin() as s:
        fresh = issue_code(s, "s-001", pepper=PEPPER, ttl=timedelta(hours=1), now=T0).code
    _redeem(sessions, fresh, T0)
    with sessions() as s:
        assert set(broker_hashes(s)) == {"s-001", "s-002"}


def test_bad_store_details_are_refused(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s, pytest.raises(HubDataError, match="latitude"):
        create_store(
            s,
            store_id="s-013",
            name="X",
            timezone="Europe/London",
            currency="GBP",
            lat=123.0,
            lon=0.0,
            pepper=PEPPER,
            code_ttl=timedelta(hours=1),
            now=T0,
        )
    with sessions.begin() as s, pytest.raises(HubDataError, match="time zone|zone"):
        create_store(
            s,
            store_id="s-014",
            name="X",
            timezone="Mars/Olympus",
            currency="GBP",
            pepper=PEPPER,
            code_ttl=timedelta(hours=1),
            now=T0,
        )


def test_hub_secrets_are_encrypted_at_rest(sessions: sessionmaker[Session]) -> None:
    token = "Atzr|IwEBIL-marketplace-refresh-token"
    with sessions.begin() as s:
        put_secret(s, "amazon.refresh_token", token, key=KEY, now=T0)
    with sessions() as s:
        row = s.get(HubSecret, "amazon.refresh_token")
        assert row is not None
        assert token.encode() not in row.ciphertext
        assert get_secret(s, "amazon.refresh_token", key=KEY) == token
        with pytest.raises(SecretKeyError, match="wrong key"):
            get_secret(s, "amazon.refresh_token", key=new_key())


def test_broker_files_follow_the_database(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    """The files are a rendering of the table: enrolled stores in, revoked stores out."""
    settings = HubSettings(
        database_url="sqlite://",
        mqtt_password="hub-pw",
        broker_password_file=tmp_path / "passwd",
        broker_acl_file=tmp_path / "acl",
    )
    credentials = BrokerCredentials(settings)
    password = _redeem(sessions, _create(sessions, "s-001"), T0)
    _redeem(sessions, _create(sessions, "s-002"), T0)
    with sessions.begin() as s:
        revoke_store(s, "s-002", now=T0)
        assert credentials.sync(s) is False  # written, but no pid file: nothing to reload
    lines = dict(line.split(":", 1) for line in (tmp_path / "passwd").read_text().splitlines())
    assert sorted(lines) == ["hub", "s-001"]
    assert verify_password(password, lines["s-001"])
    assert verify_password("hub-pw", lines["hub"])
    assert "pattern readwrite acorn/v1/store/%u/#" in (tmp_path / "acl").read_text()
