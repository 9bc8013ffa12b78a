"""Who is looking at the dashboard: session cookie or API token, permissions, CSRF, headers."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session, sessionmaker

from hub.auth import Principal
from hub.dashboard.permissions import Perm, permissions
from hub.dashboard.users import audit, session_info
from hub.db.tokens import authenticate_token

SESSION_COOKIE = "acorn_hq_session"
LOGIN_CSRF_COOKIE = "acorn_hq_login"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class NotSignedIn(Exception):
    """No valid session cookie or API token: answered 401 with a way to the sign-in form."""


class Forbidden(Exception):
    """Signed in, but the role does not allow this."""

    def __init__(self, viewer: Viewer, what: str) -> None:
        super().__init__(what)
        self.viewer = viewer
        self.what = what


class CsrfFailure(Exception):
    """A form arrived without the session's CSRF token."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """The caller of a dashboard route."""

    principal: Principal
    display_name: str
    csrf_token: str | None
    """The session's CSRF token; None for API tokens (no ambient cookie to abuse)."""
    perms: frozenset[Perm]

    @property
    def name(self) -> str:
        """The name the audit log records."""
        return self.principal.name

    def can(self, perm: Perm | str) -> bool:
        """True when the viewer's roles grant ``perm``."""
        return Perm(perm) in self.perms


def now_utc() -> datetime:
    """The current time."""
    return datetime.now(UTC)


def sessions_of(request: Request) -> sessionmaker[Session]:
    """The app's session factory."""
    factory: sessionmaker[Session] = request.app.state.sessions
    return factory


def is_https(request: Request) -> bool:
    """True when the browser talks HTTPS to us (directly or through a proxy that says so)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def remote_addr(request: Request) -> str | None:
    """The peer address, for the audit log."""
    return None if request.client is None else request.client.host


def resolve_viewer(request: Request) -> Viewer | None:
    """The viewer from the session cookie, else from a bearer token; None when neither."""
    now = now_utc()
    cookie = request.cookies.get(SESSION_COOKIE)
    with sessions_of(request).begin() as session:
        if cookie:
            info = session_info(session, cookie, now=now)
            if info is not None:
                return Viewer(
                    info.principal, info.display_name, info.csrf_token, permissions(info.principal)
                )
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            principal = authenticate_token(session, credential.strip(), now=now)
            if principal is not None:
                return Viewer(principal, principal.name, None, permissions(principal))
    return None


def current_viewer(request: Request) -> Viewer:
    """Dependency: the signed-in viewer, or NotSignedIn."""
    viewer = resolve_viewer(request)
    if viewer is None:
        raise NotSignedIn
    request.state.viewer = viewer
    return viewer


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


def need(perm: Perm) -> Callable[[Request, Viewer], Viewer]:
    """Dependency factory: the viewer, who must have ``perm``."""

    def _check(request: Request, viewer: ViewerDep) -> Viewer:
        if not viewer.can(perm):
            if request.method == "POST":
                with sessions_of(request).begin() as session:
                    audit(
                        session,
                        actor=viewer.name,
                        actor_kind=viewer.principal.kind,
                        action=f"refused:{request.url.path}",
                        outcome="refused",
                        remote_addr=remote_addr(request),
                        now=now_utc(),
                        detail={"needs": perm.value},
                    )
            raise Forbidden(viewer, perm.value)
        return viewer

    return _check


def check_csrf(viewer: Viewer, token: str) -> None:
    """Refuse a form whose CSRF token is not the session's (API tokens need none)."""
    if viewer.csrf_token is None:
        return
    if not token or not secrets.compare_digest(token.encode(), viewer.csrf_token.encode()):
        raise CsrfFailure


def secure(response: Response) -> Response:
    """Add the dashboard's security headers to a response."""
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    return response


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure over HTTPS, scoped to /dashboard."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/dashboard",
    )
