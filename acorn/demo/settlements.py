"""Amazon settlements in the demo: the sandbox closes a settlement period now and then.

Every ``SETTLEMENT_EVERY_S`` of demo time (and once more when a ``--duration`` run
ends) the demo asks the sandbox's scenario API to close the settlement period of each
marketplace (``POST /_sandbox/sellers/{id}/settlements``); the hub's scheduled import
(polling every ``HUB_POLL_S`` in the demo) fetches and imports the reports, so the
finance page has settlements, fees, refunds and reserves to show. Some orders are
refunded and some reimbursed, as in a real period.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

import httpx

_LOGGER = logging.getLogger(__name__)

SETTLEMENT_EVERY_S = 600.0
HUB_POLL_S = 20.0
"""The hub's settlement poll interval in the demo (ACORN_HUB_SETTLEMENT_POLL_S)."""
REFUND_EVERY = 7
ADJUST_EVERY = 11


class SettlementCloser:
    """Closes the seller's settlement periods in the sandbox on a demo-time schedule."""

    def __init__(
        self, *, sandbox_url: str, seller_id: str, marketplaces: list[str], speed: float
    ) -> None:
        self.sandbox_url = sandbox_url.rstrip("/")
        self.seller_id = seller_id
        self.marketplaces = marketplaces
        self.every_s = SETTLEMENT_EVERY_S / speed
        self.next_at = time.monotonic() + self.every_s
        self.closed = 0
        self.failed = 0

    def tick(self) -> None:
        """Close a period of every marketplace when it is time."""
        if time.monotonic() >= self.next_at:
            self.next_at = time.monotonic() + self.every_s
            self.close_all()

    def close_all(self) -> None:
        """Close the current period of every marketplace now."""
        with httpx.Client(base_url=self.sandbox_url, timeout=10.0) as client:
            for mkt in self.marketplaces:
                try:
                    response = client.post(
                        f"/_sandbox/sellers/{self.seller_id}/settlements",
                        json={
                            "marketplace": mkt,
                            "refund_every": REFUND_EVERY,
                            "adjust_every": ADJUST_EVERY,
                        },
                    )
                    response.raise_for_status()
                    self.closed += 1
                except httpx.HTTPError as err:
                    self.failed += 1
                    _LOGGER.warning("closing the %s settlement failed: %s", mkt, err)


def hub_settlement_count(hub_db: Path) -> int:
    """How many settlements the hub has imported (read-only look at the demo's SQLite file)."""
    import sqlite3

    conn = sqlite3.connect(f"file:{hub_db}?mode=ro", uri=True, timeout=10)
    try:
        row = conn.execute("SELECT COUNT(*) FROM settlements").fetchone()
    finally:
        with contextlib.suppress(Exception):
            conn.close()
    return int(row[0]) if row else 0


def wait_imported(hub_db: Path, count: int, timeout_s: float) -> int:
    """Wait (bounded) until the hub imported ``count`` settlements; returns how many it has."""
    deadline = time.monotonic() + timeout_s
    seen = 0
    while True:
        try:
            seen = hub_settlement_count(hub_db)
        except Exception as err:  # noqa: BLE001 - the count is informative only
            _LOGGER.warning("settlements not counted at the hub: %s", err)
        if seen >= count or time.monotonic() >= deadline:
            return seen
        time.sleep(1.0)
