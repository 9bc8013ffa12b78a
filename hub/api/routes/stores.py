"""/api/v1/stores: stores, their status and outages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from hub.api.deps import NowDep, Operator, SessionDep
from hub.api.schemas import (
    OutagePublic,
    PagePublic,
    StoreCreate,
    StorePublic,
    StoreStatusPublic,
    StoreSyncPublic,
    StoreUpdate,
)
from hub.db import queries
from hub.db import stores as stores_repo

router = APIRouter(prefix="/stores", tags=["stores"])


def store_public(store: Any, status: Any, sync: Any) -> StorePublic:
    """Assemble a store with its status rows."""
    return StorePublic(
        id=store.id,
        name=store.name,
        timezone=store.timezone,
        currency=store.currency,
        price_list=store.price_list_id,
        active=store.active,
        created_at=store.created_at,
        status=None
        if status is None
        else StoreStatusPublic.model_validate(status, from_attributes=True),
        sync=None
        if sync is None
        else StoreSyncPublic(
            contiguous_seq=sync.contiguous_seq,
            highest_seen=sync.highest_seen,
            lag=max(0, sync.highest_seen - sync.contiguous_seq),
            gap_since=sync.gap_since,
            last_resend_at=sync.last_resend_at,
            catalog_version_sent=sync.catalog_version_sent,
        ),
    )


@router.get("", response_model=PagePublic[StorePublic])
def list_stores(
    session: SessionDep,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    online: bool | None = None,
    active: bool | None = None,
) -> PagePublic[StorePublic]:
    """Stores with presence, health and sync lag."""
    page = queries.stores_page(session, limit=limit, offset=offset, online=online, active=active)
    return PagePublic(
        items=[store_public(*row) for row in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("", response_model=StorePublic, status_code=201)
def create_store(body: StoreCreate, session: SessionDep, now: NowDep, _: Operator) -> StorePublic:
    """Create a store (and its stock location)."""
    stores_repo.create_store(
        session,
        store_id=body.id,
        name=body.name,
        timezone=body.timezone,
        currency=body.currency.upper(),
        price_list_id=body.price_list,
        now=now,
    )
    return get_store(body.id, session)


@router.get("/{store_id}", response_model=StorePublic)
def get_store(store_id: str, session: SessionDep) -> StorePublic:
    """One store."""
    row = queries.store_detail(session, store_id)
    if row is None:
        raise stores_repo.NotFound(f"no store {store_id!r}")
    return store_public(*row)


@router.patch("/{store_id}", response_model=StorePublic)
def update_store(store_id: str, body: StoreUpdate, session: SessionDep, _: Operator) -> StorePublic:
    """Rename or (de)activate a store; events from an inactive store are dead-lettered."""
    stores_repo.update_store(session, store_id, name=body.name, active=body.active)
    return get_store(store_id, session)


@router.get("/{store_id}/outages", response_model=PagePublic[OutagePublic])
def list_outages(
    store_id: str,
    session: SessionDep,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> PagePublic[OutagePublic]:
    """The store's outage history, newest first."""
    stores_repo.get_store(session, store_id)
    page = queries.outages_page(session, store_id, limit=limit, offset=offset)
    return PagePublic(
        items=[OutagePublic.model_validate(r[0]) for r in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )
