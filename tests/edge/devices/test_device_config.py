"""Device configuration: validation messages, adapters per kind, and the manager's wiring."""

from __future__ import annotations

from pathlib import Path

import peewee
import pytest
from pydantic import ValidationError

from edge_agent.devices.config import DeviceConfig, PrinterConfig, ScannerConfig
from edge_agent.devices.errors import DeviceConfigError
from edge_agent.devices.manager import DeviceManager, build_printer
from edge_agent.devices.print_queue import DRAWER_KIND, JobState
from edge_agent.devices.printers import (
    FilePrinter,
    FileSinkPrinter,
    NetworkPrinter,
    NullPrinter,
    SerialPrinter,
)
from edge_agent.devices.profiles import resolve_profile
from edge_agent.devices.scanner import Suffix
from tests.edge.devices.samples import german_sale, pick_list, z_report
from tests.fixtures.util import wait_until


def test_defaults_are_no_printer_and_a_wedge_scanner() -> None:
    config = DeviceConfig()
    assert (config.printer.kind, config.scanner.kind) == ("none", "wedge")
    assert config.printer.drawer_pin == 2
    assert config.scanner.suffix is Suffix.CR


def test_parses_a_toml_like_mapping_with_hex_usb_ids() -> None:
    config = DeviceConfig.model_validate(
        {
            "printer": {
                "kind": "usb",
                "vendor_id": "0x04b8",
                "product_id": "0x0e15",
                "columns": 48,
            },
            "scanner": {
                "kind": "serial",
                "url": "/dev/ttyACM0",
                "suffix": "crlf",
                "debounce_ms": 250,
            },
        }
    )
    assert (config.printer.vendor_id, config.printer.product_id) == (0x04B8, 0x0E15)
    assert config.scanner.suffix is Suffix.CRLF


@pytest.mark.parametrize(
    ("printer", "message"),
    [
        ({"kind": "network"}, "needs printer.host"),
        ({"kind": "serial"}, "needs printer.device"),
        ({"kind": "usb", "vendor_id": 1}, "needs printer.product_id"),
        ({"kind": "filesink"}, "needs printer.directory"),
        ({"kind": "network", "host": "p", "profile": "tm-9000"}, "unknown printer profile"),
        ({"kind": "network", "host": "p", "columns": 40}, "columns"),
        ({"kind": "network", "host": "p", "drawer_pin": 3}, "drawer_pin"),
        ({"kind": "usb", "vendor_id": "epson", "product_id": 1}, "not a number"),
        ({"kind": "laser"}, "kind"),
    ],
)
def test_invalid_printer_settings_say_what_to_fix(printer: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PrinterConfig.model_validate(printer)


def test_serial_scanner_needs_its_port() -> None:
    with pytest.raises(ValidationError, match="needs scanner.url"):
        ScannerConfig(kind="serial")


@pytest.mark.parametrize(
    ("printer", "adapter"),
    [
        ({"kind": "network", "host": "10.0.0.9"}, NetworkPrinter),
        ({"kind": "serial", "device": "/dev/ttyUSB0"}, SerialPrinter),
        ({"kind": "file", "device": "/dev/usb/lp0"}, FilePrinter),
        ({"kind": "filesink", "directory": "/tmp/x"}, FileSinkPrinter),
        ({"kind": "none"}, NullPrinter),
    ],
)
def test_each_kind_builds_its_adapter(printer: dict, adapter: type) -> None:
    cfg = PrinterConfig.model_validate(printer)
    assert isinstance(build_printer(cfg, resolve_profile(cfg.profile)), adapter)


def test_a_48_column_profile_cannot_be_squeezed_onto_58_mm_paper() -> None:
    with pytest.raises(DeviceConfigError, match="do not fit"):
        resolve_profile("generic-58mm", columns=48)


def test_manager_prints_documents_and_opens_the_drawer_only_for_cash(
    tmp_path: Path, queue_db: peewee.SqliteDatabase
) -> None:
    sink = tmp_path / "printer"
    manager = DeviceManager(
        DeviceConfig(
            printer=PrinterConfig(kind="filesink", directory=sink, status_poll_s=0.05, drawer_pin=5)
        )
    )
    manager.start()
    try:
        card = manager.print_receipt(german_sale(cash=False))
        assert manager.queue.job(f"{card.job_id}:drawer") is None
        pick = manager.print_pick_list(pick_list())
        z = manager.print_z_report(z_report())
        test = manager.print_test_page(job_id="test-1")
        drawer = manager.open_drawer(job_id="manual-open-1")
        ids = [card.job_id, pick.job_id, z.job_id, test.job_id, drawer.job_id]
        wait_until(
            lambda: all(manager.queue.job(i).state is JobState.PRINTED for i in ids),
            message="all printed",
        )
        assert manager.queue.job(drawer.job_id).kind == DRAWER_KIND
        assert (sink / "manual-open-1.txt").read_text("utf-8").strip() == "[DRAWER pin 5]"
        assert "KOMMISSIONIERLISTE" in (sink / "picklist_302-1234567-7654321.txt").read_text(
            "utf-8"
        )
        assert "Z-BON #118" in (sink / "zreport_3_118.txt").read_text("utf-8")
    finally:
        manager.stop()
