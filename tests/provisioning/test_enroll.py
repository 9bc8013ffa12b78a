"""Enrollment over HTTP: what the box writes, clear errors for used/mistyped codes,
rate limits against guessing, HTTPS and MQTT over TLS with a pinned CA."""

from __future__ import annotations

import io
import logging
import stat
import tomllib
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from edge_agent.app import open_store_for
from edge_agent.config import load_settings
from provisioning.cli import provision
from provisioning.codes import new_code
from provisioning.enroll import EnrollError, enroll, request_enrollment
from provisioning.messages import ENROLL_PATH
from tests.fixtures.brokers import BrokerInfo
from tests.fixtures.mqtt import MqttConnectError
from tests.provisioning.conftest import Hub, HubFactory, ThrowawayCA

CATALOG_CSV = (
    "sku,name,price,barcodes,tax_class\n"
    "MILK-1L,Milk 1L,1.20,5000112637922,zero\n"
    "SOAP,Soap bar,2.50,,standard\n"
)


def _catalog_and_stock(hub: Hub, store_id: str, tmp_path: Path) -> str:
    from datetime import UTC, datetime

    from hub.db.catalog import import_csv
    from hub.db.provisioning import set_opening_stock

    with hub.sessions.begin() as session:
        import_csv(session, io.StringIO(CATALOG_CSV), now=datetime.now(UTC), default_currency="GBP")
    issued = hub.create_store(store_id)
    with hub.sessions.begin() as session:
        set_opening_stock(
            session, store_id, "sku,on_hand\nMILK-1L,24\nSOAP,6\n", now=datetime.now(UTC)
        )
    return issued.code


