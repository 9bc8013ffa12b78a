"""The protocol's exception tree: one root, subclasses that carry a readable reason.

These feed the dead-letter stores on both sides, so every message says what
was wrong in words an operator understands.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Root of every protocol error. ``reason`` is a short machine code, str() a sentence."""

    reason: str = "protocol_error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class MoneyError(ProtocolError, ValueError):
    """A money amount or currency is not acceptable."""

    reason = "invalid_money"


class GtinError(ProtocolError, ValueError):
    """A barcode is not a valid GTIN."""

    reason = "invalid_gtin"
