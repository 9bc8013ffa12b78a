"""``acorn provision doctor``: check a POS box and say, in a tech's words, what to fix.

Checks: the configuration, the broker password file, the edge database
(``PRAGMA integrity_check``), the broker (reachable, this box's credentials accepted,
its own topics writable, another store's topics refused), the clock against the hub
(warn above 2 s), serial ports and USB printers, the receipt printer (and a test
page), and optionally a test scan. Each check gives PASS, WARN, FAIL or SKIP with
one sentence; any FAIL makes the command exit non-zero.
"""

from __future__ import annotations

import enum
import glob
import socket
import sqlite3
import threading
import time
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

CLOCK_SKEW_WARN_S = 2.0
BROKER_TIMEOUT_S = 5.0
HUB_TIMEOUT_S = 5.0
FOREIGN_PROBE_STORE = "zz-doctor-probe"


class Status(enum.StrEnum):
    """The outcome of one check."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the doctor's table."""

    name: str
    status: Status
    detail: str


@dataclass
class DoctorOptions:
    """What the doctor should do besides the checks that never touch paper."""

    config_path: Path
    test_page: bool = False
    print_identity: bool = False
    scan_timeout_s: float | None = None
    broker_timeout_s: float = BROKER_TIMEOUT_S
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


def render_table(checks: list[Check]) -> str:
    """The pass/fail table as text (pure)."""
    width = max([len("check"), *(len(c.name) for c in checks)])
    lines = [f"{'check':<{width}}  result  what it means", f"{'-' * width}  ------  {'-' * 40}"]
    lines += [f"{c.name:<{width}}  {c.status.value:<6}  {c.detail}" for c in checks]
    failed = sum(c.status is Status.FAIL for c in checks)
    warned = sum(c.status is Status.WARN for c in checks)
    lines.append("")
    lines.append(
        "All checks passed."
        if not failed and not warned
        else f"{failed} failed, {warned} warning(s)."
    )
    return "\n".join(lines)


def exit_code(checks: list[Check]) -> int:
    """0 when nothing failed, 1 otherwise."""
    return 1 if any(c.status is Status.FAIL for c in checks) else 0


def run_doctor(options: DoctorOptions) -> list[Check]:
    """Run every check in order; later checks are skipped when what they need failed."""
    checks: list[Check] = []
    settings, check = _check_config(options.config_path)
    checks.append(check)
    enrollment = _read_enrollment(options.config_path)
    if settings is None:
        checks.extend(
            Check(name, Status.SKIP, "needs a valid configuration")
            for name in ("secrets", "database", "broker", "clock")
        )
    else:
        password, check = _check_secrets(settings)
        checks.append(check)
        checks.append(_check_database(settings))
        checks.extend(_check_broker(settings, password, options.broker_timeout_s))
        checks.append(_check_clock(enrollment, options))
    checks.append(_list_serial_ports())
    checks.append(_list_usb_printers())
    devices = getattr(settings, "devices", None) if settings is not None else None
    checks.append(_check_printer(devices, settings, enrollment, options))
    if options.scan_timeout_s is not None:
        checks.append(_check_scan(devices, options.scan_timeout_s))
    return checks


# --- configuration -----------------------------------------------------------------------


def _check_config(path: Path) -> tuple[Any, Check]:
    from edge_agent.config import ConfigError, load_settings

    if not path.is_file():
        return None, Check(
            "config",
            Status.FAIL,
            f"There is no configuration at {path}. Enroll this box first: "
            "acorn provision enroll --hub URL --code XXXX-XXXX",
        )
    try:
        settings = load_settings(path)
    except ConfigError as err:
        return None, Check(
            "config", Status.FAIL, f"{err}. Fix {path.name} or enroll the box again."
        )
    return settings, Check(
        "config", Status.PASS, f"{path} is valid: store {settings.store_id} ({settings.store_name})"
    )


