"""Provisioning on the hub: stores with enrollment codes, broker credentials, hub secrets.

A store gets a one-time code (stored as a keyed hash with an expiry). Redeeming it
marks it used, gives the store a new random broker password (only its ``$7$`` hash
is kept; the clear text goes into the enrollment response and nowhere else) and
reactivates the store. Revoking a store deactivates it, drops its broker account
and voids its unused codes.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.db import stores
from hub.db.catalog import catalog_messages
from hub.db.ledger import LedgerWriter, MovementContext
from hub.db.models import Product, StockLevel, Store, StoreSync
from hub.db.models_provisioning import BrokerCredential, EnrollmentCode, HubSecret, StoreSite
from hub.db.stores import HubDataError, NotFound
from hub.db.util import for_update
from hub.domain.catalog import SKU_PATTERN
from hub.domain.geo import check_coordinates
from hub.domain.ledger import MovementKind
from provisioning import secretbox
from provisioning.acl import hash_password, new_password
from provisioning.codes import EnrollmentCodeError, hash_code, new_code, normalize_code
from provisioning.messages import BrokerAccess, EnrollResponse, StockLine, StoreConfig


class EnrollmentError(HubDataError):
    """A code that cannot be redeemed; ``code`` is typo, unknown, used, expired or revoked."""


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """A fresh enrollment code in clear (shown once) and when it stops working."""

    store_id: str
    code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Redeemed:
    """A redeemed code: the store and its new broker password (clear, for the response only)."""

    store_id: str
    username: str
    password: str


def create_store(
    session: Session,
    *,
    store_id: str,
    name: str,
    timezone: str,
    currency: str,
    address: str = "",
    lat: float | None = None,
    lon: float | None = None,
    price_list_id: str = "default",
    pepper: bytes,
    code_ttl: timedelta,
    now: datetime,
) -> IssuedCode:
    """Create the store (hub.db.stores), record its site, and issue its first enrollment code."""
    if (lat is None) != (lon is None):
        raise HubDataError("give both --lat and --lon, or neither")
    if lat is not None and lon is not None:
        try:
            check_coordinates(lat, lon)
        except ValueError as err:
            raise HubDataError(str(err)) from err
    stores.create_store(
        session,
        store_id=store_id,
        name=name,
        timezone=timezone,
        currency=currency,
        price_list_id=price_list_id,
        now=now,
    )
    session.add(StoreSite(store_id=store_id, address=address, lat=lat, lon=lon))
    session.flush()
    return issue_code(session, store_id, pepper=pepper, ttl=code_ttl, now=now)


def issue_code(
    session: Session, store_id: str, *, pepper: bytes, ttl: timedelta, now: datetime
) -> IssuedCode:
    """Issue a new code for a store; its older unused codes stop working."""
    stores.get_store(session, store_id)
    _void_codes(session, store_id, now=now)
    code = new_code()
    session.add(
        EnrollmentCode(
            store_id=store_id,
            code_hash=hash_code(normalize_code(code), pepper=pepper),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    session.flush()
    return IssuedCode(store_id, code, now + ttl)


def _void_codes(session: Session, store_id: str, *, now: datetime) -> None:
    session.execute(
        update(EnrollmentCode)
        .where(
            EnrollmentCode.store_id == store_id,
            EnrollmentCode.used_at.is_(None),
            EnrollmentCode.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


def redeem_code(
    session: Session, typed: str, *, pepper: bytes, now: datetime, used_by: str
) -> Redeemed:
    """Redeem a typed code once: mark it used, issue new broker credentials, activate the store."""
    try:
        canonical = normalize_code(typed)
    except EnrollmentCodeError as err:
        raise EnrollmentError(str(err), code="typo") from err
    row = session.scalars(
        for_update(
            session,
            select(EnrollmentCode).where(
                EnrollmentCode.code_hash == hash_code(canonical, pepper=pepper)
            ),
        )
    ).first()
    if row is None:
        raise EnrollmentError(
            "this enrollment code is not known to the hub: check it, or ask HQ for a new one",
            code="unknown",
        )
    if row.used_at is not None:
        raise EnrollmentError(
            "this enrollment code was already used; a code works once: "
            f"ask HQ for a new one (`acorn provision store code {row.store_id}`)",
            code="used",
        )
    if row.revoked_at is not None:
        raise EnrollmentError(
            "this enrollment code was replaced by a newer one or the store was revoked: "
            "use the newest code",
            code="revoked",
        )
    if now >= row.expires_at:
        raise EnrollmentError(
            f"this enrollment code expired at {row.expires_at:%Y-%m-%d %H:%M} UTC: "
            f"ask HQ for a new one (`acorn provision store code {row.store_id}`)",
            code="expired",
        )
    row.used_at = now
    row.used_by = used_by[:64]
    stores.update_store(session, row.store_id, active=True)
    password = new_password()
    credential = session.get(BrokerCredential, row.store_id)
    if credential is None:
        credential = BrokerCredential(store_id=row.store_id, username=row.store_id)
        session.add(credential)
    credential.password_hash = hash_password(password)
    credential.issued_at = now
    credential.revoked_at = None
    session.flush()
    return Redeemed(row.store_id, credential.username, password)


def revoke_store(session: Session, store_id: str, *, now: datetime) -> None:
    """Deactivate a store, drop its broker account and void its unused codes."""
    stores.update_store(session, store_id, active=False)
    credential = session.get(BrokerCredential, store_id)
    if credential is not None and credential.revoked_at is None:
        credential.revoked_at = now
    _void_codes(session, store_id, now=now)
    session.flush()


def broker_hashes(session: Session) -> dict[str, str]:
    """Username -> ``$7$`` hash of every store allowed on the broker now (active, not revoked)."""
    rows = session.execute(
        select(BrokerCredential.username, BrokerCredential.password_hash)
        .join(Store, Store.id == BrokerCredential.store_id)
        .where(BrokerCredential.revoked_at.is_(None), Store.active.is_(True))
        .order_by(BrokerCredential.username)
    )
    return {str(username): str(password_hash) for username, password_hash in rows}


def set_opening_stock(session: Session, store_id: str, csv_text: str, *, now: datetime) -> int:
    """Set a new store's starting on-hand from CSV ``sku,on_hand`` (before its box is enrolled)."""
    stores.get_store(session, store_id)
    reader = csv.DictReader(io.StringIO(csv_text))
    if not {"sku", "on_hand"} <= {c.strip().lower() for c in reader.fieldnames or []}:
        raise HubDataError("the stock CSV needs the columns sku and on_hand")
    counts: dict[str, int] = {}
    problems = []
    for raw in reader:
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        sku, qty = row.get("sku", ""), row.get("on_hand", "")
        if not SKU_PATTERN.fullmatch(sku) or not qty.isdigit():
            problems.append(f"line {reader.line_num}: sku {sku!r}, on_hand {qty!r}")
            continue
        counts[sku] = int(qty)
    if problems:
        raise HubDataError("stock CSV rows refused: " + "; ".join(problems[:20]))
    ledger = LedgerWriter(session, now=now)
    ledger.load((store_id, sku) for sku in counts)
    ctx = MovementContext(at=now, reference="opening stock")
    for sku, qty in sorted(counts.items()):
        ledger.count(store_id, sku, qty, ctx, kind=MovementKind.SET)
    ledger.flush()
    return len(counts)


