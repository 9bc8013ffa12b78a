"""The sandbox's world: sellers, tokens, orders, listings, feeds, reports, faults.

Everything lives in memory in plain dataclasses and can be written to and read
from a JSON snapshot file. Every operation takes ``now`` (an aware UTC datetime)
from the app's clock, so tests can move time forward through the scenario API.
Time-driven changes (a feed moving to DONE, an accepted quantity becoming
visible) are applied lazily by :meth:`SandboxState.advance` at the start of each
request, so nothing runs in the background.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import os
import random
import re
import secrets
import tempfile
import types
import typing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from hub.channels.amazon.ratelimit import TokenBucket
from hub.channels.amazon.sandbox import spec
from hub.channels.amazon.usage_plans import FALLBACK_PLAN

FAST_RATE_SCALE: Final = 100.0
DEFAULT_CLIENT_ID: Final = "amzn1.application-oa2-client.acornsandbox"
DEFAULT_CLIENT_SECRET: Final = "acorn-sandbox-client-secret"  # a public test value
NEXT_TOKEN_PREFIX: Final = b"\xfb\xef\xff"  # base64 "++//": every token needs URL-encoding


class SandboxApiError(Exception):
    """An SP-API error answer: HTTP status plus the ``errors[0]`` fields."""

    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        """The SP-API error body ``{"errors": [{code, message, details}]}``."""
        return {"errors": [{"code": self.code, "message": self.message, "details": self.details}]}


def invalid_input(message: str, details: str = "") -> SandboxApiError:
    """400 InvalidInput, the answer to most bad requests."""
    return SandboxApiError(400, "InvalidInput", message, details)


def not_found(message: str) -> SandboxApiError:
    """404 NotFound."""
    return SandboxApiError(404, "NotFound", message)


class LwaError(Exception):
    """An OAuth error answer of the LWA token endpoint."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


@dataclass
class Settings:
    """Knobs of the emulation; ``fast`` scales refill rates and shortens every delay."""

    rate_scale: float = 1.0
    access_token_ttl_s: int = 3600
    listing_apply_delay_s: float = 2.0
    feed_queue_s: float = 2.0
    feed_processing_s: float = 3.0
    document_url_ttl_s: int = 300
    next_token_ttl_s: int = 86_400

    @classmethod
    def fast_mode(cls) -> Settings:
        """Settings for tests and the demo: 100x refill rates, sub-second delays."""
        return cls(
            rate_scale=FAST_RATE_SCALE,
            listing_apply_delay_s=0.2,
            feed_queue_s=0.1,
            feed_processing_s=0.2,
        )


@dataclass
class RefreshToken:
    """One authorization of the application by a seller."""

    token: str
    revoked: bool = False


@dataclass
class Seller:
    """A selling partner account that authorized the application."""

    seller_id: str
    store_name: str
    marketplace_ids: list[str]
    refresh_tokens: list[RefreshToken]
    access_token_ttl_s: int | None = None


@dataclass
class AccessToken:
    """An LWA access token handed out for a refresh token."""

    token: str
    seller_id: str
    refresh_token: str
    expires_at: datetime


@dataclass
class OrderItem:
    """One line of a sandbox order; money as decimal strings in the order's currency."""

    order_item_id: str
    seller_sku: str
    asin: str
    title: str
    quantity_ordered: int
    unit_price: str
    quantity_shipped: int = 0
    item_tax: str = "0.00"
    shipping_price: str = "0.00"
    shipping_tax: str = "0.00"
    promotion_discount: str = "0.00"


@dataclass
class PackageItem:
    """An item line of a confirmed package."""

    order_item_id: str
    quantity: int


@dataclass
class Package:
    """A package the seller confirmed with confirmShipment."""

    package_reference_id: str
    carrier_code: str
    carrier_name: str
    shipping_method: str
    tracking_number: str
    ship_date: datetime
    items: list[PackageItem]
    confirmed_at: datetime


