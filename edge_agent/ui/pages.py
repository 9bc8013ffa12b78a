"""HTML pages of the cashier UI: login and the sell screen (the rest is the JSON API)."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, session, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

pages = Blueprint("pages", __name__)


@pages.get("/")
def sell() -> str | WerkzeugResponse:
    """The sell screen (scan field, cart, tender), or the login page when nobody is logged in."""
    if not session.get("cashier_id"):
        return redirect(url_for("pages.login"))
    return render_template(
        "sell.html", cashier_name=session.get("name", ""), role=session.get("role", "")
    )


@pages.get("/login")
def login() -> str:
    """The PIN login page."""
    return render_template("login.html")


@pages.get("/healthz")
def healthz() -> Response:
    """A liveness probe for the box's supervisor."""
    return Response("ok\n", mimetype="text/plain")