def test_enroll_writes_config_private_secrets_catalog_and_stock(
    hub_factory: HubFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hub = hub_factory()
    code = _catalog_and_stock(hub, "s-301", tmp_path)
    box = tmp_path / "box"
    runner = CliRunner()
    result = runner.invoke(
        provision,
        [
            "enroll",
            "--hub",
            hub.url,
            "--code",
            code.lower(),
            "--data-dir",
            str(box),
            "--systemd",
            "--unit-dir",
            str(tmp_path / "units"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Enrolled as store s-301" in result.output
    password = (box / "secrets" / "broker.password").read_text().strip()
    assert len(password) >= 32
    assert password not in result.output
    assert password not in caplog.text  # neither the hub nor the box logs it
    assert code not in caplog.text
    assert "store s-301 enrolled from 127.0.0.1" in caplog.text
    assert stat.S_IMODE((box / "secrets" / "broker.password").stat().st_mode) == 0o600
    settings = load_settings(box / "edge.toml")
    assert settings.store_id == "s-301"
    assert settings.tz == "Europe/London"
    assert settings.currency == "GBP"
    assert settings.broker.resolve_password() == password
    assert settings.broker.port == hub.broker.port
    assert settings.receipt.address_lines == ["1 High Street", "Leeds"]
    assert "password =" not in (box / "edge.toml").read_text()
    unit = (tmp_path / "units" / "acorn-edge.service").read_text()
    assert f"edge run --config {box.resolve() / 'edge.toml'}" in unit
    store = open_store_for(settings)
    try:
        assert store.catalog.get("MILK-1L").price_minor == 120
        assert store.stock.level("MILK-1L").on_hand == 24
        assert store.stock.level("SOAP").on_hand == 6
        assert store.catalog.version() >= 1
    finally:
        store.close()
    # a code works once: a second box with the same code is told so, in words
    with pytest.raises(EnrollError, match="already used"):
        enroll(hub.url, code, tmp_path / "box2")
    assert not (tmp_path / "box2" / "edge.toml").exists()


def test_re_enrolling_replaces_credentials_and_keeps_local_stock(
    hub_factory: HubFactory, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from hub.db.provisioning import issue_code
    from provisioning.secretbox import code_pepper
    from tests.provisioning.conftest import SECRETS_KEY

    hub = hub_factory()
    box = tmp_path / "box"
    enroll(hub.url, _catalog_and_stock(hub, "s-302", tmp_path), box)
    first = (box / "secrets" / "broker.password").read_text()
    settings = load_settings(box / "edge.toml")
    store = open_store_for(settings)
    store.stock.adjust("SOAP", -2, reason="damaged")
    store.close()
    with hub.sessions.begin() as session:
        code = issue_code(
            session,
            "s-302",
            pepper=code_pepper(SECRETS_KEY),
            ttl=timedelta(hours=1),
            now=datetime.now(UTC),
        ).code
    enroll(hub.url, code, box)
    assert (box / "secrets" / "broker.password").read_text() != first
    store = open_store_for(load_settings(box / "edge.toml"))
    try:
        assert store.stock.level("SOAP").on_hand == 4  # the box's own truth survives
    finally:
        store.close()


def test_mistyped_code_is_caught_on_the_box(hub_factory: HubFactory, tmp_path: Path) -> None:
    hub = hub_factory(api=False)
    code = hub.create_store("s-303").code
    typo = ("B" if code[0] != "B" else "C") + code[1:]
    with pytest.raises(EnrollError, match="typo"):
        # the check symbol catches it before any request: this URL has nothing listening
        request_enrollment("http://127.0.0.1:9", typo)
    with pytest.raises(EnrollError, match="cannot reach the hub"):
        request_enrollment("http://127.0.0.1:9", code)


def test_repeated_wrong_codes_are_rate_limited(hub_factory: HubFactory) -> None:
    """GIVEN a hub allowing 4 attempts per address WHEN a box tries wrong codes THEN the
    5th attempt gets 429 with Retry-After, and even the right code waits."""
    hub = hub_factory(enroll_attempts_per_ip=4, enroll_attempts_per_prefix=100)
    good = hub.create_store("s-304").code
    statuses = []
    for _ in range(4):
        reply = requests.post(hub.url + ENROLL_PATH, json={"code": new_code()}, timeout=10)
        statuses.append(reply.status_code)
        assert "not known" in reply.json()["detail"]
    assert statuses == [403] * 4
    limited = requests.post(hub.url + ENROLL_PATH, json={"code": good}, timeout=10)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert "too many enrollment attempts" in limited.json()["detail"]
    with pytest.raises(EnrollError, match="too many enrollment attempts"):
        request_enrollment(hub.url, good)


def test_guessing_one_code_prefix_is_rate_limited(hub_factory: HubFactory) -> None:
    hub = hub_factory(enroll_attempts_per_ip=100, enroll_attempts_per_prefix=3)
    good = hub.create_store("s-305").code
    prefix = good[:4]
    wrong = [c for c in (prefix + new_code()[4:] for _ in range(50)) if c != good]
    statuses = [
        requests.post(hub.url + ENROLL_PATH, json={"code": code}, timeout=10).status_code
        for code in wrong[:4]
    ]
    # typos (422) and unknown codes (403) both count against the prefix
    assert all(s in (403, 422) for s in statuses[:3])
    assert statuses[3] == 429
    other = requests.post(hub.url + ENROLL_PATH, json={"code": new_code()}, timeout=10)
    assert other.status_code == 403  # another prefix is not blocked


def _tls_client(broker: BrokerInfo, port: int, ca: Path, user: str, password: str) -> None:
    import ssl

    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.username_pw_set(user, password)
    client.tls_set(ca_certs=str(ca))
    try:
        client.connect(broker.host, port, 30)
    except ssl.SSLError as err:
        raise MqttConnectError(f"TLS refused: {err}") from err
    try:
        rc = client.loop(timeout=5)
        for _ in range(50):
            if client.is_connected():
                return
            rc = client.loop(timeout=0.1)
        raise MqttConnectError(f"no CONNACK ({rc})")
    finally:
        client.disconnect()


def test_https_and_mqtts_with_a_pinned_ca(
    hub_factory: HubFactory, test_ca: ThrowawayCA, other_ca: ThrowawayCA, tmp_path: Path
) -> None:
    """GIVEN a hub serving HTTPS and a Mosquitto TLS listener, both from a throwaway CA
    WHEN a box enrolls pinning that CA THEN it gets the CA, connects over TLS and the
    agent's settings pin it; a box pinning another CA is refused by both."""
    hub = hub_factory(tls=test_ca)
    assert hub.url.startswith("https://")
    code = hub.create_store("s-306").code
    with pytest.raises(EnrollError, match="did not prove its identity"):
        enroll(hub.url, code, tmp_path / "wrong", ca_file=other_ca.ca_file)
    result = enroll(hub.url, code, tmp_path / "box", ca_file=test_ca.ca_file)
    settings = load_settings(result.config_path)
    assert settings.broker.tls_ca_file == (tmp_path / "box" / "ca.pem").resolve()
    assert settings.broker.tls_ca_file.read_bytes() == test_ca.ca_file.read_bytes()
    tls_port = settings.broker.port
    assert tls_port == hub.settings.broker_public_port
    password = settings.broker.resolve_password()
    assert password is not None
    enrollment = tomllib.loads((tmp_path / "box" / "enrollment.toml").read_text())
    assert enrollment["hub_url"] == hub.url
    _tls_client(hub.broker, tls_port, settings.broker.tls_ca_file, "s-306", password)
    with pytest.raises(MqttConnectError, match="TLS refused"):
        _tls_client(hub.broker, tls_port, other_ca.ca_file, "s-306", password)
