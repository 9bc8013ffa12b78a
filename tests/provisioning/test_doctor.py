"""The doctor: a tech-readable table, a non-zero exit on failure, real broker and printer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from provisioning.cli import provision
from provisioning.doctor import Check, DoctorOptions, Status, exit_code, render_table, run_doctor
from provisioning.enroll import enroll
from tests.fixtures.util import free_port
from tests.provisioning.conftest import HubFactory


def _write_box(box: Path, *, broker_port: int, printer: str) -> Path:
    (box / "secrets").mkdir(parents=True)
    secret = box / "secrets" / "broker.password"
    secret.write_text("x" * 40 + "\n")
    secret.chmod(0o600)
    config = box / "edge.toml"
    config.write_text(
        'store_id = "s-401"\nstore_name = "Leeds"\ntz = "Europe/London"\ncurrency = "GBP"\n'
        'database = "edge.db"\n\n'
        f'[broker]\nhost = "127.0.0.1"\nport = {broker_port}\nusername = "s-401"\n'
        'password_file = "secrets/broker.password"\n\n' + printer
    )
    return config


def test_doctor_explains_an_unreachable_broker_and_a_missing_printer(tmp_path: Path) -> None:
    """GIVEN a box whose broker is down and whose printer is unplugged WHEN the doctor runs
    THEN both failures are explained in plain words and the exit code is 1."""
    port = free_port()  # nothing listens here
    config = _write_box(
        tmp_path / "box",
        broker_port=port,
        printer=f'[devices.printer]\nkind = "file"\ndevice = "{tmp_path}/usb/lp0"\n',
    )
    result = CliRunner().invoke(provision, ["doctor", "--config", str(config)])
    assert result.exit_code == 1, result.output
    out = result.output
    assert (
        f"Broker 127.0.0.1:{port} is not reachable: connection refused. Check the hub's "
        "address in edge.toml and that the network is up." in out
    )
    assert f"The receipt printer at {tmp_path}/usb/lp0 is not there" in out
    assert "switched on and its cable is plugged in" in out
    assert "The store database" in out  # never enrolled: no database either
    lines = {line.split()[0]: line.split()[1] for line in out.splitlines()[2:] if line.strip()}
    assert lines["config"] == "PASS"
    assert lines["broker"] == "FAIL"
    assert lines["printer"] == "FAIL"
    assert lines["secrets"] == "PASS"


def test_doctor_without_config_says_to_enroll(tmp_path: Path) -> None:
    result = CliRunner().invoke(provision, ["doctor", "--config", str(tmp_path / "edge.toml")])
    assert result.exit_code == 1
    assert "Enroll this box first" in result.output


def test_doctor_on_an_enrolled_box_passes_and_prints_the_identity(
    hub_factory: HubFactory, tmp_path: Path
) -> None:
    """GIVEN a freshly enrolled box with a printer WHEN the doctor runs with --print-id THEN
    broker, ACL, clock, database and printer pass and the page carries the store id."""
    hub = hub_factory()
    box = tmp_path / "box"
    enroll(hub.url, hub.create_store("s-402").code, box)
    sink = tmp_path / "paper"
    sink.mkdir()
    with (box / "edge.toml").open("a") as fh:
        fh.write(f'\n[devices.printer]\nkind = "filesink"\ndirectory = "{sink}"\n')
    result = CliRunner().invoke(
        provision, ["doctor", "--config", str(box / "edge.toml"), "--print-id"]
    )
    assert result.exit_code == 0, result.output
    statuses = {line.split()[0]: line.split()[1] for line in result.output.splitlines()[2:-2]}
    for name in ("config", "secrets", "database", "broker", "clock", "printer"):
        assert statuses[name] == "PASS", (name, result.output)
    assert "another store's topics refused" in result.output
    pages = list(sink.glob("*.bin")) or [p for p in sink.iterdir() if p.is_file()]
    assert pages, "no test page was written"
    data = b"".join(p.read_bytes() for p in pages)
    assert b"Store s-402" in data
    assert b"acorn:store=s-402" in data  # the identity QR's content

    # a box clock 10 s ahead of the hub is a warning, not a failure
    ahead = run_doctor(
        DoctorOptions(
            config_path=box / "edge.toml", now=lambda: datetime.now(UTC) + timedelta(seconds=10)
        )
    )
    clock = next(c for c in ahead if c.name == "clock")
    assert clock.status is Status.WARN
    assert "s ahead of the hub" in clock.detail
    assert "timedatectl set-ntp true" in clock.detail
    assert exit_code(ahead) == 0


def test_table_and_exit_code() -> None:
    checks = [
        Check("config", Status.PASS, "ok"),
        Check("clock", Status.WARN, "This box's clock is 5 s ahead of the hub."),
    ]
    assert exit_code(checks) == 0
    assert exit_code([*checks, Check("broker", Status.FAIL, "down")]) == 1
    table = render_table(checks)
    assert table.splitlines()[2] == "config  PASS    ok"
    assert table.endswith("0 failed, 1 warning(s).")


def test_doctor_waits_for_a_test_scan(tmp_path: Path) -> None:
    """GIVEN a serial scanner on a pty WHEN the doctor waits for a scan and one arrives
    THEN the scan check passes and names the code."""
    import threading

    from tests.edge.devices.conftest import SocatPair

    pair = SocatPair(tmp_path / "scanner", tmp_path / "ttyACM0")
    pair.start()
    config = _write_box(
        tmp_path / "box",
        broker_port=free_port(),
        printer=f'[devices.scanner]\nkind = "serial"\nurl = "{pair.host}"\n',
    )
    done = threading.Event()

    def play_scanner() -> None:
        # keep scanning until the doctor has read one (no guess about when it opens the port)
        with pair.scanner.open("wb", buffering=0) as port:
            for _ in range(100):
                if done.wait(0.1):
                    return
                port.write(b"5000112637922\r")

    scanner = threading.Thread(target=play_scanner, daemon=True)
    scanner.start()
    try:
        checks = run_doctor(DoctorOptions(config_path=config, scan_timeout_s=10))
    finally:
        done.set()
        scanner.join(5)
        pair.unplug()
    scan = next(c for c in checks if c.name == "scan")
    assert scan.status is Status.PASS, scan
    assert "5000112637922" in scan.detail
