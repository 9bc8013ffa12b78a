"""The cashier UI's Flask app factory."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask, Response

from edge_agent.config import EdgeSettings
from edge_agent.store.facade import EdgeStore
from edge_agent.sync.service import SyncService
from edge_agent.ui.api import api
from edge_agent.ui.context import UiContext
from edge_agent.ui.orders import online_orders
from edge_agent.ui.pages import pages
from edge_agent.ui.till import LoginGuard, Till

if TYPE_CHECKING:
    from edge_agent.devices.manager import DeviceManager


def create_app(
    settings: EdgeSettings,
    *,
    store: EdgeStore,
    sync: SyncService | None = None,
    devices: DeviceManager | None = None,
) -> Flask:
    """Build the cashier UI for one store; device components are optional.

    With ``devices`` the devices' blueprint (scan stream, printer status,
    reprints) is registered under ``/api/devices``.
    """
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=store.session_secret(),
        SESSION_COOKIE_NAME="acorn_till",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        JSON_SORT_KEYS=False,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    till = Till(
        store,
        guard=LoginGuard(
            max_failures=settings.ui.max_login_failures,
            lockout_s=settings.ui.login_lockout_s,
        ),
        discount_without_approval_bp=settings.ui.discount_without_approval_bp,
    )
    app.extensions["acorn_edge"] = UiContext(
        settings=settings,
        store=store,
        till=till,
        sync=sync,
        devices=devices,
    )
    app.register_blueprint(api)
    app.register_blueprint(pages)
    app.register_blueprint(online_orders)
    if devices is not None:
        from edge_agent.devices.web import create_devices_blueprint

        app.register_blueprint(create_devices_blueprint(devices))

    @app.teardown_appcontext
    def _close_db(exc: BaseException | None) -> None:
        # One SQLite connection per request thread; close it when the request ends.
        store.close()

    @app.after_request
    def _headers(response: Response) -> Response:
        # Everything is served from the box; nothing may come from the internet.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.mimetype == "application/json":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app


def context_of(app: Flask) -> Any:
    """Return the UiContext of an app made by ``create_app`` (for tests and the CLI)."""
    return app.extensions["acorn_edge"]
