"""Scan-to-page latency over a pseudo-terminal: scanner write -> serial reader -> scan handler
-> bus -> server-sent event received by an HTTP client (the cashier's open page).

Run: .venv/bin/python bench/scan_latency.py [--scans 200] [--quick]
Needs socat. Prints median, p95, p99 and max for the in-process hop (bus subscriber)
and for the full path to the page over SSE on Flask's threaded server. The ceiling,
measured first on the same socat pair: a bare pyserial reader on the host side reading
the same scans (write on the scanner side -> line read), with nothing else in the path.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests
import serial
from _common import add_quick, apply_defaults, figure, load_line
from flask import Flask
from werkzeug.serving import make_server

from edge_agent.devices.config import DeviceConfig, PrinterConfig, ScannerConfig
from edge_agent.devices.manager import DeviceManager
from edge_agent.devices.queue_models import open_database
from edge_agent.devices.web import create_devices_blueprint
from protocol.gtin import gs1_check_digit


def gtin13(n: int) -> str:
    body = f"400{n:09d}"
    return body + str(gs1_check_digit(body))


def percentile(sorted_ms: list[float], q: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(len(sorted_ms) * q))]


def report(label: str, samples: list[float]) -> None:
    s = sorted(samples)
    print(
        f"{label:34} n={len(s):4d}  median {statistics.median(s):6.2f} ms  "
        f"p95 {percentile(s, 0.95):6.2f} ms  p99 {percentile(s, 0.99):6.2f} ms  "
        f"max {s[-1]:6.2f} ms"
    )


def raw_pty(gun_path: Path, host_path: Path, scans: int, gap_ms: float) -> list[float]:
    """The floor: write a scan on the scanner side, read the line on the host side (ms)."""
    samples = []
    with (
        serial.serial_for_url(str(host_path), baudrate=9600, timeout=2) as host,
        serial.serial_for_url(str(gun_path), baudrate=9600, timeout=1) as gun,
    ):
        for n in range(scans):
            code = gtin13(n).encode() + b"\r"
            t = time.perf_counter()
            gun.write(code)
            gun.flush()
            got = host.read_until(b"\r")
            if got == code:
                samples.append((time.perf_counter() - t) * 1000)
            time.sleep(gap_ms / 1000)
    return samples


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.01)


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_quick(parser)
    parser.add_argument("--scans", type=int, help="scans to time (default 200)")
    parser.add_argument("--gap-ms", type=float, help="pause between scans (default 20)")
    args = apply_defaults(
        parser.parse_args(), {"scans": 200, "gap_ms": 20.0}, {"scans": 30, "gap_ms": 5.0}
    )
    if shutil.which("socat") is None:
        sys.exit("socat is not installed (apt-get install socat)")

    with tempfile.TemporaryDirectory(prefix="acorn-scan-bench-") as tmp:
        tmpdir = Path(tmp)
        gun_path, host_path = tmpdir / "scanner", tmpdir / "ttyACM0"
        socat = subprocess.Popen(
            ["socat", f"pty,raw,echo=0,link={gun_path}", f"pty,raw,echo=0,link={host_path}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        db = open_database(tmpdir / "edge.db")
        manager = None
        server = None
        try:
            wait_for(lambda: gun_path.exists() and host_path.exists(), 5, "socat ptys")
            raw = raw_pty(gun_path, host_path, args.scans, args.gap_ms)
            manager = DeviceManager(
                DeviceConfig(
                    printer=PrinterConfig(kind="none"),
                    scanner=ScannerConfig(kind="serial", url=str(host_path), debounce_ms=0),
                )
            )
            manager.start()
            app = Flask("scan-bench")
            app.register_blueprint(create_devices_blueprint(manager))
            server = make_server("127.0.0.1", 0, app, threaded=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            wait_for(lambda: manager.scanner_status().connected, 5, "scanner connected")

            written: dict[str, float] = {}
            in_process: dict[str, float] = {}
            on_page: dict[str, float] = {}
            sub = manager.bus.subscribe()

            def bus_listener() -> None:
                while True:
                    event = sub.get(5)
                    if event is None:
                        return
                    if event.type == "scan":
                        in_process[event.data["code"]] = time.perf_counter()

            url = f"http://127.0.0.1:{server.server_port}/api/devices/scans/stream"
            response = requests.get(url, stream=True, timeout=30)

            def page_listener() -> None:
                buffer = ""
                try:
                    for chunk in response.iter_content(chunk_size=None):
                        now = time.perf_counter()
                        buffer += chunk.decode()
                        while "\n\n" in buffer:
                            block, buffer = buffer.split("\n\n", 1)
                            if "event: scan" in block:
                                data = block.split("data: ", 1)[1]
                                code = json.loads(data).get("code")
                                if code:
                                    on_page[code] = now
                except (requests.RequestException, AttributeError, ValueError):
                    return  # the stream was closed at the end of the run

            threading.Thread(target=bus_listener, daemon=True).start()
            threading.Thread(target=page_listener, daemon=True).start()
            time.sleep(0.2)  # let the page's stream settle (initial status event)

            with serial.serial_for_url(str(gun_path), baudrate=9600, timeout=1) as gun:
                for n in range(args.scans):
                    code = gtin13(n)
                    key = code.zfill(14)
                    written[key] = time.perf_counter()
                    gun.write(code.encode() + b"\r")
                    gun.flush()
                    deadline = time.monotonic() + 2
                    while key not in on_page and time.monotonic() < deadline:
                        time.sleep(0.0005)
                    time.sleep(args.gap_ms / 1000)
            # Not response.close(): it waits for the listener's blocked read (up to the
            # stream's next keep-alive). Both threads are daemons and end with the process.

            hop = [(in_process[k] - t) * 1000 for k, t in written.items() if k in in_process]
            page = [(on_page[k] - t) * 1000 for k, t in written.items() if k in on_page]
            print(
                f"scan latency over a socat pty pair, {args.scans} scans, {args.gap_ms:g} ms apart"
            )
            report("ceiling: raw pty write -> read", raw)
            report("pty -> handler -> bus subscriber", hop)
            report("pty -> ... -> SSE on the page", page)
            lost = args.scans - len(page)
            print(f"scans not seen on the page within 2 s: {lost}")
            print(load_line("at the end"))
            figure(
                "scan -> cashier page (SSE), median",
                statistics.median(page),
                "ms",
                ceiling="raw pty write -> read, median",
                ceiling_value=statistics.median(raw),
                higher_is_better=False,
            )
        finally:
            if server is not None:
                server.shutdown()
            if manager is not None:
                manager.stop()
            db.close()
            socat.terminate()
            socat.wait(5)


if __name__ == "__main__":
    main()
