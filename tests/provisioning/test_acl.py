"""Broker credentials and ACL text, checked against a real Mosquitto."""

import subprocess

import pytest

from provisioning.acl import (
    hash_password,
    new_password,
    render_acl,
    render_password_file,
    verify_password,
)
from tests.fixtures.brokers import make_mosquitto, mosquitto_binary
from tests.fixtures.mqtt import MqttConnectError, Recorder, mqtt_client


def test_hash_round_trip_and_matches_mosquitto_passwd(tmp_path):
    encoded = hash_password("s3cret")
    assert encoded.startswith("$7$101$")
    assert verify_password("s3cret", encoded)
    assert not verify_password("s3cret!", encoded)
    # mosquitto_passwd's own hash verifies with our function too
    path = tmp_path / "pw"
    path.write_text("alice:s3cret\n")
    mosquitto_binary()
    subprocess.run(["mosquitto_passwd", "-U", str(path)], check=True, capture_output=True)
    assert verify_password("s3cret", path.read_text().strip().split(":", 1)[1])


def test_password_file_refuses_bad_usernames():
    with pytest.raises(ValueError, match="invalid broker username"):
        render_password_file({"a:b": "x"})


def test_rendered_files_isolate_stores_on_a_real_mosquitto(tmp_path):
    users = {"hub": new_password(), "s-101": new_password(), "s-102": new_password()}
    pw_file = tmp_path / "passwd"
    pw_file.write_text(render_password_file({u: hash_password(p) for u, p in users.items()}))
    broker = make_mosquitto(
        tmp_path, users=users, password_file=pw_file, acl_text=render_acl(hub_users=["hub"])
    )
    try:
        with pytest.raises(MqttConnectError), mqtt_client(broker, "s-101", password="wrong"):
            pass
        spy = Recorder()
        with (
            mqtt_client(broker, "hub") as hub,
            mqtt_client(broker, "s-101") as store_a,
            mqtt_client(broker, "s-102") as store_b,
        ):
            hub.client.on_message = spy
            hub.subscribe("acorn/#", qos=1)
            b_spy = Recorder()
            store_b.client.on_message = b_spy
            store_b.subscribe("acorn/v1/store/s-101/#", qos=1)
            own = store_a.publish("acorn/v1/store/s-101/up/events", b"[]", qos=1)
            foreign = store_a.publish("acorn/v1/store/s-102/up/events", b"[]", qos=1)
            assert not own.is_failure
            assert foreign.is_failure  # MQTT 5 PUBACK 0x87 Not authorized
            spy.wait_for(1, timeout=5)
            assert [m.topic for m in spy.messages] == ["acorn/v1/store/s-101/up/events"]
            assert b_spy.messages == []
    finally:
        broker.stop()
