"""Barcode scanners: one scan handler fed by serial scanners (pyserial) and the UI's wedge field.

``classify_scan`` (pure) decides what a scanned string is: a GTIN (validated and
normalised to GTIN-14 by ``protocol.gtin``), a document reference (receipt or
order number, printed by us as CODE128 or QR), or noise, with a sentence a
cashier can act on. ``ScanHandler`` adds the debounce window and publishes
every accepted or rejected scan on a ``ScanBus``, which the cashier's page
follows over server-sent events. ``SerialScannerReader`` reads a serial or
USB-CDC scanner in a thread and reopens the port after an unplug.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

import serial

from protocol.errors import GtinError
from protocol.gtin import normalize_gtin

_LOGGER = logging.getLogger(__name__)

DEFAULT_DEBOUNCE_MS: Final = 400
MAX_SCAN_CHARS: Final = 128
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:-]{2,63}$")
# AIM symbology identifier some scanners put in front of the data ("]E0", "]C1", ...).
_AIM_PREFIX = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
_GS1_AI01 = re.compile(r"^(?:\(01\)|01)(\d{14})")


class ScanKind(StrEnum):
    """What a scanned code is."""

    GTIN = "gtin"
    REFERENCE = "reference"


class ScanOutcome(StrEnum):
    """Whether the handler accepted a scan."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


class ScanRejected(ValueError):
    """A scan is not usable; the message tells the cashier what happened."""


