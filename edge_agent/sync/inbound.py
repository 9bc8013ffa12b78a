"""Inbound messages from the hub: decode, apply once by id, or dead-letter with the reason.

No paho here: the service hands every received (topic, payload) to
``InboundHandler.handle``, which never raises for a bad message. It returns
what happened so the service can PUBACK, resend or republish its birth.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from edge_agent.store.db import write_transaction
from edge_agent.store.errors import StoreUnavailable
from edge_agent.store.facade import EdgeStore
from edge_agent.store.orders import OrderRepository
from protocol.codec import decode_down, decode_hub_status, decode_status
from protocol.errors import ProtocolError
from protocol.messages import (
    AckMessage,
    CatalogMessage,
    CommandMessage,
    HubStatus,
    OrderMessage,
    StatusMessage,
)
from protocol.topics import HUB_STATUS, parse_topic

_LOGGER = logging.getLogger(__name__)

MAX_LOGGED_PAYLOAD_CHARS = 200


class Outcome(StrEnum):
    """What became of one inbound message."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    DEAD_LETTER = "dead_letter"
    RETRY = "retry"  # the store could not be written: do not PUBACK, let it come again
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class HandlerHooks:
    """What the sync service does for messages that steer the sync itself."""

    on_ack: Callable[[int], None]
    on_resend_from: Callable[[int], None]
    on_ping: Callable[[], None]
    on_status: Callable[[StatusMessage], None]
    on_hub_status: Callable[[HubStatus], None] = lambda _status: None


class InboundHandler:
    """Applies the hub's messages to the edge store, idempotently by message id."""

    def __init__(self, store: EdgeStore, currency: str, hooks: HandlerHooks) -> None:
        self._store = store
        self._currency = currency
        self._hooks = hooks
        self._orders: OrderRepository = store.orders  # its outbox answers cancellations

    def handle(self, topic: str, payload: bytes) -> Outcome:
        """Handle one message; never raises for bad input or a failing store."""
        try:
            return self._handle(topic, payload)
        except StoreUnavailable as err:
            _LOGGER.error("inbound message on %s not applied, store unavailable: %s", topic, err)
            return Outcome.RETRY
        except ProtocolError as err:
            return self._dead_letter(topic, payload, err.reason, str(err))
        except Exception as err:  # noqa: BLE001 - one bad message must never stop the others
            _LOGGER.exception("inbound message on %s failed", topic)
            return self._dead_letter(
                topic, payload, "handler_error", f"{type(err).__name__}: {err}"
            )

    def _dead_letter(self, topic: str, payload: bytes, reason: str, detail: str) -> Outcome:
        try:
            self._store.inbound.dead_letter(topic, payload, reason, detail)
        except StoreUnavailable as err:
            _LOGGER.error("could not keep a dead letter on %s: %s", topic, err)
            return Outcome.RETRY
        return Outcome.DEAD_LETTER

    def _handle(self, topic: str, payload: bytes) -> Outcome:
        if topic == HUB_STATUS:
            if not payload:
                return Outcome.IGNORED  # a cleared retained status
            self._hooks.on_hub_status(decode_hub_status(payload))
            return Outcome.APPLIED
        parsed = parse_topic(topic)
        if parsed.store != self._store.store_id:
            raise ProtocolError(
                f"message for store {parsed.store!r} reached store {self._store.store_id!r}",
                reason="store_mismatch",
            )
        if parsed.direction == "up":
            if parsed.channel == "status":
                if not payload:
                    return Outcome.IGNORED  # a cleared retained status (docs/protocol.md)
                self._hooks.on_status(decode_status(topic, payload))
                return Outcome.APPLIED
            return Outcome.IGNORED
        message = decode_down(topic, payload)
        if isinstance(message, AckMessage):
            self._hooks.on_ack(message.seq)
            return Outcome.APPLIED
        if isinstance(message, CatalogMessage):
            return self._apply_catalog(topic, message)
        if isinstance(message, OrderMessage):
            return self._apply_order(topic, message)
        if isinstance(message, CommandMessage):
            return self._apply_command(topic, message)
        raise ProtocolError(f"unexpected message {type(message).__name__}", reason="unknown_type")

    def _apply_catalog(self, topic: str, message: CatalogMessage) -> Outcome:
        if message.currency != self._currency:
            raise ProtocolError(
                f"catalog v{message.version} is priced in {message.currency}, this store sells in "
                f"{self._currency}",
                reason="currency_mismatch",
            )
        with write_transaction(self._store.db):
            if not self._store.inbound.mark_applied(str(message.id), topic, "catalog"):
                return Outcome.DUPLICATE
            self._store.catalog.apply(message)
        return Outcome.APPLIED

    def _apply_order(self, topic: str, message: OrderMessage) -> Outcome:
        with write_transaction(self._store.db):
            if not self._store.inbound.mark_applied(
                str(message.id), topic, f"order.{message.kind}"
            ):
                return Outcome.DUPLICATE
            self._orders.apply(message)
        return Outcome.APPLIED

    def _apply_command(self, topic: str, message: CommandMessage) -> Outcome:
        if message.kind == "resend_from":
            seq = message.args.get("seq")
            if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
                raise ProtocolError(
                    f"resend_from needs an integer seq >= 1, got {seq!r}", reason="invalid_message"
                )
        with write_transaction(self._store.db):
            if not self._store.inbound.mark_applied(str(message.id), topic, f"cmd.{message.kind}"):
                return Outcome.DUPLICATE
        # Commands act on the sync itself, after their id is recorded: a resend or a
        # ping repeated after a crash is harmless, so recording first is safe.
        if message.kind == "resend_from":
            self._hooks.on_resend_from(int(message.args["seq"]))
        elif message.kind == "ping":
            self._hooks.on_ping()
        else:
            _LOGGER.info("command %s recorded (args %s)", message.kind, sorted(message.args))
        return Outcome.APPLIED
