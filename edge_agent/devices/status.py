"""Printer status values and the decoding of ESC/POS real-time status (DLE EOT n) bytes.

Pure: no I/O. ``DLE EOT 1`` reports the printer status, ``DLE EOT 2`` the cause of
an offline state (cover open, paper end, error) and ``DLE EOT 4`` the roll paper
sensor (near end, end). Every answer byte has bits 1 and 4 set and bits 0 and 7
clear; an answer without that pattern is not a status byte and is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

DLE_EOT: Final = b"\x10\x04"
STATUS_PRINTER: Final = 1
STATUS_OFFLINE_CAUSE: Final = 2
STATUS_PAPER: Final = 4

_FIXED_MASK: Final = 0x93
_FIXED_BITS: Final = 0x12
_BIT_OFFLINE: Final = 0x08
_BIT_COVER_OPEN: Final = 0x04
_BIT_PAPER_END_STOP: Final = 0x20
_BIT_ERROR: Final = 0x40
_BITS_NEAR_END: Final = 0x0C
_BITS_PAPER_END: Final = 0x60


class PaperState(StrEnum):
    """Roll paper as the printer's sensors see it."""

    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What the UI, the birth message and the print queue know about a printer.

    ``online`` means reachable (the connection opens). ``cover_open`` and
    ``paper`` come from DLE EOT when the printer answers it, else they are
    None / unknown and the printer is assumed ready.
    """

    online: bool
    paper: PaperState = PaperState.UNKNOWN
    cover_open: bool | None = None
    error: bool = False
    detail: str = ""

    @property
    def ready(self) -> bool:
        """Return True when a print job can be sent now."""
        return (
            self.online
            and self.paper is not PaperState.OUT
            and self.cover_open is not True
            and not self.error
        )

    @property
    def state(self) -> str:
        """Return one word for the UI and events: offline, cover_open, paper_out, error, ready."""
        if not self.online:
            return "offline"
        if self.cover_open:
            return "cover_open"
        if self.paper is PaperState.OUT:
            return "paper_out"
        if self.error:
            return "error"
        return "ready"

    def as_dict(self) -> dict[str, object]:
        """Return the JSON form used by the status API and the birth message."""
        return {
            "online": self.online,
            "paper": self.paper.value,
            "cover_open": self.cover_open,
            "error": self.error,
            "state": self.state,
            "detail": self.detail,
        }


def is_status_byte(value: int) -> bool:
    """Return True if a byte has the fixed bit pattern of a DLE EOT answer."""
    return 0 <= value <= 0xFF and value & _FIXED_MASK == _FIXED_BITS


def status_query(n: int) -> bytes:
    """Return the DLE EOT n real-time status request."""
    return DLE_EOT + bytes([n])


def status_from_dle_eot(
    printer: int | None, offline_cause: int | None, paper: int | None, *, detail: str = ""
) -> PrinterStatus:
    """Decode the answers to DLE EOT 1, 2 and 4 (None when the printer did not answer)."""
    printer = printer if printer is not None and is_status_byte(printer) else None
    offline_cause = (
        offline_cause if offline_cause is not None and is_status_byte(offline_cause) else None
    )
    paper = paper if paper is not None and is_status_byte(paper) else None

    paper_state = PaperState.UNKNOWN
    if paper is not None:
        if paper & _BITS_PAPER_END:
            paper_state = PaperState.OUT
        elif paper & _BITS_NEAR_END:
            paper_state = PaperState.NEAR_END
        else:
            paper_state = PaperState.OK
    cover_open: bool | None = None
    error = False
    if offline_cause is not None:
        cover_open = bool(offline_cause & _BIT_COVER_OPEN)
        error = bool(offline_cause & _BIT_ERROR)
        if offline_cause & _BIT_PAPER_END_STOP:
            paper_state = PaperState.OUT
    if (
        printer is not None
        and printer & _BIT_OFFLINE
        and not cover_open
        and paper_state is not PaperState.OUT
    ):
        # Offline for a reason DLE EOT 2 did not name (e.g. paper being fed): not ready yet.
        error = True
    if printer is None and offline_cause is None and paper is None and not detail:
        detail = "printer does not answer real-time status requests (DLE EOT)"
    return PrinterStatus(
        online=True, paper=paper_state, cover_open=cover_open, error=error, detail=detail
    )


def encode_dle_eot_answer(
    n: int, *, offline: bool = False, cover_open: bool = False, paper: PaperState = PaperState.OK
) -> int:
    """Return the byte a printer with this state answers to DLE EOT n (for simulators)."""
    value = _FIXED_BITS
    if n == STATUS_PRINTER and (offline or cover_open or paper is PaperState.OUT):
        value |= _BIT_OFFLINE
    elif n == STATUS_OFFLINE_CAUSE:
        if cover_open:
            value |= _BIT_COVER_OPEN
        if paper is PaperState.OUT:
            value |= _BIT_PAPER_END_STOP
    elif n == STATUS_PAPER:
        if paper is PaperState.OUT:
            value |= _BITS_PAPER_END | _BITS_NEAR_END
        elif paper is PaperState.NEAR_END:
            value |= _BITS_NEAR_END
    return value
