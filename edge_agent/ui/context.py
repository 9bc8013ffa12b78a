"""What the cashier UI is wired to: settings, store, till, and the optional sync and devices.

The devices (printer, scanner) are optional: without them the UI still sells,
shows receipts on screen and says that no printer is configured. The seam is
narrow on purpose: ``print_sale`` and ``print_z_report`` hand documents to the
device manager when there is one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edge_agent.config import EdgeSettings
from edge_agent.domain.sale import CompletedSale
from edge_agent.domain.shift import ShiftClosure
from edge_agent.store.facade import EdgeStore
from edge_agent.sync.service import SyncService
from edge_agent.ui.receipts import ReceiptSettings, sale_receipt, shift_z_report
from edge_agent.ui.till import Till

if TYPE_CHECKING:
    from edge_agent.devices.manager import DeviceManager

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class UiContext:
    """Everything the routes need, built once by ``create_app``."""

    settings: EdgeSettings
    store: EdgeStore
    till: Till
    sync: SyncService | None = None
    devices: DeviceManager | None = None
    receipt: ReceiptSettings = field(init=False)

    def __post_init__(self) -> None:
        r = self.settings.receipt
        self.receipt = ReceiptSettings(
            store_id=self.settings.store_id,
            name=self.settings.store_name,
            timezone=self.settings.zone,
            till_id=r.till_id,
            address_lines=tuple(r.address_lines),
            phone=r.phone,
            tax_id=r.tax_id,
            footer_lines=tuple(r.footer_lines),
            language=r.language,
        )

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
        """Queue the sale's receipt (a reprint of the first job when asked); None: no printer."""
        if self.devices is None:
            return None
        job_id = f"receipt:{sale.sale_id}"
        try:
            if copy and self.devices.queue.job(job_id) is not None:
                info = self.devices.reprint(job_id)
            else:
                info = self.devices.print_receipt(sale_receipt(sale, self.receipt), job_id=job_id)
        except Exception:  # noqa: BLE001 - the sale is saved; a print fault must not undo it
            _LOGGER.exception("receipt %s could not be queued for printing", sale.receipt_no)
            return {"state": "failed", "detail": "the receipt could not be queued; reprint it"}
        result: dict[str, Any] = info.as_dict()
        return result

    def print_z_report(self, closure: ShiftClosure) -> dict[str, Any] | None:
        """Queue a closed shift's Z report when there is a printer."""
        if self.devices is None:
            return None
        try:
            z_number = self.store.shifts.closed_count()
            info = self.devices.print_z_report(shift_z_report(closure, self.receipt, z_number))
        except Exception:  # noqa: BLE001 - the shift is closed; printing is best effort
            _LOGGER.exception("Z report could not be queued for printing")
            return {"state": "failed"}
        result: dict[str, Any] = info.as_dict()
        return result