def _read_enrollment(config_path: Path) -> dict[str, Any]:
    from provisioning.enroll import ENROLLMENT_NAME

    try:
        data = tomllib.loads((config_path.parent / ENROLLMENT_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if isinstance(data.get("hub_ca_file"), str):
        data["hub_ca_file"] = str(config_path.parent / data["hub_ca_file"])
    return data


def _check_secrets(settings: Any) -> tuple[str | None, Check]:
    from edge_agent.config import ConfigError

    try:
        password = settings.broker.resolve_password()
    except ConfigError as err:
        return None, Check("secrets", Status.FAIL, f"{err}.")
    if password is None:
        return None, Check(
            "secrets",
            Status.FAIL,
            "No broker password is set (broker.password_file). Enroll the box again.",
        )
    return password, Check("secrets", Status.PASS, "The broker password file is private (0600).")


def _check_database(settings: Any) -> Check:
    path = Path(settings.database)
    if not path.is_file():
        return Check(
            "database",
            Status.FAIL,
            f"The store database {path} does not exist. Enroll the box again to create it.",
        )
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        finally:
            conn.close()
    except sqlite3.Error as err:
        return Check("database", Status.FAIL, f"The store database {path} cannot be read: {err}.")
    if rows != ["ok"]:
        return Check(
            "database",
            Status.FAIL,
            f"The store database {path} is damaged ({rows[0]}). Call support before selling.",
        )
    return Check("database", Status.PASS, f"{path.name} passed its integrity check.")


# --- broker --------------------------------------------------------------------------------


def _check_broker(settings: Any, password: str | None, timeout_s: float) -> list[Check]:
    host, port = settings.broker.host, settings.broker.port
    where = f"{host}:{port}"
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as err:
        reason = (err.strerror or str(err)).lower()
        return [
            Check(
                "broker",
                Status.FAIL,
                f"Broker {where} is not reachable: {reason}. Check the hub's address in "
                "edge.toml and that the network is up.",
            ),
            Check("broker-acl", Status.SKIP, "needs the broker"),
        ]
    probe = _MqttProbe(settings, password, timeout_s)
    try:
        error = probe.connect()
        if error is not None:
            return [
                Check("broker", Status.FAIL, f"Broker {where}: {error}"),
                Check("broker-acl", Status.SKIP, "needs a connection"),
            ]
        checks = [
            Check(
                "broker",
                Status.PASS,
                f"Broker {where} accepted store {settings.store_id}'s credentials"
                + (" over TLS." if settings.broker.tls_ca_file else "."),
            )
        ]
        checks.append(probe.topics(settings.store_id))
        return checks
    finally:
        probe.close()


class _MqttProbe:
    """A short-lived MQTT 5 connection with the box's own credentials and a doctor client id."""

    def __init__(self, settings: Any, password: str | None, timeout_s: float) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self._timeout_s = timeout_s
        self._done = threading.Event()
        self._reason: Any = None
        self._acks: dict[int, Any] = {}
        self._ack_event = threading.Condition()
        # Never the agent's client id: connecting with it would take over the running
        # agent's session and disconnect it.
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"acorn-doctor-{settings.store_id}-{uuid.uuid4().hex[:6]}",
            protocol=paho.MQTTv5,
        )
        self._client.username_pw_set(settings.broker.username or settings.store_id, password)
        if settings.broker.tls_ca_file:
            self._client.tls_set(ca_certs=str(settings.broker.tls_ca_file))
        self._client.on_connect = self._on_connect
        self._client.on_publish = self._on_publish
        self._client.on_disconnect = self._on_disconnect
        self._where = f"{settings.broker.host}:{settings.broker.port}"
        self._host, self._port = settings.broker.host, settings.broker.port

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._reason = reason
        self._done.set()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if not self._done.is_set():
            self._reason = reason
            self._done.set()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._ack_event:
            self._acks[mid] = reason
            self._ack_event.notify_all()

    def connect(self) -> str | None:
        """Connect; None on success, else a sentence for the tech."""
        import ssl

        try:
            self._client.connect(self._host, self._port, keepalive=30)
        except ssl.SSLError as err:
            return (
                f"the broker's TLS certificate is not signed by the CA this box pins "
                f"({err.reason}). "
                "Check broker.tls_ca_file in edge.toml and the hub's address."
            )
        except OSError as err:
            return f"cannot connect: {err}. Check the network."
        self._client.loop_start()
        if not self._done.wait(self._timeout_s):
            return (
                f"no answer within {self._timeout_s:.0f} s. The port may not be an MQTT broker, "
                "or TLS may be expected (check broker.port and broker.tls_ca_file)."
            )
        reason = self._reason
        if reason is None or getattr(reason, "is_failure", True):
            text = str(reason) if reason is not None else "connection closed"
            if "authori" in text.lower() or "password" in text.lower():
                return (
                    f"the broker refused this box's user name or password ({text}). The store "
                    "may have been revoked, or the box needs to be enrolled again with a new code."
                )
            if "tls" in text.lower() or "ssl" in text.lower() or "certificate" in text.lower():
                return (
                    f"TLS failed ({text}): the broker's certificate is not signed by the CA "
                    "this box pins. Check broker.tls_ca_file."
                )
            return f"the broker refused the connection ({text})."
        return None

    def _publish(self, topic: str) -> Any:
        info = self._client.publish(topic, b"doctor", qos=1)
        deadline = time.monotonic() + self._timeout_s
        with self._ack_event:
            while info.mid not in self._acks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._ack_event.wait(left)
            return self._acks[info.mid]

    def topics(self, store_id: str) -> Check:
        """Own topic accepted (PUBACK < 0x80), another store's refused (0x87)."""
        # Not under up/: the hub subscribes to up/# only, so probes never reach its ingest.
        own = self._publish(f"acorn/v1/store/{store_id}/doctor/probe")
        if own is None or own.is_failure:
            return Check(
                "broker-acl",
                Status.FAIL,
                f"The broker does not let this box write its own topics ({own}). "
                "Ask HQ to check the broker's ACL.",
            )
        foreign = self._publish(f"acorn/v1/store/{FOREIGN_PROBE_STORE}/doctor/probe")
        if foreign is None or not foreign.is_failure:
            return Check(
                "broker-acl",
                Status.FAIL,
                "This box may write another store's topics: the broker's ACL is wrong. "
                "Tell HQ before going live.",
            )
        return Check(
            "broker-acl",
            Status.PASS,
            "Own topics writable; another store's topics refused (Not authorized).",
        )

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        try:
            self._client.disconnect()
        finally:
            self._client.loop_stop()


# --- clock ---------------------------------------------------------------------------------


def _check_clock(enrollment: dict[str, Any], options: DoctorOptions) -> Check:
    import requests

    hub_url = enrollment.get("hub_url")
    if not hub_url:
        return Check("clock", Status.SKIP, "No hub address recorded (enrollment.toml).")
    verify: str | bool = enrollment.get("hub_ca_file") or True
    before = options.now()
    try:
        reply = requests.get(f"{hub_url}/healthz", timeout=HUB_TIMEOUT_S, verify=verify)
    except requests.exceptions.SSLError:
        return Check(
            "clock",
            Status.FAIL,
            f"The hub at {hub_url} did not prove its identity (certificate not signed by the "
            "pinned CA). Check the hub address.",
        )
    except requests.exceptions.RequestException as err:
        return Check(
            "clock",
            Status.FAIL,
            f"The hub at {hub_url} is not reachable ({err.__class__.__name__}). Check the network.",
        )
    after = options.now()
    header = reply.headers.get("Date")
    if not header:
        return Check("clock", Status.WARN, "The hub did not send its time; clock not compared.")
    hub_time = parsedate_to_datetime(header)
    local = before + (after - before) / 2
    # HTTP dates have whole seconds: the hub's clock is somewhere in [hub_time, hub_time + 1).
    skew = (local - hub_time).total_seconds() - 0.5
    if abs(skew) > CLOCK_SKEW_WARN_S:
        return Check(
            "clock",
            Status.WARN,
            f"This box's clock is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} "
            "the hub. Turn on time sync (NTP): timedatectl set-ntp true.",
        )
    return Check("clock", Status.PASS, f"Clock within {CLOCK_SKEW_WARN_S:.0f} s of the hub.")


# --- devices -------------------------------------------------------------------------------


def _list_serial_ports() -> Check:
    from serial.tools import list_ports

    ports = sorted(p.device for p in list_ports.comports())
    if not ports:
        return Check("serial-ports", Status.PASS, "none found")
    return Check("serial-ports", Status.PASS, ", ".join(ports))


def _list_usb_printers() -> Check:
    found = sorted(glob.glob("/dev/usb/lp*"))
    return Check("usb-printers", Status.PASS, ", ".join(found) if found else "none found")


def _printer(devices: Any) -> tuple[Any, Any]:
    from edge_agent.devices.manager import build_printer
    from edge_agent.devices.profiles import resolve_profile

    pc = devices.printer
    profile = resolve_profile(pc.profile, columns=pc.columns, code_style=pc.code_style)
    return build_printer(pc, profile), profile


def _check_printer(
    devices: Any, settings: Any, enrollment: dict[str, Any], options: DoctorOptions
) -> Check:
    from edge_agent.devices.errors import DeviceError

    if devices is None or devices.printer.kind == "none":
        return Check(
            "printer",
            Status.WARN,
            "No receipt printer is set up in edge.toml ([devices.printer]); receipts will not "
            "print. Plug one in and add it, then run the doctor again.",
        )
    try:
        printer, profile = _printer(devices)
        status = printer.status()
    except DeviceError as err:
        return Check("printer", Status.FAIL, f"The receipt printer cannot be used: {err}.")
    where = printer.describe()
    if not status.online:
        return Check(
            "printer",
            Status.FAIL,
            f"The receipt printer at {where} is not there ({status.detail}). Check that it is "
            "switched on and its cable is plugged in, and that edge.toml names the right port.",
        )
    if not status.ready:
        return Check(
            "printer",
            Status.FAIL,
            f"The receipt printer at {where} is not ready: {status.state.replace('_', ' ')}. "
            "Close the cover or load paper.",
        )
    if not (options.test_page or options.print_identity):
        return Check("printer", Status.PASS, f"The receipt printer at {where} is ready.")
    commands = test_page(settings, enrollment, identity=options.print_identity, now=options.now())
    try:
        from edge_agent.devices.render import EscposRenderer

        data = EscposRenderer(profile).render_bytes(commands)
        printer.send(f"doctor-{uuid.uuid4().hex[:8]}", data)
    except DeviceError as err:
        return Check("printer", Status.FAIL, f"The test page did not print: {err}.")
    return Check(
        "printer",
        Status.PASS,
        f"Test page sent to {where}: check it came out"
        + (" with this box's store id and QR code." if options.print_identity else "."),
    )


def test_page(
    settings: Any, enrollment: dict[str, Any], *, identity: bool, now: datetime
) -> list[Any]:
    """The doctor's test page; with ``identity`` the store id and its enrollment QR (pure)."""
    from edge_agent.domain.receipt import Align, Cut, Feed, QRCode, Text

    commands: list[Any] = [
        Text("ACORN TEST PAGE", align=Align.CENTER, bold=True, double_height=True),
        Text(f"{now:%Y-%m-%d %H:%M} UTC", align=Align.CENTER),
        Feed(1),
    ]
    if identity:
        commands += [
            Text(f"Store {settings.store_id}", align=Align.CENTER, bold=True, double_width=True),
            Text(settings.store_name, align=Align.CENTER),
            Text(f"Hub {enrollment.get('hub_url', '?')}", align=Align.CENTER),
            Text(f"Enrolled {enrollment.get('enrolled_at', '?')}", align=Align.CENTER),
            QRCode(identity_qr_text(settings.store_id, enrollment)),
        ]
    commands += [Text("If you can read this, the printer works."), Feed(3), Cut()]
    return commands


def identity_qr_text(store_id: str, enrollment: dict[str, Any]) -> str:
    """What the identity QR encodes: store id, hub and enrollment time (no secret)."""
    return (
        f"acorn:store={store_id};hub={enrollment.get('hub_url', '')};"
        f"enrolled={enrollment.get('enrolled_at', '')}"
    )


def _check_scan(devices: Any, timeout_s: float) -> Check:
    if devices is None or devices.scanner.kind != "serial" or not devices.scanner.url:
        return Check(
            "scan",
            Status.SKIP,
            "No serial scanner is set up; scan into the cashier screen (keyboard wedge) instead.",
        )
    import serial

    from edge_agent.devices.scanner import ScanRejected, classify_scan

    url = devices.scanner.url
    try:
        port = serial.serial_for_url(url, baudrate=devices.scanner.baudrate, timeout=0.2)
    except (serial.SerialException, OSError) as err:
        return Check(
            "scan",
            Status.FAIL,
            f"The scanner at {url} cannot be opened ({err}). Check its cable, then run again.",
        )
    buffer = b""
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            buffer += port.read(64)
            if b"\r" in buffer or b"\n" in buffer:
                raw = buffer.replace(b"\n", b"\r").split(b"\r", 1)[0]
                try:
                    kind, code = classify_scan(raw)
                except ScanRejected as err:
                    return Check("scan", Status.WARN, f"Read {raw!r} but it is not a code: {err}.")
                return Check("scan", Status.PASS, f"Scanned {code} ({kind.value}).")
    finally:
        port.close()
    return Check(
        "scan",
        Status.FAIL,
        f"No scan within {timeout_s:.0f} s from {url}. Scan a barcode while the doctor waits; "
        "if the scanner beeps but nothing arrives, check its suffix (CR) and baud rate.",
    )