@dataclass
class Order:
    """A sandbox order, rendered as Orders v0 or Orders 2026-01-01 on the way out."""

    order_id: str
    seller_id: str
    marketplace_id: str
    status: str
    fulfillment_channel: str
    purchase_date: datetime
    last_update_date: datetime
    visible_at: datetime
    currency: str
    items: list[OrderItem]
    seller_order_id: str = ""
    ship_city: str = "SEATTLE"
    ship_state: str = "WA"
    ship_postal_code: str = "98121"
    ship_country: str = "US"
    ship_service_level: str = "Std US D2D Dom"
    ship_service_category: str = "Standard"
    earliest_ship_date: datetime | None = None
    latest_ship_date: datetime | None = None
    is_prime: bool = False
    is_business: bool = False
    packages: list[Package] = field(default_factory=list)


@dataclass
class PendingQuantity:
    """An accepted quantity that becomes visible on the listing at ``apply_at``."""

    quantity: int
    apply_at: datetime
    reference: str


@dataclass
class Offer:
    """A listing's offer in one marketplace."""

    marketplace_id: str
    asin: str
    price: str
    currency: str
    quantity: int
    written_quantity: int
    created: datetime
    updated: datetime
    pending: list[PendingQuantity] = field(default_factory=list)


@dataclass
class Listing:
    """A seller SKU with its offers per marketplace."""

    seller_id: str
    sku: str
    product_type: str
    item_name: str
    offers: dict[str, Offer]
    reject_reason: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class PushRecord:
    """A quantity the seller pushed and Amazon accepted (read back by the scenario API)."""

    seller_id: str
    sku: str
    marketplace_id: str
    quantity: int
    via: str
    reference: str
    at: datetime


@dataclass
class Document:
    """A feed or report document behind a presigned URL."""

    document_id: str
    seller_id: str
    kind: str
    content_type: str
    expires_at: datetime
    content_b64: str | None = None
    compression: str | None = None


@dataclass
class Feed:
    """A submitted feed and its processing state."""

    feed_id: str
    seller_id: str
    feed_type: str
    marketplace_ids: list[str]
    input_document_id: str
    created: datetime
    status: str = "IN_QUEUE"
    started: datetime | None = None
    ended: datetime | None = None
    result_document_id: str | None = None


@dataclass
class Report:
    """A report (settlement reports are made by the scenario API only)."""

    report_id: str
    seller_id: str
    report_type: str
    marketplace_ids: list[str]
    created: datetime
    status: str
    data_start: datetime | None = None
    data_end: datetime | None = None
    document_id: str | None = None
    reserve_held: str = "0"
    """A settlement's Current Reserve Amount Balance (released by the next settlement)."""


@dataclass
class Fault:
    """An injected misbehaviour: errors (5xx), throttles (429) or slow answers."""

    fault_id: str
    kind: str
    remaining: int
    operation: str | None = None
    seller_id: str | None = None
    status: int = 500
    delay_s: float = 0.0
    empty_body: bool = False
    probability: float = 1.0


