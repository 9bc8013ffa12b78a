"""What the cashier UI is wired to: settings, store, till, and the optional sync and devices.

The devices (printer, scanner) are optional: without them the UI still sells,
shows receipts on screen and says that no printer is configured. The seam is
narrow on purpose: ``print_sale`` and ``print_z_report`` hand documents to the
device manager when there is one and a receipt mapping for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edge_agent.config import EdgeSettings
from edge_agent.domain.sale import CompletedSale
from edge_agent.domain.zreport import ZReport
from edge_agent.store.facade import EdgeStore
from edge_agent.sync.service import SyncService
from edge_agent.ui.till import Till

if TYPE_CHECKING:
    from edge_agent.devices.manager import DeviceManager

_LOGGER = logging.getLogger(__name__)

#: Builds the printer's document for a sale (receipt layout lives with the devices).
ReceiptMapper = Callable[[CompletedSale, bool], Any]
#: Builds the printer's document for a Z report.
ZReportMapper = Callable[[ZReport], Any]


@dataclass(slots=True)
class UiContext:
    """Everything the routes need, built once by ``create_app``."""

    settings: EdgeSettings
    store: EdgeStore
    till: Till
    sync: SyncService | None = None
    devices: DeviceManager | None = None
    receipt_mapper: ReceiptMapper | None = None
    z_report_mapper: ZReportMapper | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def sync_status(self) -> dict[str, Any]:
        """The link and outbox figures (outbox only when sync is not running)."""
        if self.sync is not None:
            return self.sync.status().as_dict()
        stats = self.store.outbox.stats()
        return {
            "state": "disabled",
            "online": False,
            "protocol": None,
            "bd_seq": None,
            "message": "sync is turned off in the configuration",
            "outbox_depth": stats.depth,
            "oldest_unsynced_age_s": stats.oldest_unsynced_age_s,
            "last_seq": stats.last_seq,
            "acked_seq": stats.acked_seq,
            "dead_letters": self.store.inbound.dead_letter_count(),
            "connected_since": None,
            "last_ack_at": None,
        }

    def device_status(self) -> dict[str, Any] | None:
        """Printer and scanner states, or None without devices."""
        if self.devices is None:
            return None
        try:
            status: dict[str, Any] = self.devices.status()
        except Exception:  # noqa: BLE001 - a device fault must not break the status bar
            _LOGGER.exception("device status unavailable")
            return {"error": "device status unavailable"}
        return status

    def print_sale(self, sale: CompletedSale, *, copy: bool = False) -> dict[str, Any] | None:
        """Queue the sale's receipt on the printer; None when there is no printer or mapping."""
        if self.devices is None or self.receipt_mapper is None:
            return None
        try:
            doc = self.receipt_mapper(sale, copy)
            job_id = f"receipt:{sale.sale_id}" + (":copy" if copy else "")
            info = self.devices.print_receipt(doc, job_id=None if copy else job_id)
        except Exception:  # noqa: BLE001 - the sale is saved; a print fault must not undo it
            _LOGGER.exception("receipt %s could not be queued for printing", sale.receipt_no)
            return {"state": "failed", "detail": "the receipt could not be queued; reprint it"}
        result: dict[str, Any] = info.as_dict()
        return result

    def print_z_report(self, report: ZReport) -> dict[str, Any] | None:
        """Queue a Z report on the printer when there is one and a mapping for it."""
        if self.devices is None or self.z_report_mapper is None:
            return None
        try:
            info = self.devices.print_z_report(self.z_report_mapper(report))
        except Exception:  # noqa: BLE001 - the shift is closed; printing is best effort
            _LOGGER.exception("Z report could not be queued for printing")
            return {"state": "failed"}
        result: dict[str, Any] = info.as_dict()
        return result
