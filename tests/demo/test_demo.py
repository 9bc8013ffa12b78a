"""``acorn demo`` as a process: it starts everything, rings sales, stops cleanly, loses nothing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest

# Start-up is a dozen Python processes: seconds each when the machine is busy.
pytestmark = pytest.mark.timeout(600)
READY_TIMEOUT_S = 300

REPO = Path(__file__).resolve().parents[2]


def _demo(data_dir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "acorn.cli",
            "demo",
            "--free-ports",
            "--data-dir",
            str(data_dir),
            *args,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            return json.loads(path.read_text())
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"demo exited with {proc.returncode} before it was ready:\n{out}")
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    pytest.fail(f"demo.json did not appear in time:\n{out}")


def _port_free(port: int) -> bool:
    """Whether a server could listen on the port again (SO_REUSEADDR, as servers bind: the
    closed connections' TIME_WAIT entries do not count as a process still listening)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0); its state says it is dead.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return True
    return state == "Z"


def _observer_sees_traffic(info: dict[str, Any]) -> list[str]:
    """Subscribe to acorn/# as the observer and return the topics seen within a deadline."""
    host, port = info["broker_url"].removeprefix("mqtt://").split(":")
    login = info["observer_login"]
    seen: list[str] = []
    got = threading.Event()
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id="demo-test-observer", protocol=mqtt.MQTTv311
    )
    client.username_pw_set(login["username"], login["password"])

    def on_connect(c: mqtt.Client, *_: Any) -> None:
        c.subscribe(login["topics"], qos=1)

    def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        seen.append(msg.topic)
        got.set()

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(host, int(port))
    client.loop_start()
    try:
        got.wait(15)
    finally:
        client.loop_stop()
        client.disconnect()
    return seen


def _assert_all_stopped(info: dict[str, Any]) -> None:
    ports = [info["ports"]["broker"], info["ports"]["hub"], info["ports"]["sandbox"]]
    ports += info["ports"]["cashier_ui"]
    assert [p for p in ports if not _port_free(p)] == []
    assert [n for n, pid in info["processes"].items() if not _pid_gone(pid)] == []


def test_demo_runs_rings_sales_and_stops_clean(tmp_path: Path) -> None:
    """GIVEN a two-store demo at 5x speed for a fixed duration
    WHEN it runs
    THEN demo.json names URLs that answer, the observer sees the MQTT traffic, receipts are
    text files, the summary finds no sale lost or doubled, and nothing is left running."""
    data = tmp_path / "demo"
    proc = _demo(data, "--duration", "15", "--stores", "2", "--speed", "5")
    info = _wait_for(data / "demo.json", proc, timeout_s=READY_TIMEOUT_S)

    assert httpx.get(info["hub_url"] + "/readyz", timeout=5).status_code == 200
    assert httpx.get(info["sandbox_url"] + "/_sandbox/health", timeout=5).status_code == 200
    assert [s["timezone"] for s in info["stores"]] == ["Europe/London", "Europe/Berlin"]
    for store in info["stores"]:
        assert store["cashier_ui_url"].startswith("http://127.0.0.1:")
        status = httpx.get(store["cashier_ui_url"] + "api/status", timeout=5).json()
        assert status["store_id"] == store["id"]
    token = info["hq_login"]["api_token"]
    stores = httpx.get(
        info["hub_url"] + "/api/v1/stores", headers={"Authorization": f"Bearer {token}"}, timeout=5
    ).json()
    assert sorted(s["id"] for s in stores["items"]) == ["s-berlin", "s-london"]
    topics = _observer_sees_traffic(info)
    assert any(t.startswith("acorn/v1/") for t in topics)

    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    summary = json.loads((data / "summary.json").read_text())
    assert summary["lost"] == 0
    assert summary["duplicated"] == 0
    assert all(s["rung_by_shoppers"] > 0 for s in summary["stores"]), summary
    assert all(s["sales_at_hub"] == s["sales_at_till"] for s in summary["stores"]), summary
    assert "lost 0, duplicated 0: OK" in out
    for store in info["stores"]:
        receipts = [
            p
            for p in Path(store["receipts_dir"]).glob("receipt_*.txt")
            if not p.stem.endswith("_drawer")
        ]
        assert receipts, f"no receipt text for {store['id']}"
        assert all("TOTAL" in p.read_text() for p in receipts)
    assert (data / "logs" / "hub.log").exists()
    _assert_all_stopped(info)


def test_ctrl_c_stops_everything(tmp_path: Path) -> None:
    """GIVEN a running one-store demo WHEN it gets SIGINT THEN it stops every child and frees
    every port."""
    data = tmp_path / "demo"
    proc = _demo(data, "--stores", "1", "--no-simulation")
    info = _wait_for(data / "demo.json", proc, timeout_s=READY_TIMEOUT_S)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert "stopped" in out
    _assert_all_stopped(info)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    """GIVEN the hub's port is taken WHEN the demo starts on fixed ports THEN it says which
    port and how to choose another, and exits 2."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        argv = [sys.executable, "-m", "acorn.cli", "demo", "--data-dir", str(tmp_path / "d")]
        argv += ["--hub-port", str(port), "--stores", "1"]
        for option in ("--broker-port", "--sandbox-port", "--ui-port"):
            argv += [option, str(_free_port())]
        result = subprocess.run(
            argv, cwd=REPO, capture_output=True, text=True, timeout=30, check=False
        )
    assert result.returncode == 2
    assert f"{port} (hub, --hub-port)" in result.stderr
    assert "--free-ports" in result.stderr
