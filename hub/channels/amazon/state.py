"""The persistence seam of the channel: checkpoints, page tokens, pushed quantities, orders.

:class:`ChannelStateStore` and :class:`OrderSink` are what the importer and the
quantity pusher need; the hub database implements them. :class:`SqliteChannelStore`
implements both on one SQLite file with ``sqlite3`` (tests, tools, a single box).
"""

from __future__ import annotations

import enum
import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from hub.channels.amazon.model import AmazonOrder, order_from_dict, order_to_dict
from hub.channels.amazon.orders import RejectedOrder


@dataclass(frozen=True, slots=True)
class PageState:
    """An import interrupted between pages: its window and the token of the next page."""

    window_after: datetime
    window_before: datetime | None
    next_token: str
    pages_done: int


class PushOutcome(enum.StrEnum):
    """Where a seller SKU's quantity stands with Amazon."""

    PENDING = "pending"
    """To be sent: new, deferred by the usage plan, failed, or to re-send after a late feed."""
    IN_FEED = "in_feed"
    """Sent in a feed whose processing report is not read yet."""
    ACCEPTED = "accepted"
    """Amazon accepted it (it shows on the listing after a while)."""
    INVALID = "invalid"
    """Amazon refused it; ``issues`` say why. Not re-sent until the quantity changes."""


@dataclass(frozen=True, slots=True)
class PushRecord:
    """The last quantity pushed for a seller SKU in a marketplace, and Amazon's answer."""

    seller_sku: str
    marketplace_id: str
    quantity: int
    outcome: PushOutcome
    reference: str
    at: datetime
    issues: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PendingFeed:
    """A JSON_LISTINGS_FEED submitted and not yet reported on."""

    feed_id: str
    marketplace_id: str
    submitted_at: datetime
    messages: tuple[tuple[int, str, int], ...]
    """(messageId, seller SKU, quantity) of every message."""


class ChannelStateStore(Protocol):
    """Checkpoints and page state per (account, marketplace); push records; pending feeds."""

    def get_checkpoint(self, account: str, marketplace_id: str) -> datetime | None:
        """The LastUpdated instant up to which orders are imported."""
        ...

    def set_checkpoint(self, account: str, marketplace_id: str, at: datetime) -> None:
        """Move the checkpoint (the caller never moves it backwards)."""
        ...

    def get_page_state(self, account: str, marketplace_id: str) -> PageState | None:
        """The interrupted import to resume, if any."""
        ...

    def set_page_state(self, account: str, marketplace_id: str, state: PageState | None) -> None:
        """Remember (or clear) the interrupted import."""
        ...

    def push_records(self, account: str, marketplace_id: str) -> dict[str, PushRecord]:
        """The last push record of every seller SKU of a marketplace."""
        ...

    def record_pushes(self, account: str, records: Iterable[PushRecord]) -> None:
        """Store push records (replacing the previous one of each SKU and marketplace)."""
        ...

    def pending_feeds(self, account: str) -> list[PendingFeed]:
        """Feeds submitted and not yet reported on, oldest first."""
        ...

    def add_pending_feed(self, account: str, feed: PendingFeed) -> None:
        """Remember a submitted feed."""
        ...

    def remove_pending_feed(self, account: str, feed_id: str) -> None:
        """Forget a feed whose report was read."""
        ...


class OrderSink(Protocol):
    """Where imported orders go; deduplication by AmazonOrderId happens on the way in."""

    def stored_order(self, account: str, order_id: str) -> AmazonOrder | None:
        """The order as stored, or None when it is new."""
        ...

    def save_order(self, account: str, order: AmazonOrder) -> None:
        """Insert or replace the order."""
        ...

    def reject_order(self, account: str, rejected: RejectedOrder) -> None:
        """Keep an order that could not be parsed, with the reason (dead letter)."""
        ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS amazon_checkpoints (
    account TEXT NOT NULL, marketplace_id TEXT NOT NULL,
    checkpoint TEXT, page_state TEXT,
    PRIMARY KEY (account, marketplace_id));
