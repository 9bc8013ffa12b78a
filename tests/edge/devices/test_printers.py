"""Printer adapters against real transports: TCP on loopback, a pseudo-terminal, files."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from edge_agent.devices import _escpos
from edge_agent.devices.errors import DeviceNotUsable, PrinterOffline
from edge_agent.devices.printers import (
    FilePrinter,
    FileSinkPrinter,
    NetworkPrinter,
    NullPrinter,
    Printer,
    SerialPrinter,
    UsbPrinter,
)
from edge_agent.devices.profiles import PROFILES, layout_profile
from edge_agent.devices.render import EscposRenderer
from edge_agent.devices.status import PaperState, status_from_dle_eot
from edge_agent.domain.receipt import layout_receipt
from tests.edge.devices.fake_printer import FakeNetworkPrinter, PtyPrinter
from tests.edge.devices.samples import german_sale
from tests.fixtures.util import free_port, wait_until

PROFILE = PROFILES["epson-tm-t88v"]


def receipt_bytes() -> bytes:
    return EscposRenderer(PROFILE, font_paths=()).render_bytes(
        layout_receipt(german_sale(), layout_profile(PROFILE))
    )


def test_network_printer_delivers_the_exact_bytes(fake_printer: FakeNetworkPrinter) -> None:
    printer = NetworkPrinter(fake_printer.host, fake_printer.port, timeout_s=2)
    data = receipt_bytes()
    printer.send("receipt:R-1", data)
    jobs = wait_until(fake_printer.jobs, timeout=5, message="job received")
    assert jobs == [data]


@pytest.mark.parametrize(
    ("sensors", "state", "paper", "cover"),
    [
        ({}, "ready", PaperState.OK, False),
        ({"paper": PaperState.NEAR_END}, "ready", PaperState.NEAR_END, False),
        ({"paper": PaperState.OUT}, "paper_out", PaperState.OUT, False),
        ({"cover_open": True}, "cover_open", PaperState.OK, True),
    ],
)
def test_network_printer_status_from_dle_eot(
    fake_printer: FakeNetworkPrinter, sensors: dict, state: str, paper: PaperState, cover: bool
) -> None:
    fake_printer.set_state(**sensors)
    status = NetworkPrinter(fake_printer.host, fake_printer.port, status_timeout_s=2).status()
    assert (status.online, status.state, status.paper, status.cover_open) == (
        True,
        state,
        paper,
        cover,
    )
    assert status.ready is (state == "ready")


def test_network_printer_without_dle_eot_support_is_assumed_ready(
    fake_printer: FakeNetworkPrinter,
) -> None:
    fake_printer.set_state(answer_status=False)
    status = NetworkPrinter(fake_printer.host, fake_printer.port, status_timeout_s=0.2).status()
    assert status.ready
    assert status.paper is PaperState.UNKNOWN
    assert "DLE EOT" in status.detail


def test_unreachable_network_printer_is_offline_and_send_says_nothing_was_sent() -> None:
    port = free_port()  # nobody listens here
    printer = NetworkPrinter("127.0.0.1", port, timeout_s=1, status_timeout_s=1)
    status = printer.status()
    assert not status.online
    assert status.state == "offline"
    with pytest.raises(PrinterOffline, match="not reachable"):
        printer.send("job-1", b"\x1b@hello")


def test_serial_printer_over_a_pty(pty_printer: PtyPrinter) -> None:
    printer = SerialPrinter(pty_printer.path, baudrate=19200, timeout_s=2, status_timeout_s=2)
    data = receipt_bytes()
    printer.send("receipt:R-1", data)
    wait_until(lambda: pty_printer.data() == data, timeout=5, message="bytes on the pty")
    assert printer.status().state == "ready"
    pty_printer.state.paper = PaperState.OUT
    status = printer.status()
    assert status.state == "paper_out"
    assert pty_printer.queries[-3:] == [1, 2, 4]


def test_serial_printer_on_a_missing_port_is_offline(tmp_path: Path) -> None:
    printer = SerialPrinter(str(tmp_path / "ttyUSB9"), timeout_s=0.5)
    assert printer.status().state == "offline"
    with pytest.raises(PrinterOffline):
        printer.send("job-1", b"x")


def test_file_sink_writes_bytes_and_readable_text_once(tmp_path: Path) -> None:
    sink = FileSinkPrinter(tmp_path / "printer", escpos_profile=PROFILE.escpos_profile)
    data = receipt_bytes()
    sink.send("receipt:R-042-3-000123", data)
    bin_path, txt_path = sink.paths("receipt:R-042-3-000123")
    assert bin_path.name == "receipt_R-042-3-000123.bin"
    assert bin_path.read_bytes() == data
    text = txt_path.read_text(encoding="utf-8")
    assert "Bäckerei Müller" in text
    assert '[BARCODE CODE128 "R-042-3-000123"]' in text
    assert "cut" in text
    before = bin_path.stat().st_mtime_ns
    sink.send("receipt:R-042-3-000123", data)  # the same job again: nothing rewritten
    assert bin_path.stat().st_mtime_ns == before
    assert sorted(p.name for p in bin_path.parent.iterdir()) == [
        "receipt_R-042-3-000123.bin",
        "receipt_R-042-3-000123.txt",
    ]


@pytest.mark.parametrize(
    ("marker", "state"),
    [("PAPER_OUT", "paper_out"), ("COVER_OPEN", "cover_open"), ("OFFLINE", "offline")],
)
def test_file_sink_simulates_trouble_with_marker_files(
    tmp_path: Path, marker: str, state: str
) -> None:
    sink = FileSinkPrinter(tmp_path)
    assert sink.status().state == "ready"
    (tmp_path / marker).touch()
    assert sink.status().state == state


def test_file_printer_writes_to_the_device_file(tmp_path: Path) -> None:
    device = tmp_path / "lp0"
    device.touch()
    printer = FilePrinter(str(device))
    assert printer.status().online
    printer.send("job-1", b"\x1b@hello\n")
    assert device.read_bytes() == b"\x1b@hello\n"
    missing = FilePrinter(str(tmp_path / "lp1"))
    assert missing.status().state == "offline"
    assert "unplugged" in missing.status().detail


def test_usb_printer_explains_what_is_missing() -> None:
    usb_class = _escpos.printer_module().Usb
    if not usb_class.is_usable():
        with pytest.raises(DeviceNotUsable, match="pip install pyusb"):
            UsbPrinter(0x04B8, 0x0E15)
    else:
        status = UsbPrinter(0xFFFF, 0xFFFE).status()
        assert status.state == "offline"
        assert "usb:ffff:fffe" in status.detail


def test_null_printer_keeps_jobs_queued() -> None:
    printer = NullPrinter()
    assert printer.status().state == "offline"
    with pytest.raises(PrinterOffline, match="no printer"):
        printer.send("job-1", b"x")


def test_every_adapter_implements_the_printer_protocol(tmp_path: Path) -> None:
    adapters = [
        NetworkPrinter("127.0.0.1"),
        SerialPrinter("/dev/null"),
        FilePrinter(str(tmp_path / "lp0")),
        FileSinkPrinter(tmp_path),
        NullPrinter(),
    ]
    for adapter in adapters:
        assert isinstance(adapter, Printer)
        assert adapter.kind
        assert adapter.describe()


@pytest.mark.parametrize(
    ("answers", "state"),
    [
        ((0x12, 0x12, 0x12), "ready"),
        ((0x1A, 0x32, 0x72), "paper_out"),
        ((0x1A, 0x16, 0x12), "cover_open"),
        ((0x1A, 0x52, 0x12), "error"),
        ((0xFF, 0x00, 0x12), "ready"),  # not status bytes: ignored
    ],
)
def test_dle_eot_decoding(answers: tuple[int, int, int], state: str) -> None:
    assert status_from_dle_eot(*answers).state == state


def test_fake_printer_closes_cleanly() -> None:
    printer = FakeNetworkPrinter()
    port = printer.port
    printer.close()
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", port), timeout=0.5),
    ):
        pass