def classify_scan(raw: str | bytes) -> tuple[ScanKind, str]:
    """Return (kind, code) for a scanned value or raise ScanRejected with a clear reason.

    GTIN-8/12/13/14 (and a GS1 element string starting with AI 01) become a
    GTIN-14; references of 3 to 64 letters, digits and ``. _ / : -`` that are not
    all digits (receipt and order numbers) pass as they are; anything else is
    rejected.
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("ascii")
        except UnicodeDecodeError:
            raise ScanRejected(
                "the scanner sent unreadable bytes (line noise or wrong baud rate?)"
            ) from None
    text = raw.strip(" \r\n\t")
    if not text:
        raise ScanRejected("empty scan")
    if len(text) > MAX_SCAN_CHARS:
        raise ScanRejected(f"scan too long ({len(text)} characters): noise on the line?")
    if any(not ch.isprintable() for ch in text.replace("\x1d", "")):
        raise ScanRejected("the scan contains control characters (line noise?)")
    text = _AIM_PREFIX.sub("", text)
    ai = _GS1_AI01.match(text.replace("\x1d", ""))
    if ai and not (text.isdigit() and len(text) in (8, 12, 13, 14)):
        text = ai.group(1)
    if text.isascii() and text.isdigit():
        try:
            return ScanKind.GTIN, normalize_gtin(text)
        except GtinError as err:
            raise ScanRejected(str(err)) from None
    if _REFERENCE.match(text):
        # Not all digits (those were GTINs above): receipt numbers, order ids like
        # 302-1234567-7654321, shelf labels.
        return ScanKind.REFERENCE, text
    shown = text if len(text) <= 32 else text[:29] + "..."
    raise ScanRejected(f"{shown!r} is neither a product barcode nor a receipt or order number")


@dataclass(frozen=True, slots=True)
class ScanEvent:
    """One scan as the page sees it."""

    outcome: ScanOutcome
    source: str
    at_utc: datetime
    raw: str
    kind: ScanKind | None = None
    code: str = ""
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form sent to the page."""
        return {
            "outcome": self.outcome.value,
            "source": self.source,
            "at": self.at_utc.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "raw": self.raw,
            "kind": self.kind.value if self.kind else None,
            "code": self.code,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class BusEvent:
    """An event on the bus: a sequence number (SSE ``id``), a type and JSON data."""

    seq: int
    type: str
    data: dict[str, Any]


class Subscription:
    """One listener's bounded mailbox; the oldest event is dropped when it overflows."""

    def __init__(self, maxsize: int) -> None:
        self._queue: queue.Queue[BusEvent] = queue.Queue(maxsize)
        self.dropped = 0

    def put(self, event: BusEvent) -> None:
        """Deliver an event without ever blocking the publisher."""
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def get(self, timeout_s: float) -> BusEvent | None:
        """Return the next event, or None after ``timeout_s``."""
        try:
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None


class ScanBus:
    """In-process publish/subscribe for scans and device status, with a short replay history."""

    def __init__(self, *, history: int = 64, mailbox_size: int = 256) -> None:
        self._lock = threading.Lock()
        self._subs: set[Subscription] = set()
        self._history: deque[BusEvent] = deque(maxlen=history)
        self._seq = 0
        self._mailbox_size = mailbox_size

    def publish(self, event_type: str, data: dict[str, Any]) -> BusEvent:
        """Send an event to every subscriber now."""
        with self._lock:
            self._seq += 1
            event = BusEvent(self._seq, event_type, data)
            self._history.append(event)
            subs = list(self._subs)
        for sub in subs:
            sub.put(event)
        return event

    def subscribe(self, *, after_seq: int | None = None) -> Subscription:
        """Start listening; with ``after_seq`` (SSE Last-Event-ID) replay what was missed."""
        sub = Subscription(self._mailbox_size)
        with self._lock:
            if after_seq is not None:
                for event in self._history:
                    if event.seq > after_seq:
                        sub.put(event)
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop delivering to a subscription."""
        with self._lock:
            self._subs.discard(sub)

    @property
    def subscriber_count(self) -> int:
        """Return how many listeners are connected (the wedge field's page, mostly)."""
        with self._lock:
            return len(self._subs)


class ScanHandler:
    """The one place every scan goes through: classify, debounce, publish."""

    def __init__(
        self,
        bus: ScanBus | None = None,
        *,
        debounce_ms: int = DEFAULT_DEBOUNCE_MS,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.bus = bus
        self.debounce_s = debounce_ms / 1000.0
        self._clock = clock
        self._now = now or (lambda: datetime.now(UTC))
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def _debounced(self, key: str) -> bool:
        t = self._clock()
        with self._lock:
            previous = self._last.get(key)
            self._last[key] = t
            if len(self._last) > 256:
                horizon = t - self.debounce_s
                self._last = {k: v for k, v in self._last.items() if v >= horizon}
        return previous is not None and t - previous < self.debounce_s

    def handle(self, raw: str | bytes, *, source: str) -> ScanEvent | None:
        """Process one scan; return the event, or None for a double read inside the window."""
        shown = raw.decode("ascii", "backslashreplace") if isinstance(raw, bytes) else raw
        shown = shown.strip(" \r\n\t")[:MAX_SCAN_CHARS]
        try:
            kind, code = classify_scan(raw)
        except ScanRejected as err:
            if self._debounced(f"rejected:{shown}"):
                return None
            event = ScanEvent(
                ScanOutcome.REJECTED,
                source,
                self._now(),
                shown.encode("ascii", "backslashreplace").decode("ascii"),
                message=str(err),
            )
            _LOGGER.info("scan from %s rejected: %s", source, err)
            return self._publish(event)
        if self._debounced(f"{kind.value}:{code}"):
            _LOGGER.debug("double read of %s from %s ignored", code, source)
            return None
        event = ScanEvent(ScanOutcome.ACCEPTED, source, self._now(), shown, kind, code)
        return self._publish(event)

    def reject(self, raw: str, message: str, *, source: str) -> ScanEvent:
        """Publish a rejection found by a reader (e.g. a scan without its suffix)."""
        event = ScanEvent(
            ScanOutcome.REJECTED, source, self._now(), raw[:MAX_SCAN_CHARS], message=message
        )
        _LOGGER.info("scan from %s rejected: %s", source, message)
        return self._publish(event)

    def _publish(self, event: ScanEvent) -> ScanEvent:
        if self.bus is not None:
            self.bus.publish("scan", event.as_dict())
        return event


class Suffix(StrEnum):
    """The character a scanner sends after each code."""

    CR = "cr"
    LF = "lf"
    CRLF = "crlf"
    TAB = "tab"

    @property
    def terminator(self) -> bytes:
        """Return the byte that ends a frame."""
        return {"cr": b"\r", "lf": b"\n", "crlf": b"\n", "tab": b"\t"}[self.value]

    @property
    def label(self) -> str:
        """Return the name people know from scanner manuals."""
        return {"cr": "CR", "lf": "LF", "crlf": "CR LF", "tab": "Tab"}[self.value]


@dataclass(frozen=True, slots=True)
class ScannerStatus:
    """Whether the scanner is there, for the UI and the birth message."""

    kind: str
    connected: bool | None
    since: datetime
    port: str = ""
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "kind": self.kind,
            "connected": self.connected,
            "since": self.since.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "port": self.port,
            "detail": self.detail,
        }


@dataclass(slots=True)
class _Framer:
    """Cuts a byte stream into scans at the configured suffix."""

    suffix: Suffix
    buffer: bytearray = field(default_factory=bytearray)
    last_byte_at: float = 0.0

    def feed(self, data: bytes, at: float) -> tuple[list[bytes], bytes | None]:
        """Return (complete frames, overlong garbage to reject or None)."""
        frames: list[bytes] = []
        overflow: bytes | None = None
        self.buffer += data
        self.last_byte_at = at
        term = self.suffix.terminator
        while True:
            idx = self.buffer.find(term)
            if idx < 0:
                break
            frame = bytes(self.buffer[:idx]).strip(b"\r\n\t ")
            del self.buffer[: idx + 1]
            if frame:
                frames.append(frame)
        if len(self.buffer) > MAX_SCAN_CHARS:
            overflow = bytes(self.buffer)
            self.buffer.clear()
        return frames, overflow

    def stale(self, now: float, timeout_s: float) -> bytes | None:
        """Return and drop a partial frame older than ``timeout_s`` (its suffix never came)."""
        if self.buffer and now - self.last_byte_at >= timeout_s:
            leftover = bytes(self.buffer).strip(b"\r\n\t ")
            self.buffer.clear()
            return leftover or None
        return None


class SerialScannerReader:
    """Reads a serial/USB-CDC scanner in a thread; reopens the port after an unplug."""

    kind = "serial"

    def __init__(
        self,
        url: str,
        handler: ScanHandler,
        *,
        baudrate: int = 9600,
        suffix: Suffix = Suffix.CR,
        reconnect_interval_s: float = 1.0,
        read_timeout_s: float = 0.05,
        frame_timeout_s: float = 1.0,
        on_status: Callable[[ScannerStatus], None] | None = None,
    ) -> None:
        self.url = url
        self.handler = handler
        self.baudrate = baudrate
        self.suffix = suffix
        self.reconnect_interval_s = reconnect_interval_s
        self.read_timeout_s = read_timeout_s
        self.frame_timeout_s = frame_timeout_s
        self._on_status = on_status
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._status = ScannerStatus(self.kind, False, datetime.now(UTC), url, "not opened yet")
        self._port: Any = None

    def status(self) -> ScannerStatus:
        """Return whether the port is open and since when."""
        with self._lock:
            return self._status

    def start(self) -> None:
        """Start the reader thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="scanner-reader", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the reader thread and close the port."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _set_status(self, connected: bool, detail: str) -> None:
        with self._lock:
            if self._status.connected == connected and self._status.detail == detail:
                return
            changed = self._status.connected != connected
            self._status = ScannerStatus(
                self.kind,
                connected,
                datetime.now(UTC) if changed else self._status.since,
                self.url,
                detail,
            )
            status = self._status
        if changed:
            log = _LOGGER.info if connected or self._stop.is_set() else _LOGGER.warning
            log("scanner %s %s: %s", self.url, "connected" if connected else "disconnected", detail)
            if self._on_status is not None:
                try:
                    self._on_status(status)
                except Exception:  # noqa: BLE001 - a listener must not stop scanning
                    _LOGGER.exception("scanner status listener failed")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                port = serial.serial_for_url(
                    self.url, baudrate=self.baudrate, timeout=self.read_timeout_s
                )
            except (serial.SerialException, OSError, ValueError) as err:
                self._set_status(False, f"cannot open {self.url}: {err}")
                self._stop.wait(self.reconnect_interval_s)
                continue
            self._set_status(True, f"{self.baudrate} baud, suffix {self.suffix.label}")
            try:
                self._read_loop(port)
            except (serial.SerialException, OSError) as err:
                self._set_status(False, f"scanner unplugged or port lost: {err}")
            except Exception as err:  # noqa: BLE001 - keep reading scans after a bug
                _LOGGER.exception("scanner reader failed; reopening the port")
                self._set_status(False, f"reader error: {err}")
            finally:
                try:
                    port.close()
                except (serial.SerialException, OSError):
                    pass
            self._stop.wait(self.reconnect_interval_s)
        self._set_status(False, "reader stopped")

    def _read_loop(self, port: Any) -> None:
        framer = _Framer(self.suffix)
        source = "serial"
        while not self._stop.is_set():
            chunk = port.read(max(1, port.in_waiting))
            now = time.monotonic()
            if chunk:
                frames, overflow = framer.feed(chunk, now)
                for frame in frames:
                    self.handler.handle(frame, source=source)
                if overflow is not None:
                    self.handler.reject(
                        overflow.decode("ascii", "backslashreplace"),
                        f"no {self.suffix.label} suffix within {MAX_SCAN_CHARS} characters "
                        "(noise, or the scanner's suffix setting differs)",
                        source=source,
                    )
                continue
            leftover = framer.stale(now, self.frame_timeout_s)
            if leftover is not None:
                self.handler.reject(
                    leftover.decode("ascii", "backslashreplace"),
                    f"scan without the {self.suffix.label} suffix: check the scanner's suffix "
                    "setting (or a partial read)",
                    source=source,
                )
