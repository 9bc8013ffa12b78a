"""The protocol's exception tree: one root, subclasses that carry a readable reason.

These feed the dead-letter stores on both sides, so every message says what
was wrong in words an operator understands. ``reason`` is a short, stable
machine code (a dead-letter column, a dashboard filter); ``str(error)`` is the
sentence for people.

Errors that a pydantic validator may raise (topic, money, GTIN) also subclass
ValueError: pydantic turns a ValueError into a field error, so a bad barcode
inside a catalog message becomes a ``ValidationFailed`` entry naming the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

# How many field problems str(ValidationFailed) lists before "and N more".
MAX_ERRORS_IN_MESSAGE: Final = 10


def _rebuild(cls: type[ProtocolError], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # Errors cross process boundaries (worker pools, log queues): keep them picklable
    # even where __init__ takes data rather than the message.
    return cls(*args, **kwargs)


class ProtocolError(Exception):
    """Root of every protocol error. ``reason`` is a short machine code, str() a sentence."""

    reason: str = "protocol_error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        own = {"reason": self.reason} if "reason" in vars(self) else {}
        return (_rebuild, (type(self), (str(self),), own))

    @property
    def message(self) -> str:
        """The readable sentence (the same as str(error))."""
        return str(self)


class DecodeError(ProtocolError, ValueError):
    """The payload is not UTF-8, not JSON, or not the expected top-level JSON shape."""

    reason = "invalid_json"


class PayloadTooLarge(ProtocolError, ValueError):
    """The payload is over the protocol's size limit."""

    reason = "too_large"

    def __init__(self, size: int, limit: int, *, what: str = "payload") -> None:
        super().__init__(f"{what} is {size} bytes, over the {limit}-byte limit")
        self.size = size
        self.limit = limit
        self.what = what

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), (self.size, self.limit), {"what": self.what}))


class ValidationFailed(ProtocolError, ValueError):
    """A message is JSON but does not match its model; ``errors`` lists "field: problem"."""

    reason = "invalid_message"

    def __init__(self, what: str, errors: Sequence[str]) -> None:
        self.errors: list[str] = list(errors)
        shown = "; ".join(self.errors[:MAX_ERRORS_IN_MESSAGE])
        more = len(self.errors) - MAX_ERRORS_IN_MESSAGE
        if more > 0:
            shown += f"; and {more} more"
        super().__init__(f"invalid {what}: {shown}" if shown else f"invalid {what}")
        self.what = what

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), (self.what, self.errors), {}))


class UnknownMessageType(ProtocolError, ValueError):
    """The envelope names an event type this version of Acorn does not know."""

    reason = "unknown_type"

    def __init__(self, message_type: str) -> None:
        super().__init__(f"unknown message type {message_type!r}")
        self.message_type = message_type

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), (self.message_type,), {}))


class UnsupportedVersion(ProtocolError, ValueError):
    """The message carries a protocol major version newer than this code understands."""

    reason = "unsupported_version"

    def __init__(self, version: int, supported: int = 1) -> None:
        super().__init__(
            f"protocol version {version} is not supported (this side speaks version {supported});"
            " upgrade this side"
        )
        self.version = version
        self.supported = supported

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), (self.version, self.supported), {}))


class StoreMismatch(ProtocolError, ValueError):
    """The store in the message body differs from the store in the topic."""

    reason = "store_mismatch"

    def __init__(self, topic_store: str, body_store: str) -> None:
        super().__init__(
            f"message for store {body_store!r} arrived on the topic of store {topic_store!r}"
        )
        self.topic_store = topic_store
        self.body_store = body_store

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), (self.topic_store, self.body_store), {}))


class TopicError(ProtocolError, ValueError):
    """A topic or store id is not a concrete Acorn v1 topic (or contains wildcards)."""

    reason = "invalid_topic"


class MoneyError(ProtocolError, ValueError):
    """A money amount or currency is not acceptable."""

    reason = "invalid_money"


class GtinError(ProtocolError, ValueError):
    """A barcode is not a valid GTIN."""

    reason = "invalid_gtin"


# Every reason code, for dead-letter schemas and the docs' table.
ERROR_REASONS: Final[dict[str, type[ProtocolError]]] = {
    cls.reason: cls
    for cls in (
        DecodeError,
        PayloadTooLarge,
        ValidationFailed,
        UnknownMessageType,
        UnsupportedVersion,
        StoreMismatch,
        TopicError,
        MoneyError,
        GtinError,
    )
}