@dataclass
class SandboxState:
    """The whole emulated world; serialisable to a JSON snapshot."""

    settings: Settings = field(default_factory=Settings)
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    secret: str = field(default_factory=lambda: secrets.token_hex(16))
    clock_offset_s: float = 0.0
    sequence: int = 0
    sellers: dict[str, Seller] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    listings: dict[str, Listing] = field(default_factory=dict)
    pushes: list[PushRecord] = field(default_factory=list)
    documents: dict[str, Document] = field(default_factory=dict)
    feeds: dict[str, Feed] = field(default_factory=dict)
    reports: dict[str, Report] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    stats: dict[str, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._rng = random.Random(self.secret)
        self.dirty = False

    # --- identifiers ----------------------------------------------------------------

    def next_number(self) -> int:
        """A fresh sequence number (ids are derived from it, so snapshots stay consistent)."""
        self.sequence += 1
        return self.sequence

    # --- sellers and LWA ------------------------------------------------------------

    def add_seller(
        self,
        *,
        seller_id: str | None = None,
        marketplace_ids: list[str],
        store_name: str = "",
        access_token_ttl_s: int | None = None,
    ) -> tuple[Seller, str]:
        """Create a seller that authorized the application; returns it and its refresh token."""
        number = self.next_number()
        sid = seller_id or f"A{number:04d}SANDBOX{secrets.token_hex(3).upper()}"
        if sid in self.sellers:
            raise invalid_input(f"seller {sid} exists already")
        refresh = f"Atzr|sandbox-{sid}-{secrets.token_urlsafe(24)}"
        seller = Seller(
            seller_id=sid,
            store_name=store_name or f"Sandbox store {number}",
            marketplace_ids=list(marketplace_ids),
            refresh_tokens=[RefreshToken(refresh)],
            access_token_ttl_s=access_token_ttl_s,
        )
        self.sellers[sid] = seller
        self.dirty = True
        return seller, refresh

    def seller(self, seller_id: str) -> Seller:
        """The seller ``seller_id`` or a 404."""
        found = self.sellers.get(seller_id)
        if found is None:
            raise not_found(f"unknown seller {seller_id}")
        return found

    def revoke(self, seller_id: str) -> int:
        """Revoke every refresh token of a seller and the access tokens issued for them."""
        seller = self.seller(seller_id)
        for rt in seller.refresh_tokens:
            rt.revoked = True
        dropped = [t for t, at in self.access_tokens.items() if at.seller_id == seller_id]
        for token in dropped:
            del self.access_tokens[token]
        self.dirty = True
        return len(dropped)

    def reauthorize(self, seller_id: str) -> str:
        """The seller authorizes the application again: a new refresh token."""
        seller = self.seller(seller_id)
        refresh = f"Atzr|sandbox-{seller_id}-{secrets.token_urlsafe(24)}"
        seller.refresh_tokens.append(RefreshToken(refresh))
        self.dirty = True
        return refresh

    def expire_access_tokens(self, now: datetime, seller_id: str | None = None) -> int:
        """Make every (or one seller's) access token expire now."""
        count = 0
        for at in self.access_tokens.values():
            if seller_id is None or at.seller_id == seller_id:
                at.expires_at = min(at.expires_at, now - timedelta(seconds=1))
                count += 1
        self.dirty = True
        return count

    def grant(self, form: dict[str, str], now: datetime) -> dict[str, Any]:
        """The LWA token endpoint: exchange a refresh token for an access token."""
        grant_type = form.get("grant_type", "")
        if not grant_type:
            raise LwaError(
                400, "invalid_request", "The request is missing a required parameter : grant_type"
            )
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            raise LwaError(401, "invalid_client", "Client authentication failed")
        if grant_type != "refresh_token":
            raise LwaError(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}")
        refresh = form.get("refresh_token", "")
        for seller in self.sellers.values():
            for rt in seller.refresh_tokens:
                if rt.token == refresh and not rt.revoked:
                    ttl = seller.access_token_ttl_s or self.settings.access_token_ttl_s
                    token = f"Atza|sandbox-{secrets.token_urlsafe(32)}"
                    self.access_tokens[token] = AccessToken(
                        token, seller.seller_id, refresh, now + timedelta(seconds=ttl)
                    )
                    self._drop_expired_tokens(now)
                    self.dirty = True
                    return {
                        "access_token": token,
                        "refresh_token": refresh,
                        "token_type": "bearer",
                        "expires_in": ttl,
                    }
        raise LwaError(
            400,
            "invalid_grant",
            "The request has an invalid grant parameter : refresh_token. "
            "User may have revoked or didn't grant the permission.",
        )

    def _drop_expired_tokens(self, now: datetime) -> None:
        cutoff = now - timedelta(days=1)
        for token in [t for t, at in self.access_tokens.items() if at.expires_at < cutoff]:
            del self.access_tokens[token]

    def authenticate(self, token: str | None, now: datetime) -> Seller:
        """The seller behind an ``x-amz-access-token``; 403 Unauthorized otherwise."""
        denied = "Access to requested resource is denied."
        if not token:
            raise SandboxApiError(403, "Unauthorized", denied, "The request has no access token.")
        found = self.access_tokens.get(token)
        if found is None:
            raise SandboxApiError(403, "Unauthorized", denied, "The access token is invalid.")
        if found.expires_at <= now:
            raise SandboxApiError(
                403, "Unauthorized", denied, "The access token you provided has expired."
            )
        return self.sellers[found.seller_id]

    # --- rate limits, faults, statistics --------------------------------------------

    def rate_of(self, operation: str) -> float:
        """The operation's refill rate as applied (usage plan rate times ``rate_scale``)."""
        plan = spec.usage_plans().get(operation, FALLBACK_PLAN)
        return plan.rate * self.settings.rate_scale

    def take_token(self, operation: str, seller_id: str, now: datetime) -> bool:
        """Take a token from the (operation, seller) bucket; False means 429."""
        key = (operation, seller_id)
        bucket = self._buckets.get(key)
        if bucket is None:
            plan = spec.usage_plans().get(operation, FALLBACK_PLAN)
            bucket = TokenBucket.full(plan, now.timestamp(), rate_scale=self.settings.rate_scale)
            self._buckets[key] = bucket
        return bucket.try_take(now.timestamp())

    def reset_buckets(self) -> None:
        """Forget every bucket (after a change of ``rate_scale``)."""
        self._buckets.clear()

    def add_fault(self, fault: Fault) -> Fault:
        """Register an injected fault."""
        self.faults.append(fault)
        self.dirty = True
        return fault

    def take_fault(self, operation: str, seller_id: str) -> Fault | None:
        """The first live fault matching this call (its count goes down by one)."""
        for fault in self.faults:
            if fault.remaining <= 0:
                continue
            if fault.operation not in (None, operation) and not operation.startswith(
                f"{fault.operation}/"
            ):
                continue
            if fault.seller_id not in (None, seller_id):
                continue
            if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                continue
            fault.remaining -= 1
            self.faults = [f for f in self.faults if f.remaining > 0]
            self.dirty = True
            return fault
        return None

    def count(self, seller_id: str, operation: str, outcome: str) -> None:
        """Count one answered call by outcome (ok, throttled, error, denied, invalid)."""
        per = self.stats.setdefault(f"{seller_id}|{operation}", {})
        per[outcome] = per.get(outcome, 0) + 1
        per["calls"] = per.get("calls", 0) + 1

    # --- time-driven changes ----------------------------------------------------------

    def advance(self, now: datetime) -> None:
        """Apply everything that became due by ``now``: feed progress, visible quantities."""
        from hub.channels.amazon.sandbox import listings_api  # circular at import time

        for feed in self.feeds.values():
            if feed.status in ("IN_QUEUE", "IN_PROGRESS"):
                listings_api.progress_feed(self, feed, now)
        for listing in self.listings.values():
            for offer in listing.offers.values():
                if offer.pending and offer.pending[0].apply_at <= now:
                    due = [p for p in offer.pending if p.apply_at <= now]
                    offer.pending = [p for p in offer.pending if p.apply_at > now]
                    offer.quantity = due[-1].quantity
                    offer.updated = due[-1].apply_at
                    self.dirty = True

    # --- NextToken -----------------------------------------------------------------------

    def encode_token(self, data: dict[str, Any]) -> str:
        """An opaque, signed pagination token (standard base64: it holds ``+``, ``/``, ``=``)."""
        raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        mac = hmac.new(self.secret.encode(), raw, hashlib.sha256).digest()[:12]
        return base64.b64encode(NEXT_TOKEN_PREFIX + mac + raw).decode("ascii")

    def decode_token(self, token: str, now: datetime) -> dict[str, Any]:
        """The data of a token this sandbox issued; 400 when it cannot be decoded or expired."""
        try:
            blob = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            raise invalid_input("We could not decode your NextToken.") from None
        mac, raw = blob[len(NEXT_TOKEN_PREFIX) : len(NEXT_TOKEN_PREFIX) + 12], blob[15:]
        good = hmac.new(self.secret.encode(), raw, hashlib.sha256).digest()[:12]
        if not blob.startswith(NEXT_TOKEN_PREFIX) or not hmac.compare_digest(mac, good):
            raise invalid_input("We could not decode your NextToken.")
        data: dict[str, Any] = json.loads(raw)
        issued = parse_iso(str(data.get("issued", "")), "NextToken")
        if now - issued > timedelta(seconds=self.settings.next_token_ttl_s):
            raise invalid_input("The NextToken has expired.")
        return data

    # --- snapshot ------------------------------------------------------------------------

    def to_json(self) -> str:
        """The whole state as JSON text."""
        return json.dumps(_encode(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SandboxState:
        """Rebuild a state from :meth:`to_json` output."""
        state = _decode(cls, json.loads(text))
        if not isinstance(state, SandboxState):
            raise TypeError("not a sandbox snapshot")
        return state

    def save(self, path: Path) -> None:
        """Write the snapshot atomically (temp file + rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sandbox-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(self.to_json())
        os.replace(tmp, path)
        self.dirty = False

    @classmethod
    def load_or_new(cls, path: Path | None, *, settings: Settings | None = None) -> SandboxState:
        """Load the snapshot at ``path`` when it exists, else a fresh state."""
        if path is not None and path.exists():
            state = cls.from_json(path.read_text(encoding="utf-8"))
            if settings is not None:
                state.settings = settings
            return state
        return cls(settings=settings or Settings())


# --- helpers shared by the API modules ------------------------------------------------------

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$")


def parse_iso(value: str, name: str) -> datetime:
    """Parse an ISO 8601 instant as SP-API wants it; a space or ``+0000`` is refused (400)."""
    if not _ISO.match(value):
        raise invalid_input(
            f"Invalid {name}: {value!r}. The timestamp must follow ISO8601.",
        )
    text = value.replace("Z", "+00:00")
    if "." in text:  # Python 3.11 accepts at most 6 fractional digits
        head, _, tail = text.partition(".")
        digits = re.match(r"\d+", tail)
        frac = digits.group(0) if digits else ""
        text = f"{head}.{frac[:6].ljust(6, '0')}{tail[len(frac) :]}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso(at: datetime) -> str:
    """Format an instant like SP-API does: UTC, seconds, ``Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def multi_values(params: dict[str, list[str]], name: str) -> list[str]:
    """Values of an array query parameter, comma-separated and/or repeated."""
    out: list[str] = []
    for raw in params.get(name, []):
        out.extend(v for v in (p.strip() for p in raw.split(",")) if v)
    return out


def single(params: dict[str, list[str]], name: str) -> str | None:
    """The value of a scalar query parameter (the last one when repeated)."""
    values = params.get(name)
    return values[-1] if values else None


# --- generic JSON encoding of the dataclasses ------------------------------------------------


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    return value


def _decode(tp: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode(inner[0], data)
    if origin is list:
        (item,) = typing.get_args(tp)
        return [_decode(item, v) for v in data]
    if origin is dict:
        _, item = typing.get_args(tp)
        return {k: _decode(item, v) for k, v in data.items()}
    if tp is datetime:
        return datetime.fromisoformat(data)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp)
        kwargs = {
            f.name: _decode(hints[f.name], data[f.name])
            for f in dataclasses.fields(tp)
            if f.init and f.name in data
        }
        return tp(**kwargs)
    return data
