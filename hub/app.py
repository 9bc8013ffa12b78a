"""The hub's FastAPI application factory: ``create_app(settings)``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from hub import __doc__ as hub_doc
from hub.api.deps import require_principal
from hub.api.routes import catalog, deadletters, sales, stock, stores, system, tokens
from hub.api.routes import channels as channel_routes
from hub.api.routes import enroll as enroll_routes
from hub.api.routes import finance as finance_routes
from hub.api.routes import routing as routing_routes
from hub.config import HubSettings
from hub.dashboard.app import install_dashboard
from hub.db.engine import make_engine, make_sessionmaker
from hub.db.stores import Conflict, HubDataError, NotFound
from hub.metrics import Registry

_LOGGER = logging.getLogger(__name__)
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/dashboard/login"})
"""The only routes without authentication: probes that reveal nothing but a status word, and
the dashboard's sign-in form (its static files are a mount, not a route)."""
CODE_AUTHENTICATED_PATHS = frozenset({"/api/v1/enroll"})
"""Routes without a bearer token that authenticate by a one-time enrollment code instead."""


def create_app(
    settings: HubSettings,
    *,
    engine: Engine | None = None,
    worker: object | None = None,
    registry: Registry | None = None,
) -> FastAPI:
    """Build the API. ``worker`` (an IngestWorker) is started and stopped with the app."""
    engine = engine or make_engine(settings.effective_database_url())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if worker is not None:
            worker.start()  # type: ignore[attr-defined]
        for job in app.state.jobs:
            job.start()
        try:
            yield
        finally:
            for job in reversed(app.state.jobs):
                job.stop()
            if worker is not None:
                worker.stop()  # type: ignore[attr-defined]

    app = FastAPI(
        title="Acorn hub",
        description=(hub_doc or "").strip(),
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.worker = worker
    app.state.registry = registry or getattr(worker, "registry", None) or Registry()

    api = APIRouter(prefix="/api/v1", dependencies=[Depends(require_principal)])
    for module in (stores, stock, sales, deadletters, catalog, tokens, routing_routes):
        api.include_router(module.router)
    api.include_router(channel_routes.router)
    api.include_router(finance_routes.router)
    app.include_router(api)
    app.include_router(system.public)
    app.include_router(enroll_routes.router)  # public by design: the code is the credential
    app.include_router(system.private)
    app.state.jobs = []
    install_dashboard(app)

    @app.exception_handler(HubDataError)
    async def _data_error(_request: Request, err: HubDataError) -> JSONResponse:
        code = 404 if isinstance(err, NotFound) else 409 if isinstance(err, Conflict) else 422
        return JSONResponse({"detail": str(err), "code": err.code}, status_code=code)

    # The OpenAPI document must know the routes use a bearer token.
    def _openapi() -> dict[str, object]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
                "type": "http",
                "scheme": "bearer",
            }
            schema["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = _openapi  # type: ignore[method-assign]
    return app
