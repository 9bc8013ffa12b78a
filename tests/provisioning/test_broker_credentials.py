"""Generated credentials and ACL on a real Mosquitto: store isolation, revocation of a
connected client, atomic files."""

from __future__ import annotations

import stat

import pytest

from provisioning.enroll import request_enrollment
from provisioning.messages import EnrollResponse
from tests.fixtures.mqtt import MqttConnectError, Recorder, mqtt_client
from tests.fixtures.util import wait_until
from tests.provisioning.conftest import HUB_PASSWORD, Hub, HubFactory


def _enroll(hub: Hub, store_id: str) -> EnrollResponse:
    issued = hub.create_store(store_id)
    return request_enrollment(hub.url, issued.code, hostname=f"box-{store_id}")


def _store_client(hub: Hub, creds: EnrollResponse, client_id: str):  # noqa: ANN202
    hub.broker.users[creds.broker.username] = creds.broker.password.get_secret_value()
    return mqtt_client(hub.broker, creds.broker.username, client_id=client_id)


def test_store_a_can_neither_read_nor_write_store_b(hub_factory: HubFactory) -> None:
    """GIVEN two enrolled stores WHEN A subscribes to and publishes on B's topics THEN the
    broker delivers nothing to A and refuses A's publish (MQTT 5 PUBACK 0x87)."""
    hub = hub_factory()
    a, b = _enroll(hub, "s-101"), _enroll(hub, "s-102")
    assert (a.broker.username, b.broker.username) == ("s-101", "s-102")
    assert a.broker.password.get_secret_value() != b.broker.password.get_secret_value()
    text = hub.settings.broker_password_file.read_text()  # type: ignore[union-attr]
    assert a.broker.password.get_secret_value() not in text
    assert sorted(line.split(":")[0] for line in text.splitlines()) == ["hub", "s-101", "s-102"]
    mode = stat.S_IMODE(hub.settings.broker_password_file.stat().st_mode)  # type: ignore[union-attr]
    assert mode & 0o007 == 0

    hub_spy, a_spy = Recorder(), Recorder()
    with (
        mqtt_client(hub.broker, "hub", password=HUB_PASSWORD) as hub_client,
        _store_client(hub, a, "acorn-edge-s-101") as store_a,
        _store_client(hub, b, "acorn-edge-s-102") as store_b,
    ):
        hub_client.client.on_message = hub_spy
        hub_client.subscribe("acorn/v1/store/+/up/#", qos=1)
        store_a.client.on_message = a_spy
        store_a.subscribe("acorn/v1/store/s-102/#", qos=1)
        store_a.subscribe("acorn/v1/store/s-101/down/#", qos=1)
        # B's traffic, and the hub's message to B, never reach A
        assert not store_b.publish("acorn/v1/store/s-102/up/events", b"[]", qos=1).is_failure
        hub_client.publish("acorn/v1/store/s-102/down/cmd", b"{}", qos=1)
        # A writing B's topics is refused; A's own topic works
        assert store_a.publish("acorn/v1/store/s-102/up/events", b"[]", qos=1).is_failure
        assert store_a.publish("acorn/v1/store/s-102/down/ack", b"{}", qos=1).is_failure
        assert not store_a.publish("acorn/v1/store/s-101/up/events", b"[]", qos=1).is_failure
        hub_client.publish("acorn/v1/store/s-101/down/cmd", b"sentinel", qos=1)
        a_spy.wait_for(1, timeout=5)
        hub_spy.wait_for(2, timeout=5)
        assert [m.topic for m in a_spy.messages] == ["acorn/v1/store/s-101/down/cmd"]
        assert sorted(m.topic for m in hub_spy.messages) == [
            "acorn/v1/store/s-101/up/events",
            "acorn/v1/store/s-102/up/events",
        ]


def test_revoking_a_store_cuts_off_its_connected_client(hub_factory: HubFactory) -> None:
    """GIVEN store A connected WHEN HQ revokes A THEN the broker drops A's connection at once,
    A cannot connect again, and store B stays connected."""
    from click.testing import CliRunner

    from provisioning.cli import provision

    hub = hub_factory()
    a, b = _enroll(hub, "s-201"), _enroll(hub, "s-202")
    with (
        _store_client(hub, a, "acorn-edge-s-201") as store_a,
        _store_client(hub, b, "acorn-edge-s-202") as store_b,
    ):
        assert store_a.connected
        assert store_b.connected
        env = {
            "ACORN_HUB_" + k.upper(): str(v)
            for k, v in {
                "database_url": hub.settings.database_url,
                "secrets_key": hub.settings.secrets_key.get_secret_value(),  # type: ignore[union-attr]
                "mqtt_password": HUB_PASSWORD,
                "broker_password_file": hub.settings.broker_password_file,
                "broker_acl_file": hub.settings.broker_acl_file,
                "broker_pid_file": hub.settings.broker_pid_file,
            }.items()
        }
        result = CliRunner().invoke(provision, ["store", "revoke", "s-201"], env=env)
        assert result.exit_code == 0, result.output
        assert "disconnects the box" in result.output
        wait_until(lambda: not store_a.connected, timeout=10, message="s-201 disconnected")
        assert store_b.connected
        assert not store_b.publish("acorn/v1/store/s-202/up/events", b"[]", qos=1).is_failure
    with pytest.raises(MqttConnectError), _store_client(hub, a, "acorn-edge-s-201"):
        pass
    assert "Client acorn-edge-s-201 disconnected" in hub.broker.log_text()


def test_files_are_rewritten_only_when_they_change(hub_factory: HubFactory) -> None:
    hub = hub_factory(api=False)
    files = hub.settings.broker_password_file, hub.settings.broker_acl_file
    before = [p.stat().st_mtime_ns for p in files]  # type: ignore[union-attr]
    with hub.sessions.begin() as session:
        from hub.broker_credentials import BrokerCredentials

        assert BrokerCredentials(hub.settings).sync(session) is False  # nothing changed
    assert [p.stat().st_mtime_ns for p in files] == before  # type: ignore[union-attr]
    acl = hub.settings.broker_acl_file.read_text()  # type: ignore[union-attr]
    assert "pattern readwrite acorn/v1/store/%u/#" in acl
    assert "user hub\ntopic readwrite acorn/#" in acl
    leftovers = [p.name for p in files[0].parent.iterdir() if p.name.startswith(".")]  # type: ignore[union-attr]
    assert leftovers == []
