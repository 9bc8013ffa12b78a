"""/healthz, /readyz (public, for probes), /metrics, /docs and /openapi.json (authenticated)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from hub.api.deps import require_principal
from hub.db.deadletters import open_counts_by_reason
from hub.db.migrate import current_revision, head_revision
from hub.db.models import Store, StoreStatus, StoreSync
from hub.metrics import Metric

_LOGGER = logging.getLogger(__name__)
public = APIRouter(tags=["system"])
private = APIRouter(tags=["system"], dependencies=[Depends(require_principal)])


@public.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@public.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Readiness: the database answers at the newest migration, and ingest is connected."""
    checks: dict[str, str] = {}
    try:
        revision = current_revision(request.app.state.engine)
        checks["database"] = "ok" if revision == head_revision() else "not migrated"
    except SQLAlchemyError:
        _LOGGER.warning("readiness: database unreachable", exc_info=True)
        checks["database"] = "unreachable"
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        checks["ingest"] = "ok" if worker.healthy else "disconnected"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
    )


@private.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    """Prometheus metrics: ingest rate, per-store lag and outbox depth, dead letters."""
    online = Metric("acorn_hub_store_online", "1 when the store's last status is a birth", "gauge")
    lag = Metric(
        "acorn_hub_store_lag_events",
        "Events the store has that the hub has not applied in order",
        "gauge",
    )
    contiguous = Metric("acorn_hub_store_contiguous_seq", "Highest contiguous seq applied", "gauge")
    outbox = Metric(
        "acorn_hub_store_outbox_depth", "Outbox depth the store reported at birth", "gauge"
    )
    oldest = Metric(
        "acorn_hub_store_oldest_unsynced_age_seconds",
        "Age of the store's oldest unsynced event at birth",
        "gauge",
    )
    dead = Metric(
        "acorn_hub_dead_letters_open", "Dead letters waiting for a fix, per reason", "gauge"
    )
    with request.app.state.sessions() as session:
        rows = session.execute(
            select(Store.id, StoreStatus, StoreSync)
            .join(StoreStatus, StoreStatus.store_id == Store.id, isouter=True)
            .join(StoreSync, StoreSync.store_id == Store.id, isouter=True)
            .where(Store.active.is_(True))
            .order_by(Store.id)
        ).all()
        for store_id, status, sync in rows:
            if status is not None:
                online.set(1 if status.online else 0, store=store_id)
                if status.outbox_depth is not None:
                    outbox.set(status.outbox_depth, store=store_id)
                if status.oldest_unsynced_age_s is not None:
                    oldest.set(status.oldest_unsynced_age_s, store=store_id)
            if sync is not None:
                lag.set(max(0, sync.highest_seen - sync.contiguous_seq), store=store_id)
                contiguous.set(sync.contiguous_seq, store=store_id)
        for reason, n in open_counts_by_reason(session).items():
            dead.set(n, reason=reason)
    text = request.app.state.registry.render([online, lag, contiguous, outbox, oldest, dead])
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


@private.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> JSONResponse:
    """The OpenAPI document."""
    return JSONResponse(request.app.openapi())


@private.get("/docs", include_in_schema=False)
def docs() -> HTMLResponse:
    """Swagger UI over /openapi.json."""
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Acorn hub API")
