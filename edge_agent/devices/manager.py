"""One object that owns the till's devices: built from ``DeviceConfig``, started and stopped once.

The sale code talks only to this: ``print_receipt``, ``print_pick_list``,
``print_z_report``, ``print_test_page``, ``open_drawer``, ``status`` and the
scan handler. Which printer or scanner sits behind it is configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from edge_agent.devices.config import DeviceConfig, PrinterConfig
from edge_agent.devices.errors import DeviceConfigError
from edge_agent.devices.print_queue import (
    DRAWER_KIND,
    DeviceAlarm,
    JobInfo,
    PrintQueue,
    QueueStatus,
    RetryPolicy,
)
from edge_agent.devices.printers import (
    FilePrinter,
    FileSinkPrinter,
    NetworkPrinter,
    NullPrinter,
    Printer,
    SerialPrinter,
    UsbPrinter,
)
from edge_agent.devices.profiles import PrinterProfile, layout_profile, resolve_profile
from edge_agent.devices.render import EscposRenderer
from edge_agent.devices.scanner import (
    ScanBus,
    ScanHandler,
    ScannerStatus,
    SerialScannerReader,
)
from edge_agent.domain.receipt import (
    LayoutProfile,
    PickListDoc,
    ReceiptDoc,
    ZReportDoc,
    layout_drawer_kick,
    layout_pick_list,
    layout_receipt,
    layout_test_page,
    layout_z_report,
    needs_drawer,
)

_LOGGER = logging.getLogger(__name__)


T = TypeVar("T")


def _required(value: T | None, name: str) -> T:
    if value is None:
        raise DeviceConfigError(f"{name} is not set")
    return value


def build_printer(cfg: PrinterConfig, profile: PrinterProfile) -> Printer:
    """Return the adapter for the configured connection kind."""
    if cfg.kind == "network":
        return NetworkPrinter(
            _required(cfg.host, "printer.host"),
            cfg.port,
            timeout_s=cfg.timeout_s,
            status_timeout_s=cfg.status_timeout_s,
            query_status=cfg.query_status,
        )
    if cfg.kind == "serial":
        return SerialPrinter(
            _required(cfg.device, "printer.device"),
            baudrate=cfg.baudrate,
            timeout_s=cfg.timeout_s,
            status_timeout_s=cfg.status_timeout_s,
            dsrdtr=cfg.dsrdtr,
            xonxoff=cfg.xonxoff,
            query_status=cfg.query_status,
        )
    if cfg.kind == "usb":
        return UsbPrinter(
            _required(cfg.vendor_id, "printer.vendor_id"),
            _required(cfg.product_id, "printer.product_id"),
            interface=cfg.usb_interface,
            in_ep=cfg.in_ep,
            out_ep=cfg.out_ep,
            timeout_ms=int(cfg.timeout_s * 1000),
            query_status=cfg.query_status,
        )
    if cfg.kind == "file":
        return FilePrinter(_required(cfg.device, "printer.device"))
    if cfg.kind == "filesink":
        return FileSinkPrinter(
            _required(cfg.directory, "printer.directory"),
            escpos_profile=profile.escpos_profile,
            kanji_codec=profile.cjk_codec or "gb18030",
        )
    return NullPrinter()


class DeviceManager:
    """The till's printer queue, renderer, scanner reader and scan bus, wired from config."""

    def __init__(self, config: DeviceConfig, *, printer: Printer | None = None) -> None:
        self.config = config
        pc = config.printer
        self.profile: PrinterProfile = resolve_profile(
            pc.profile, columns=pc.columns, code_style=pc.code_style
        )
        self.layout: LayoutProfile = layout_profile(self.profile)
        self.renderer = EscposRenderer(self.profile, font_paths=pc.font_paths)
        self.printer: Printer = printer or build_printer(pc, self.profile)
        self.queue = PrintQueue(
            self.printer,
            self.renderer.render_bytes,
            retry=RetryPolicy(initial_s=pc.retry_initial_s, max_s=pc.retry_max_s),
            offline_alarm_s=pc.offline_alarm_s,
            status_poll_s=pc.status_poll_s,
        )
        self.bus = ScanBus()
        sc = config.scanner
        self.scan_handler = ScanHandler(self.bus, debounce_ms=sc.debounce_ms)
        self.scanner_reader: SerialScannerReader | None = None
        if sc.kind == "serial":
            self.scanner_reader = SerialScannerReader(
                _required(sc.url, "scanner.url"),
                self.scan_handler,
                baudrate=sc.baudrate,
                suffix=sc.suffix,
                reconnect_interval_s=sc.reconnect_interval_s,
                frame_timeout_s=sc.frame_timeout_s,
                on_status=self._scanner_changed,
            )
        self._created = datetime.now(UTC)
        self.queue.add_status_observer(self._printer_changed)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the print queue worker and the scanner reader."""
        self.queue.start()
        if self.scanner_reader is not None:
            self.scanner_reader.start()

    def stop(self) -> None:
        """Stop both threads; queued jobs stay in the database."""
        if self.scanner_reader is not None:
            self.scanner_reader.stop()
        self.queue.stop()

    def add_alarm_observer(self, observer: Callable[[DeviceAlarm], None]) -> None:
        """Be told when the printer has been unusable longer than ``offline_alarm_s``."""
        self.queue.add_alarm_observer(observer)

    # ------------------------------------------------------------------ printing

    def print_receipt(self, doc: ReceiptDoc, *, job_id: str | None = None) -> JobInfo:
        """Queue a receipt (and a drawer opening first when cash changed hands)."""
        base = job_id or f"receipt:{doc.receipt_no}"
        if self.config.printer.open_drawer_on_cash and needs_drawer(doc):
            self.open_drawer(job_id=f"{base}:drawer")
        commands = layout_receipt(doc, self.layout)
        info, _ = self.queue.enqueue(
            base, "receipt", commands=commands, language=doc.store.language
        )
        return info

    def open_drawer(self, *, job_id: str) -> JobInfo:
        """Queue a drawer opening (it jumps the queue and works without paper)."""
        info, _ = self.queue.enqueue(
            job_id, DRAWER_KIND, commands=layout_drawer_kick(self.config.printer.drawer_pin)
        )
        return info

    def print_pick_list(self, doc: PickListDoc, *, job_id: str | None = None) -> JobInfo:
        """Queue the pick list of a routed order."""
        info, _ = self.queue.enqueue(
            job_id or f"picklist:{doc.order_id}",
            "picklist",
            commands=layout_pick_list(doc, self.layout),
            language=doc.store.language,
        )
        return info

    def print_z_report(self, doc: ZReportDoc, *, job_id: str | None = None) -> JobInfo:
        """Queue a Z report."""
        info, _ = self.queue.enqueue(
            job_id or f"zreport:{doc.till_id}:{doc.z_number}",
            "zreport",
            commands=layout_z_report(doc, self.layout),
            language=doc.store.language,
        )
        return info

    def print_test_page(
        self, *, job_id: str, title: str = "", tz: ZoneInfo | None = None
    ) -> JobInfo:
        """Queue a test page (for field techs and the doctor command)."""
        now = datetime.now(UTC)
        zone = tz or ZoneInfo("UTC")
        commands = layout_test_page(self.layout, printed_at_utc=now, tz=zone, title=title)
        info, _ = self.queue.enqueue(job_id, "testpage", commands=commands)
        return info

    def reprint(self, job_id: str, *, request_id: str | None = None) -> JobInfo:
        """Print a job again (see ``PrintQueue.reprint``)."""
        return self.queue.reprint(job_id, request_id=request_id)

    # ------------------------------------------------------------------ status

    def scanner_status(self) -> ScannerStatus:
        """Return the scanner's state (serial: port open; wedge: listening pages)."""
        kind = self.config.scanner.kind
        if self.scanner_reader is not None:
            return self.scanner_reader.status()
        if kind == "wedge":
            listeners = self.bus.subscriber_count
            return ScannerStatus(
                "wedge",
                None,
                self._created,
                detail=f"keyboard wedge in the browser ({listeners} page(s) listening)",
            )
        return ScannerStatus("none", None, self._created, detail="no scanner configured")

    def printer_status(self) -> QueueStatus:
        """Return the printer's state and the queue depth."""
        return self.queue.status()

    def status(self) -> dict[str, Any]:
        """Return printer and scanner states as JSON (status API)."""
        printer = self.printer_status().as_dict()
        printer.update(profile=self.profile.key, columns=self.profile.columns)
        printer["where"] = self.printer.describe()
        return {"printer": printer, "scanner": self.scanner_status().as_dict()}

    def birth_states(self) -> dict[str, Any]:
        """Return the device states for the store's birth message (compact, no paths)."""
        p = self.printer_status()
        s = self.scanner_status()
        return {
            "printer": {
                "kind": p.printer_kind,
                "state": p.printer.state,
                "online": p.printer.online,
                "paper": p.printer.paper.value,
                "cover_open": p.printer.cover_open,
                "pending_jobs": p.pending,
                "since": p.as_dict()["since"],
            },
            "scanner": {"kind": s.kind, "connected": s.connected, "since": s.as_dict()["since"]},
        }

    def _printer_changed(self, status: QueueStatus) -> None:
        self.bus.publish("printer", status.as_dict())

    def _scanner_changed(self, status: ScannerStatus) -> None:
        self.bus.publish("scanner", status.as_dict())