CREATE TABLE IF NOT EXISTS amazon_push_records (
    account TEXT NOT NULL, marketplace_id TEXT NOT NULL, seller_sku TEXT NOT NULL,
    quantity INTEGER NOT NULL, outcome TEXT NOT NULL, reference TEXT NOT NULL,
    at TEXT NOT NULL, issues TEXT NOT NULL,
    PRIMARY KEY (account, marketplace_id, seller_sku));
CREATE TABLE IF NOT EXISTS amazon_pending_feeds (
    account TEXT NOT NULL, feed_id TEXT NOT NULL, marketplace_id TEXT NOT NULL,
    submitted_at TEXT NOT NULL, messages TEXT NOT NULL,
    PRIMARY KEY (account, feed_id));
CREATE TABLE IF NOT EXISTS amazon_orders (
    account TEXT NOT NULL, order_id TEXT NOT NULL, marketplace_id TEXT NOT NULL,
    status TEXT NOT NULL, last_updated_at TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (account, order_id));
CREATE TABLE IF NOT EXISTS amazon_rejected_orders (
    account TEXT NOT NULL, order_id TEXT NOT NULL, reason TEXT NOT NULL, raw TEXT NOT NULL,
    at TEXT NOT NULL);
"""


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class SqliteChannelStore:
    """ChannelStateStore and OrderSink on one SQLite file (WAL, one connection, a lock)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def _one(self, sql: str, args: tuple[object, ...]) -> tuple[object, ...] | None:
        with self._lock:
            row: tuple[object, ...] | None = self._db.execute(sql, args).fetchone()
            return row

    def _write(self, sql: str, args: tuple[object, ...]) -> None:
        with self._lock:
            self._db.execute(sql, args)

    # --- checkpoints ------------------------------------------------------------------------

    def get_checkpoint(self, account: str, marketplace_id: str) -> datetime | None:
        """The stored checkpoint."""
        row = self._one(
            "SELECT checkpoint FROM amazon_checkpoints WHERE account=? AND marketplace_id=?",
            (account, marketplace_id),
        )
        return _time(str(row[0])) if row and row[0] else None

    def set_checkpoint(self, account: str, marketplace_id: str, at: datetime) -> None:
        """Store the checkpoint."""
        self._write(
            "INSERT INTO amazon_checkpoints (account, marketplace_id, checkpoint) VALUES (?, ?, ?) "
            "ON CONFLICT (account, marketplace_id) DO UPDATE SET checkpoint=excluded.checkpoint",
            (account, marketplace_id, at.astimezone(UTC).isoformat()),
        )

    def get_page_state(self, account: str, marketplace_id: str) -> PageState | None:
        """The interrupted import, if any."""
        row = self._one(
            "SELECT page_state FROM amazon_checkpoints WHERE account=? AND marketplace_id=?",
            (account, marketplace_id),
        )
        if not row or not row[0]:
            return None
        data = json.loads(str(row[0]))
        after = _time(data["after"])
        if after is None:
            return None
        return PageState(after, _time(data["before"]), data["token"], int(data["pages"]))

    def set_page_state(self, account: str, marketplace_id: str, state: PageState | None) -> None:
        """Store or clear the interrupted import."""
        text = (
            None
            if state is None
            else json.dumps(
                {
                    "after": state.window_after.isoformat(),
                    "before": None
                    if state.window_before is None
                    else state.window_before.isoformat(),
                    "token": state.next_token,
                    "pages": state.pages_done,
                }
            )
        )
        self._write(
            "INSERT INTO amazon_checkpoints (account, marketplace_id, page_state) VALUES (?, ?, ?) "
            "ON CONFLICT (account, marketplace_id) DO UPDATE SET page_state=excluded.page_state",
            (account, marketplace_id, text),
        )

    # --- pushes -------------------------------------------------------------------------------

    def push_records(self, account: str, marketplace_id: str) -> dict[str, PushRecord]:
        """The last push record of every SKU of a marketplace."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seller_sku, quantity, outcome, reference, at, issues "
                "FROM amazon_push_records WHERE account=? AND marketplace_id=?",
                (account, marketplace_id),
            ).fetchall()
        return {
            sku: PushRecord(
                sku,
                marketplace_id,
                int(qty),
                PushOutcome(outcome),
                ref,
                datetime.fromisoformat(at),
                tuple(json.loads(issues)),
            )
            for sku, qty, outcome, ref, at, issues in rows
        }

    def record_pushes(self, account: str, records: Iterable[PushRecord]) -> None:
        """Replace the push records of the given SKUs in one transaction."""
        rows = [
            (
                account,
                r.marketplace_id,
                r.seller_sku,
                r.quantity,
                r.outcome.value,
                r.reference,
                r.at.astimezone(UTC).isoformat(),
                json.dumps(list(r.issues)),
            )
            for r in records
        ]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO amazon_push_records VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def pending_feeds(self, account: str) -> list[PendingFeed]:
        """Feeds awaiting their processing report, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT feed_id, marketplace_id, submitted_at, messages FROM amazon_pending_feeds "
                "WHERE account=? ORDER BY submitted_at, feed_id",
                (account,),
            ).fetchall()
        return [
            PendingFeed(
                fid,
                mid,
                datetime.fromisoformat(at),
                tuple((int(m), str(s), int(q)) for m, s, q in json.loads(msgs)),
            )
            for fid, mid, at, msgs in rows
        ]

    def add_pending_feed(self, account: str, feed: PendingFeed) -> None:
        """Remember a submitted feed."""
        self._write(
            "INSERT OR REPLACE INTO amazon_pending_feeds VALUES (?, ?, ?, ?, ?)",
            (
                account,
                feed.feed_id,
                feed.marketplace_id,
                feed.submitted_at.astimezone(UTC).isoformat(),
                json.dumps([list(m) for m in feed.messages]),
            ),
        )

    def remove_pending_feed(self, account: str, feed_id: str) -> None:
        """Forget a reported feed."""
        self._write(
            "DELETE FROM amazon_pending_feeds WHERE account=? AND feed_id=?", (account, feed_id)
        )

    # --- orders -------------------------------------------------------------------------------

    def stored_order(self, account: str, order_id: str) -> AmazonOrder | None:
        """The stored order or None."""
        row = self._one(
            "SELECT data FROM amazon_orders WHERE account=? AND order_id=?", (account, order_id)
        )
        return order_from_dict(json.loads(str(row[0]))) if row else None

    def save_order(self, account: str, order: AmazonOrder) -> None:
        """Insert or replace the order (one row per AmazonOrderId)."""
        self._write(
            "INSERT OR REPLACE INTO amazon_orders VALUES (?, ?, ?, ?, ?, ?)",
            (
                account,
                order.order_id,
                order.marketplace_id,
                order.status.value,
                order.last_updated_at.isoformat(),
                json.dumps(order_to_dict(order)),
            ),
        )

    def reject_order(self, account: str, rejected: RejectedOrder) -> None:
        """Keep an unparseable order with its reason."""
        self._write(
            "INSERT INTO amazon_rejected_orders VALUES (?, ?, ?, ?, ?)",
            (
                account,
                rejected.order_id,
                rejected.reason,
                json.dumps(rejected.raw),
                datetime.now(UTC).isoformat(),
            ),
        )

    def orders(self, account: str) -> list[AmazonOrder]:
        """Every stored order of the account (for reports and tests)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT data FROM amazon_orders WHERE account=? ORDER BY order_id", (account,)
            ).fetchall()
        return [order_from_dict(json.loads(r[0])) for r in rows]

    def rejected_orders(self, account: str) -> list[tuple[str, str]]:
        """(order id, reason) of every rejected order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT order_id, reason FROM amazon_rejected_orders WHERE account=?", (account,)
            ).fetchall()
        return [(str(a), str(b)) for a, b in rows]