def enrollment_response(
    session: Session,
    redeemed: Redeemed,
    *,
    broker_host: str,
    broker_port: int,
    ca_pem: str | None,
    hub_url: str,
    now: datetime,
) -> EnrollResponse:
    """Everything the box needs: store, broker access, catalog snapshot, starting stock."""
    store = stores.get_store(session, redeemed.store_id)
    site = session.get(StoreSite, store.id)
    sync = session.get(StoreSync, store.id)
    _, messages = catalog_messages(session, store.id, since=0, now=now)
    known = set(session.scalars(select(Product.sku)))
    stock = [
        StockLine(sku=sku, on_hand=max(0, on_hand))
        for sku, on_hand in session.execute(
            select(StockLevel.sku, StockLevel.on_hand)
            .where(StockLevel.location_id == store.id)
            .order_by(StockLevel.sku)
        )
        if sku in known
    ]
    next_seq = 1 if sync is None else max(sync.contiguous_seq, sync.highest_seen) + 1
    return EnrollResponse(
        store=StoreConfig(
            id=store.id,
            name=store.name,
            tz=store.timezone,
            currency=store.currency,
            day_start_minutes=store.day_start_minutes,
            address=site.address if site else "",
            lat=site.lat if site else None,
            lon=site.lon if site else None,
        ),
        broker=BrokerAccess.model_validate(
            {
                "host": broker_host,
                "port": broker_port,
                "tls": ca_pem is not None,
                "ca_pem": ca_pem,
                "username": redeemed.username,
                "password": redeemed.password,
            }
        ),
        hub_url=hub_url,
        hub_ca_pem=ca_pem,
        next_seq=next_seq,
        catalog=[m.model_dump(mode="json") for m in messages],
        stock=stock,
    )


# --- hub secrets ------------------------------------------------------------------------


def put_secret(session: Session, name: str, value: str, *, key: str, now: datetime) -> None:
    """Store (or replace) a named secret, encrypted with the secrets key."""
    if not name or len(name) > 100:
        raise HubDataError("a secret name has 1 to 100 characters")
    row = session.get(HubSecret, name)
    ciphertext = secretbox.encrypt(key, value)
    if row is None:
        session.add(HubSecret(name=name, ciphertext=ciphertext, updated_at=now))
    else:
        row.ciphertext = ciphertext
        row.updated_at = now
    session.flush()


def get_secret(session: Session, name: str, *, key: str) -> str:
    """Decrypt a named secret; NotFound when it was never stored."""
    row = session.get(HubSecret, name)
    if row is None:
        raise NotFound(f"no hub secret {name!r}")
    return secretbox.decrypt(key, row.ciphertext)


def secret_names(session: Session) -> list[tuple[str, datetime]]:
    """Names and change times of the stored secrets (never their values)."""
    return [
        (r.name, r.updated_at) for r in session.scalars(select(HubSecret).order_by(HubSecret.name))
    ]
