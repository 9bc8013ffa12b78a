"""The embedded broker (acorn/broker.py): its pure ACL, password files, bind guard and CLI."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

from acorn.broker import (
    WARNING_TEXT,
    BrokerError,
    BrokerSettings,
    EmbeddedBroker,
    PasswordFileError,
    TopicAcl,
    UnsafeBindError,
    check_bind,
    connect_protocol_level,
    filter_covered,
    read_password_file,
    topic_matches,
    write_password_file,
)
from acorn.cli import cli
from tests.fixtures.brokers import BrokerInfo
from tests.fixtures.mqtt import MqttConnectError, mqtt_client
from tests.fixtures.util import register_process, stop_process, unregister, wait_until

ACORN = Path(sys.executable).with_name("acorn")

# --------------------------------------------------------------------------------------
# Pure parts
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "topic_filter", "expected"),
    [
        ("acorn/v1/store/s-001/up/events", "acorn/#", True),
        ("acorn", "acorn/#", True),
        ("acorn/v1/store/s-001/up/events", "acorn/v1/store/+/up/#", True),
        ("acorn/v1/store/s-001/up", "acorn/v1/store/+/up/+", False),
        ("acorn/v1/store/s-001/up/events", "acorn/v1/store/s-002/#", False),
        ("acorn/v1/hub/status", "acorn/v1/hub/status", True),
        ("$SYS/broker/uptime", "#", False),
    ],
)
def test_topic_matches(topic: str, topic_filter: str, expected: bool) -> None:
    assert topic_matches(topic, topic_filter) is expected


@pytest.mark.parametrize(
    ("topic_filter", "allowed", "expected"),
    [
        ("acorn/v1/store/s-001/#", "acorn/v1/store/s-001/#", True),
        ("acorn/v1/store/s-001/down/+", "acorn/v1/store/s-001/#", True),
        ("acorn/v1/store/s-001", "acorn/v1/store/s-001/#", True),
        ("acorn/v1/store/+/up/#", "acorn/v1/store/s-001/#", False),
        ("acorn/#", "acorn/v1/store/s-001/#", False),
        ("acorn/v1/store/s-001/down/#", "acorn/v1/store/+/down/#", True),
        ("acorn/v1/store/s-001/down", "acorn/v1/store/+/down/+", False),
        ("$share/g/acorn/v1/store/s-001/#", "acorn/#", False),
    ],
)
def test_filter_covered(topic_filter: str, allowed: str, expected: bool) -> None:
    assert filter_covered(topic_filter, allowed) is expected


ACL = TopicAcl()


@pytest.mark.parametrize(
    ("user", "action", "topic", "expected"),
    [
        ("hub", "publish", "acorn/v1/store/s-001/down/orders", True),
        ("hub", "subscribe", "acorn/v1/store/+/up/#", True),
        ("hub", "publish", "other/topic", False),
        ("observer", "subscribe", "acorn/#", True),
        ("observer", "receive", "acorn/v1/store/s-002/up/events", True),
        ("observer", "publish", "acorn/v1/store/s-002/up/events", False),
        ("s-001", "publish", "acorn/v1/store/s-001/up/events", True),
        ("s-001", "subscribe", "acorn/v1/store/s-001/down/#", True),
        ("s-001", "subscribe", "acorn/v1/hub/status", True),
        ("s-001", "receive", "acorn/v1/hub/status", True),
        ("s-001", "publish", "acorn/v1/hub/status", False),
        ("s-001", "publish", "acorn/v1/store/s-002/up/events", False),
        ("s-001", "receive", "acorn/v1/store/s-002/down/orders", False),
        ("s-001", "subscribe", "acorn/v1/store/+/down/#", False),
        ("s-001", "subscribe", "acorn/#", False),
        ("a/b", "publish", "acorn/v1/store/a/b/up", False),  # no pattern for odd names
        ("+", "subscribe", "acorn/v1/store/+/#", False),
        ("", "receive", "acorn/v1/hub/status", False),
        (None, "receive", "acorn/v1/hub/status", False),
    ],
)
def test_topic_acl(user: str | None, action: str, topic: str, expected: bool) -> None:
    check = {"publish": ACL.may_publish, "subscribe": ACL.may_subscribe}.get(
        action, ACL.may_receive
    )
    assert check(user, topic) is expected


def _connect_packet(level: int) -> bytes:
    body = b"\x00\x04MQTT" + bytes([level, 0x02, 0x00, 0x3C])
    if level == 5:
        body += b"\x00"  # properties length
    body += b"\x00\x02id"
    return bytes([0x10, len(body)]) + body


@pytest.mark.parametrize(
    ("packet", "expected"),
    [
        (_connect_packet(4), 4),
        (_connect_packet(5), 5),
        (_connect_packet(3), 3),
        (b"\x30\x02ab", None),  # a PUBLISH first
        (b"\x10", None),
        (b"", None),
        (b"GET / HTTP/1.1\r\n", None),
    ],
)
def test_connect_protocol_level(packet: bytes, expected: int | None) -> None:
    assert connect_protocol_level(packet) == expected


# --------------------------------------------------------------------------------------
# Password files and the bind guard
# --------------------------------------------------------------------------------------


def test_write_password_file_hashes_with_argon2_and_keeps_other_users(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    write_password_file(path, {"hub": "first", "s-001": "store"})
    write_password_file(path, {"hub": "second"})
    users = read_password_file(path)
    assert sorted(users) == ["hub", "s-001"]
    assert PasswordHasher().verify(users["hub"], "second")
    assert PasswordHasher().verify(users["s-001"], "store")
    assert "second" not in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("hub:$7$101$abc$def", "Mosquitto"),
        ("hub:plaintext", "no Argon2 hash"),
        ("just-a-name", "expected 'user:hash'"),
    ],
)
def test_read_password_file_refuses_what_it_cannot_verify(
    tmp_path: Path, line: str, needle: str
) -> None:
    path = tmp_path / "passwd"
    path.write_text(f"# comment\n\n{line}\n")
    with pytest.raises(PasswordFileError, match=needle):
        read_password_file(path)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_binds_are_allowed(host: str) -> None:
    check_bind(BrokerSettings(host=host))


def test_non_loopback_bind_needs_the_flag_and_passwords(tmp_path: Path) -> None:
    with pytest.raises(UnsafeBindError, match="--allow-non-loopback"):
        check_bind(BrokerSettings(host="0.0.0.0"))
    with pytest.raises(UnsafeBindError, match="--password-file"):
        check_bind(BrokerSettings(host="0.0.0.0", allow_non_loopback=True))
    check_bind(
        BrokerSettings(host="0.0.0.0", allow_non_loopback=True, password_file=tmp_path / "p")
    )


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def test_cli_refuses_a_non_loopback_bind() -> None:
    result = CliRunner().invoke(cli, ["broker", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert "refusing to listen on '0.0.0.0'" in result.output


def test_cli_refuses_a_mosquitto_password_file(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    path.write_text("hub:$7$101$abc$def\n")
    result = CliRunner().invoke(cli, ["broker", "--port", "0", "--password-file", str(path)])
    assert result.exit_code == 1
    assert "Mosquitto" in result.output


def test_cli_passwd_then_broker_checks_the_password(tmp_path: Path) -> None:
    """acorn broker passwd writes the file; acorn broker enforces it; SIGINT stops it cleanly."""
    path = tmp_path / "passwd"
    added = CliRunner().invoke(
        cli, ["broker", "passwd", str(path), "hub", "--password-stdin"], input="s3cret\n"
    )
    assert added.exit_code == 0, added.output
    assert list(read_password_file(path)) == ["hub"]

    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [str(ACORN), "broker", "--port", "0", "--password-file", str(path)],
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    register_process(proc, "acorn broker (cli test)")
    try:
        line = wait_until(
            lambda: next((ln for ln in out.read_text().splitlines() if ln.startswith("ready")), ""),
            message="the ready line",
        )
        port = int(line.rsplit(":", 1)[1])
        assert line == f"ready on mqtt://127.0.0.1:{port}"
        broker = _info(port, {"hub": "s3cret"}, tmp_path)
        with mqtt_client(broker, "hub", protocol=4) as client:
            assert client.connected
        with (
            pytest.raises(MqttConnectError),
            mqtt_client(broker, "hub", protocol=4, password="nope"),
        ):
            pass
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        stop_process(proc)
        unregister(proc)
    assert WARNING_TEXT in err.read_text()
    assert "Traceback" not in err.read_text()


def _info(port: int, users: dict[str, str], data_dir: Path) -> BrokerInfo:
    return BrokerInfo(
        name="amqtt",
        host="127.0.0.1",
        port=port,
        mqtt5=False,
        shared_subscriptions=False,
        enforces_acl=True,
        checks_passwords=True,
        users=users,
        data_dir=data_dir,
    )


# --------------------------------------------------------------------------------------
# In-process use
# --------------------------------------------------------------------------------------


def test_embedded_broker_in_a_thread_with_users_in_memory(tmp_path: Path) -> None:
    settings = BrokerSettings(port=0, users={"hub": "h", "s-001": "s"})
    with EmbeddedBroker(settings) as broker:
        assert broker.port
        info = _info(broker.port, {"hub": "h", "s-001": "s"}, tmp_path)
        with mqtt_client(info, "hub", protocol=4) as hub:
            hub.subscribe("acorn/v1/store/+/up/#")
            with mqtt_client(info, "s-001", protocol=4) as edge:
                edge.publish("acorn/v1/store/s-001/up/events", b"[]")
            assert hub.messages.wait_for(1)[0].payload == b"[]"
        with pytest.raises(MqttConnectError), mqtt_client(info, "hub", protocol=4, password="x"):
            pass
        # TCP probes (health checks, port waits) are closed quietly and do no harm
        socket.create_connection(("127.0.0.1", broker.port), timeout=1).close()
        with socket.create_connection(("127.0.0.1", broker.port), timeout=5) as http:
            http.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert http.recv(16) == b""  # not MQTT: closed without a reply
        with mqtt_client(info, "s-001", protocol=4) as again:
            assert again.connected
        port = broker.port
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_embedded_broker_without_passwords_still_needs_a_username(tmp_path: Path) -> None:
    with EmbeddedBroker(BrokerSettings(port=0)) as broker:
        assert broker.port
        info = _info(broker.port, {}, tmp_path)
        with mqtt_client(info, "s-009", protocol=4, password="anything") as edge:
            assert edge.connected
        with pytest.raises(MqttConnectError), mqtt_client(info, None, protocol=4):
            pass


def test_embedded_broker_refuses_to_start_on_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        broker = EmbeddedBroker(BrokerSettings(port=port))
        with pytest.raises(BrokerError, match="cannot start the broker"):
            broker.start()
