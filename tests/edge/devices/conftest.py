"""Fixtures for the device tests: a SQLite queue database, fake printers, a socat pty pair."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import peewee
import pytest

from edge_agent.devices.queue_models import open_database
from tests.edge.devices.fake_printer import FakeNetworkPrinter, PtyPrinter
from tests.fixtures.util import register_process, stop_process, unregister, wait_until


@pytest.fixture
def queue_db(tmp_path: Path) -> Iterator[peewee.SqliteDatabase]:
    """A fresh SQLite file in WAL mode with the device tables, bound to the device models."""
    db = open_database(tmp_path / "edge.db")
    yield db
    db.close()


@pytest.fixture
def fake_printer() -> Iterator[FakeNetworkPrinter]:
    """A loopback network printer that answers DLE EOT."""
    printer = FakeNetworkPrinter()
    yield printer
    printer.close()


@pytest.fixture
def pty_printer() -> Iterator[PtyPrinter]:
    """A serial printer on the far end of a pseudo-terminal."""
    printer = PtyPrinter()
    yield printer
    printer.close()


@dataclass
class SocatPair:
    """Two linked pseudo-terminals: the agent opens ``host``, the test plays the scanner."""

    scanner: Path
    host: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start socat (again, after unplug) and wait until both links exist."""
        proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                "socat",
                "pty,raw,echo=0,link=" + str(self.scanner),
                "pty,raw,echo=0,link=" + str(self.host),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        register_process(proc, "socat pty pair")
        self.proc = proc
        wait_until(
            lambda: self.scanner.exists() and self.host.exists(),
            timeout=5,
            message="socat pty links",
        )

    def unplug(self) -> None:
        """Stop socat: both ptys vanish like an unplugged USB-CDC scanner."""
        if self.proc is not None:
            stop_process(self.proc)
            unregister(self.proc)
            self.proc = None
        wait_until(lambda: not self.host.exists(), timeout=5, message="pty links removed")


@pytest.fixture
def socat_pair(tmp_path: Path) -> Iterator[SocatPair]:
    """A socat pty pair with stable link names in a temporary directory."""
    if shutil.which("socat") is None:
        pytest.fail("socat is not installed: run `make services` (apt-get install socat)")
    pair = SocatPair(tmp_path / "scanner", tmp_path / "ttyACM0")
    pair.start()
    yield pair
    pair.unplug()


@pytest.fixture(autouse=True)
def _no_worker_exceptions(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail a test when a device thread logged an exception it swallowed."""
    caplog.set_level(logging.INFO, logger="edge_agent.devices")
    yield
    swallowed = [
        r
        for r in caplog.get_records("call")
        if r.name.startswith("edge_agent.devices") and r.exc_info is not None
    ]
    assert not swallowed, f"a device thread swallowed an exception: {swallowed[0].getMessage()}"
