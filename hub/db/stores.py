"""Stores, locations and store presence (birth / Last Will with bdSeq, outages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.db.models import Location, PriceList, Store, StoreOutage, StoreStatus, StoreSync
from hub.domain.business_day import zone
from protocol.money import check_currency
from protocol.topics import validate_store_id


class HubDataError(Exception):
    """A request the data does not allow (unknown id, duplicate, wrong kind); says why."""

    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


class NotFound(HubDataError):
    """The named thing does not exist."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="not_found")


class Conflict(HubDataError):
    """The thing exists already or clashes with another."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="conflict")


def ensure_price_list(session: Session, price_list_id: str, *, currency: str) -> PriceList:
    """Return the price list, creating it in ``currency`` when missing."""
    price_list = session.get(PriceList, price_list_id)
    if price_list is None:
        price_list = PriceList(id=price_list_id, name=price_list_id, currency=currency)
        session.add(price_list)
        session.flush()
    return price_list


def create_store(
    session: Session,
    *,
    store_id: str,
    name: str,
    timezone: str,
    currency: str,
    price_list_id: str = "default",
    now: datetime,
) -> Store:
    """Create a store, its stock location, its status and sync rows."""
    try:
        validate_store_id(store_id)
    except ValueError as err:
        raise HubDataError(str(err)) from err
    try:
        zone(timezone)
        check_currency(currency)
    except ValueError as err:
        raise HubDataError(str(err)) from err
    if session.get(Store, store_id) is not None or session.get(Location, store_id) is not None:
        raise Conflict(f"store or location {store_id!r} exists already")
    price_list = ensure_price_list(session, price_list_id, currency=currency)
    if price_list.currency != currency:
        raise HubDataError(
            f"price list {price_list_id!r} is in {price_list.currency}, the store in {currency}"
        )
    store = Store(
        id=store_id,
        name=name,
        timezone=timezone,
        currency=currency,
        price_list_id=price_list_id,
        day_start_minutes=0,
        active=True,
        created_at=now,
    )
    session.add(store)
    session.flush()
    session.add(
        Location(
            id=store_id,
            kind="store",
            name=name,
            store_id=store_id,
            ships_online=True,
            active=True,
            created_at=now,
        )
    )
    session.add(StoreStatus(store_id=store_id, online=False, devices={}))
    session.add(StoreSync(store_id=store_id, contiguous_seq=0, highest_seen=0, updated_at=now))
    session.flush()
    return store


def create_warehouse(session: Session, *, location_id: str, name: str, now: datetime) -> Location:
    """Create a warehouse location (stock set by CSV or API)."""
    try:
        validate_store_id(location_id)
    except ValueError as err:
        raise HubDataError(f"location id: {err}") from err
    if session.get(Location, location_id) is not None:
        raise Conflict(f"location {location_id!r} exists already")
    location = Location(
        id=location_id,
        kind="warehouse",
        name=name,
        store_id=None,
        ships_online=True,
        active=True,
        created_at=now,
    )
    session.add(location)
    session.flush()
    return location


def get_store(session: Session, store_id: str) -> Store:
    """The store or NotFound."""
    store = session.get(Store, store_id)
    if store is None:
        raise NotFound(f"no store {store_id!r}")
    return store


def get_location(session: Session, location_id: str) -> Location:
    """The location or NotFound."""
    location = session.get(Location, location_id)
    if location is None:
        raise NotFound(f"no location {location_id!r}")
    return location


@dataclass(frozen=True, slots=True)
class PresenceChange:
    """What a status message changed: whether the store came online (a fresh birth)."""

    applied: bool
    came_online: bool = False
    went_offline: bool = False
    note: str = ""


def apply_birth(
    session: Session,
    store_id: str,
    *,
    bd_seq: int,
    at: datetime,
    now: datetime,
    agent_version: str | None,
    outbox_depth: int | None,
    oldest_unsynced_age_s: float | None,
    last_seq: int | None,
    devices: dict[str, Any],
    catalog_version: int | None,
) -> PresenceChange:
    """Record a birth: online, new bdSeq, health figures; close an open outage."""
    status = _status_for_update(session, store_id)
    fresh = not status.online or status.bd_seq != bd_seq
    status.online = True
    status.bd_seq = bd_seq
    status.agent_version = agent_version
    status.outbox_depth = outbox_depth
    status.oldest_unsynced_age_s = oldest_unsynced_age_s
    status.last_seq_reported = last_seq
    status.catalog_version_reported = catalog_version
    status.devices = dict(devices)
    status.last_seen_at = now
    status.status_at = at
    if fresh:
        status.online_since = now
        status.offline_since = None
        open_outage = session.scalars(
            select(StoreOutage)
            .where(StoreOutage.store_id == store_id, StoreOutage.ended_at.is_(None))
            .order_by(StoreOutage.id.desc())
        ).first()
        if open_outage is not None:
            open_outage.ended_at = now
    session.flush()
    return PresenceChange(applied=True, came_online=fresh)


def apply_death(
    session: Session, store_id: str, *, bd_seq: int, at: datetime, now: datetime
) -> PresenceChange:
    """Record a Last Will: offline and a new outage, unless its bdSeq is not the current birth's."""
    status = _status_for_update(session, store_id)
    if status.bd_seq is not None and status.bd_seq != bd_seq:
        return PresenceChange(applied=False, note="stale death (bdSeq is not the current birth's)")
    if not status.online and status.bd_seq == bd_seq:
        return PresenceChange(applied=False, note="already offline")
    status.online = False
    status.bd_seq = bd_seq
    status.offline_since = now
    status.status_at = at
    session.add(
        StoreOutage(
            store_id=store_id, started_at=now, ended_at=None, bd_seq=bd_seq, reason="last_will"
        )
    )
    session.flush()
    return PresenceChange(applied=True, went_offline=True)


def touch(session: Session, store_ids: set[str], *, now: datetime) -> None:
    """Mark stores as seen now (any message from them)."""
    for store_id in sorted(store_ids):
        status = session.get(StoreStatus, store_id)
        if status is not None:
            status.last_seen_at = now


def _status_for_update(session: Session, store_id: str) -> StoreStatus:
    status = session.get(StoreStatus, store_id, with_for_update=_pg(session))
    if status is None:
        status = StoreStatus(store_id=store_id, online=False, devices={})
        session.add(status)
        session.flush()
    return status


def _pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def count_open_outages(session: Session) -> int:
    """How many stores are in an open outage."""
    return int(
        session.scalar(
            select(func.count()).select_from(StoreOutage).where(StoreOutage.ended_at.is_(None))
        )
        or 0
    )


def update_store(
    session: Session, store_id: str, *, name: str | None = None, active: bool | None = None
) -> Store:
    """Rename or (de)activate a store."""
    store = get_store(session, store_id)
    if name is not None:
        store.name = name
        location = session.get(Location, store_id)
        if location is not None:
            location.name = name
    if active is not None:
        store.active = active
        location = session.get(Location, store_id)
        if location is not None:
            location.active = active
    session.flush()
    return store
