"""Dashboard routes: pages, actions (CSRF-checked and audited), the live stream, CSV exports."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from hub import alarms
from hub.alarm_evaluator import AlarmEvaluator
from hub.dashboard import data, exports
from hub.dashboard.permissions import Perm
from hub.dashboard.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfFailure,
    Forbidden,
    NotSignedIn,
    Viewer,
    ViewerDep,
    check_csrf,
    is_https,
    need,
    now_utc,
    remote_addr,
    resolve_viewer,
    secure,
    sessions_of,
    set_session_cookie,
)
from hub.dashboard.users import audit, audit_page, authenticate, end_session, list_users
from hub.dashboard.users import start_session as open_session
from protocol.money import minor_unit_exponent
from provisioning.ratelimit import AttemptLimiter

_LOGGER = logging.getLogger(__name__)
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
STREAM_POLL_S = 1.0
STREAM_HEARTBEAT_S = 15.0
STREAM_MAX_S = 20.0
"""A stream ends after this long and the browser reconnects (EventSource does so by itself):
uvicorn waits for open responses before it stops, so no stream may hold a shutdown for long."""

CanView = Annotated[Viewer, Depends(need(Perm.VIEW))]
CanReports = Annotated[Viewer, Depends(need(Perm.REPORTS))]
CanExport = Annotated[Viewer, Depends(need(Perm.EXPORT))]
CanActAlarms = Annotated[Viewer, Depends(need(Perm.ACT_ALARMS))]
CanEditRules = Annotated[Viewer, Depends(need(Perm.EDIT_RULES))]
CanDeadLetters = Annotated[Viewer, Depends(need(Perm.DEAD_LETTERS))]
CanAdmin = Annotated[Viewer, Depends(need(Perm.ADMIN))]
CanActOrders = Annotated[Viewer, Depends(need(Perm.ACT_ORDERS))]
CsrfField = Annotated[str, Form()]

router = APIRouter(prefix="/dashboard", include_in_schema=False)


# --- template helpers ----------------------------------------------------------------------


def _fmt_dt(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _fmt_ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    seconds = int((now_utc() - value).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min ago"
    return f"{seconds // 86400} d ago"


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


templates.env.filters["dt"] = _fmt_dt
templates.env.filters["ago"] = _fmt_ago
templates.env.filters["duration"] = _fmt_duration
templates.env.filters["money"] = data.money
templates.env.filters["json_attr"] = lambda v: json.dumps(v, default=str)


def page(
    request: Request, viewer: Viewer | None, name: str, status_code: int = 200, **context: Any
) -> Response:
    """Render a page template with the common context and the security headers."""
    open_count = 0
    if viewer is not None:
        with sessions_of(request)() as session:
            open_count = alarms.fingerprint(session)[0]
    response = templates.TemplateResponse(
        request,
        name,
        {"viewer": viewer, "open_alarms": open_count, "section": name.split(".")[0], **context},
        status_code=status_code,
    )
    return secure(response)


def _audit(
    request: Request,
    session: Session,
    viewer: Viewer,
    action: str,
    target: str | None = None,
    outcome: str = "ok",
    **detail: Any,
) -> None:
    audit(
        session,
        actor=viewer.name,
        actor_kind=viewer.principal.kind,
        action=action,
        target=target,
        outcome=outcome,
        remote_addr=remote_addr(request),
        now=now_utc(),
        detail=detail,
    )


def _back(path: str, message: str | None = None) -> RedirectResponse:
    url = path if message is None else f"{path}?msg={quote(message)}"
    return RedirectResponse(url, status_code=303)


# --- sign-in -------------------------------------------------------------------------------


def _login_form(
    request: Request, *, error: str | None, next_url: str, status_code: int = 200
) -> Response:
    token = secrets.token_urlsafe(32)
    response = page(
        request,
        None,
        "login.html",
        status_code=status_code,
        error=error,
        login_csrf=token,
        next_url=next_url,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
        path="/dashboard/login",
    )
    return response


def _safe_next(url: str | None) -> str:
    if url and url.startswith("/dashboard") and not url.startswith("//"):
        return url
    return "/dashboard"


_LIMITER_LOCK = threading.Lock()


def _login_limiter(request: Request) -> AttemptLimiter:
    """Failed sign-ins per client address, on top of the per-account lockout."""
    with _LIMITER_LOCK:
        limiter: AttemptLimiter | None = getattr(request.app.state, "login_limiter", None)
        if limiter is None:
            settings = request.app.state.settings
            limiter = AttemptLimiter(settings.login_failures_per_ip, settings.login_window_s)
            request.app.state.login_limiter = limiter
        return limiter


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:  # noqa: A002
    """The sign-in form (public)."""
    return _login_form(request, error=None, next_url=_safe_next(next))


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: CsrfField = "",
    next: Annotated[str, Form()] = "/dashboard",  # noqa: A002
) -> Response:
    """Sign in: argon2 check, lockout after repeated failures, a new session; every try audited.

    Failures re-show the form with one message for every cause, so the form does not
    tell which user names exist.
    """
    next_url = _safe_next(next)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected.encode(), csrf_token.encode()):
        return _login_form(
            request, error="The form expired. Please sign in again.", next_url=next_url
        )
    limiter = _login_limiter(request)
    address = remote_addr(request) or "unknown"
    wait = limiter.retry_after(address, time.monotonic())
    if wait is not None:
        _LOGGER.warning("sign-in attempts from %s limited after repeated failures", address)
        return _login_form(
            request,
            error=f"Too many failed sign-ins from this address: wait {max(1, round(wait))} s.",
            next_url=next_url,
            status_code=429,
        )
    now = now_utc()
    with sessions_of(request).begin() as session:
        result = authenticate(session, username, password, now=now)
        audit(
            session,
            actor=username[:100] or "?",
            actor_kind="user",
            action="login",
            outcome="ok" if result.user else "refused",
            remote_addr=remote_addr(request),
            now=now,
            detail={} if result.user else {"reason": result.reason},
        )
        token = None if result.user is None else open_session(session, result.user, now=now)
    if token is None:
        limiter.record(address, time.monotonic())
        message = "Wrong user name or password."
        if result.reason in ("locked", "locked_now"):
            message = "Too many failed attempts: this account is locked for a while."
        return _login_form(request, error=message, next_url=next_url)
    response = RedirectResponse(next_url, status_code=303)
    set_session_cookie(response, request, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/dashboard/login")
    return secure(response)


@router.post("/logout")
def logout(request: Request, viewer: ViewerDep, csrf_token: CsrfField = "") -> Response:
    """Sign out and forget the session."""
    check_csrf(viewer, csrf_token)
    with sessions_of(request).begin() as session:
        end_session(session, request.cookies.get(SESSION_COOKIE, ""))
        _audit(request, session, viewer, "logout")
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/dashboard")
    return secure(response)


# --- overview, stores, stock ---------------------------------------------------------------


@router.get("")
def overview(request: Request, viewer: CanView) -> Response:
    """Every store's presence, sync lag, outbox, sales today vs last week, open alarms."""
    now = now_utc()
    with sessions_of(request)() as session:
        view = data.overview(session, now)
        open_list = alarms.open_alarms(session, limit=50)
    return page(request, viewer, "overview.html", view=view, alarms=open_list, now=now)


@router.get("/stores/{store_id}")
def store(request: Request, viewer: CanView, store_id: str) -> Response:
    """One store: status, outages, devices, recent events, stock."""
    with sessions_of(request)() as session:
        view = data.store_page(session, store_id, now_utc())
    if view is None:
        return page(request, viewer, "error.html", 404, message=f"No store {store_id!r}.")
    return page(request, viewer, "store.html", view=view)


@router.get("/stock")
def stock(request: Request, viewer: CanView, sku: str = "") -> Response:
    """Search a SKU: on hand, reserved, sellable per location and channel, movements."""
    sku = sku.strip()
    view = None
    suggestions: list[str] = []
    if sku:
        with sessions_of(request)() as session:
            view = data.stock_page(session, sku)
            if not view.locations:
                suggestions = data.sku_suggestions(session, sku)
    return page(request, viewer, "stock.html", sku=sku, view=view, suggestions=suggestions)


# --- alarms --------------------------------------------------------------------------------


@router.get("/alarms")
def alarms_page(request: Request, viewer: CanView, msg: str | None = None) -> Response:
    """Open alarms with acknowledge/resolve, recently closed ones, and the rules."""
    with sessions_of(request)() as session:
        open_list = alarms.open_alarms(session)
        closed = alarms.recent_closed(session, limit=50)
        rules = alarms.rules(session)
    return page(
        request,
        viewer,
        "alarms.html",
        alarms=open_list,
        closed=closed,
        rules=rules,
        msg=msg,
        severities=alarms.SEVERITIES,
    )


@router.get("/fragments/alarms")
def alarm_rows(request: Request, viewer: CanView, compact: bool = False) -> Response:
    """The open alarms' table rows (the live stream's pages fetch them when alarms change)."""
    with sessions_of(request)() as session:
        open_list = alarms.open_alarms(session, limit=50 if compact else 500)
    return page(request, viewer, "_alarm_rows.html", alarms=open_list, compact=compact)


def _alarm_action(
    request: Request, viewer: Viewer, alarm_id: int, action: str, note: str
) -> Response:
    now = now_utc()
    with sessions_of(request).begin() as session:
        try:
            if action == "acknowledge":
                changed = alarms.acknowledge(
                    session, alarm_id, by=viewer.name, now=now, note=note or None
                )
            else:
                changed = alarms.resolve(
                    session, alarm_id, by=viewer.name, now=now, note=note or None
                )
        except alarms.AlarmError as err:
            _audit(
                request,
                session,
                viewer,
                f"alarm.{action}",
                str(alarm_id),
                "refused",
                error=str(err),
            )
            return _back("/dashboard/alarms", str(err))
        _audit(
            request,
            session,
            viewer,
            f"alarm.{action}",
            str(alarm_id),
            kind=changed.kind,
            key=changed.key,
        )
    referer = request.headers.get("referer", "")
    target = "/dashboard" if referer.rstrip("/").endswith("/dashboard") else "/dashboard/alarms"
    return _back(target)


@router.post("/alarms/{alarm_id}/acknowledge")
def alarm_acknowledge(
    request: Request,
    viewer: CanActAlarms,
    alarm_id: int,
    csrf_token: CsrfField = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    """Acknowledge an alarm (who and when are recorded)."""
    check_csrf(viewer, csrf_token)
    return _alarm_action(request, viewer, alarm_id, "acknowledge", note)


@router.post("/alarms/{alarm_id}/resolve")
def alarm_resolve(
    request: Request,
    viewer: CanActAlarms,
    alarm_id: int,
    csrf_token: CsrfField = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    """Resolve an alarm by hand (who and when are recorded)."""
    check_csrf(viewer, csrf_token)
    return _alarm_action(request, viewer, alarm_id, "resolve", note)


@router.post("/alarms/rules/{kind}")
def alarm_rule(
    request: Request,
    viewer: CanEditRules,
    kind: str,
    csrf_token: CsrfField = "",
    threshold: Annotated[int, Form(ge=0, le=100_000)] = 0,
    severity: Annotated[str, Form()] = "warning",
    enabled: Annotated[str, Form()] = "",
) -> Response:
    """Change a rule's threshold, severity and switch."""
    check_csrf(viewer, csrf_token)
    with sessions_of(request).begin() as session:
        try:
            alarms.set_rule(
                session,
                kind,
                enabled=bool(enabled),
                threshold=threshold,
                severity=severity,
                by=viewer.name,
                now=now_utc(),
            )
        except (alarms.AlarmError, ValueError) as err:
            return _back("/dashboard/alarms", str(err))
        _audit(
            request,
            session,
            viewer,
            "alarm.rule",
            kind,
            threshold=threshold,
            severity=severity,
            enabled=bool(enabled),
        )
    return _back("/dashboard/alarms", f"Rule {kind} saved.")


# --- reports -------------------------------------------------------------------------------


@router.get("/reports")
def reports_page(
    request: Request,
    viewer: CanReports,
    day_from: Annotated[date | None, Query(alias="from")] = None,
    day_to: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    """Sales trend, top sellers, turnover and sell-through by local business day."""
    settings = request.app.state.settings
    today = now_utc().date()
    day_to = day_to or today
    day_from = day_from or day_to - timedelta(days=data.TREND_DAYS - 1)
    if day_from > day_to or (day_to - day_from).days > 366:
        day_from = day_to - timedelta(days=data.TREND_DAYS - 1)
    with sessions_of(request)() as session:
        view = data.reports(
            session, currency=settings.default_currency, day_from=day_from, day_to=day_to
        )
    chart = {
        "days": [d.isoformat() for d, _, _ in view.trend],
        "amounts": [a for _, a, _ in view.trend],
        "units": [u for _, _, u in view.trend],
        "currency": view.currency,
        "scale": 10 ** minor_unit_exponent(view.currency),
    }
    return page(request, viewer, "reports.html", view=view, chart=chart)


# --- dead letters --------------------------------------------------------------------------


@router.get("/dead-letters")
def dead_letters_page(
    request: Request, viewer: CanDeadLetters, status: str = "open", msg: str | None = None
) -> Response:
    """Dead letters: reason, raw payload, replay after a fix."""
    with sessions_of(request)() as session:
        rows = data.dead_letters(session, status=status or None)
    return page(request, viewer, "deadletters.html", rows=rows, status=status, msg=msg)


@router.post("/dead-letters/{dead_letter_id}/replay")
def dead_letter_replay(
    request: Request, viewer: CanDeadLetters, dead_letter_id: int, csrf_token: CsrfField = ""
) -> Response:
    """Run a dead letter through ingest again (after the fix that makes it apply)."""
    from hub.db.stores import NotFound
    from hub.ingest.replay import replay_dead_letter

    check_csrf(viewer, csrf_token)
    try:
        outcome = replay_dead_letter(sessions_of(request), dead_letter_id, now=now_utc())
    except NotFound as err:
        return _back("/dashboard/dead-letters", str(err))
    with sessions_of(request).begin() as session:
        _audit(
            request,
            session,
            viewer,
            "dead_letter.replay",
            str(dead_letter_id),
            result=outcome.status,
            reason=outcome.reason,
        )
    text = (
        "Replayed: applied."
        if outcome.status == "resolved"
        else (f"Replayed: still failing ({outcome.reason}).")
    )
    return _back("/dashboard/dead-letters", text)


@router.post("/dead-letters/{dead_letter_id}/discard")
def dead_letter_discard(
    request: Request, viewer: CanDeadLetters, dead_letter_id: int, csrf_token: CsrfField = ""
) -> Response:
    """Mark a dead letter handled without applying it."""
    from hub.db.deadletters import discard_dead_letter
    from hub.db.stores import NotFound

    check_csrf(viewer, csrf_token)
    with sessions_of(request).begin() as session:
        try:
            discard_dead_letter(session, dead_letter_id, now=now_utc())
        except NotFound as err:
            return _back("/dashboard/dead-letters", str(err))
        _audit(request, session, viewer, "dead_letter.discard", str(dead_letter_id))
    return _back("/dashboard/dead-letters", "Discarded.")


# --- admin ---------------------------------------------------------------------------------


@router.get("/admin/users")
def users_page(request: Request, viewer: CanAdmin) -> Response:
    """HQ accounts (managed with `acorn hub user`)."""
    with sessions_of(request)() as session:
        rows = list_users(session)
    return page(request, viewer, "users.html", users=rows, now=now_utc())


@router.get("/admin/audit")
def audit_log_page(request: Request, viewer: CanAdmin, actor: str | None = None) -> Response:
    """The audit log of HQ actions."""
    with sessions_of(request)() as session:
        rows = audit_page(session, actor=actor or None)
    return page(request, viewer, "audit.html", rows=rows, actor=actor or "")


# --- exports -------------------------------------------------------------------------------


@router.get("/export/{kind}.csv")
def export_csv(request: Request, viewer: CanExport, kind: str) -> Response:
    """CSV of orders, sales, stock or movements with the page's filters; audited."""
    if kind not in exports.KINDS:
        return page(request, viewer, "error.html", 404, message=f"No export {kind!r}.")
    filters = {k: v for k, v in request.query_params.items() if v}
    with sessions_of(request)() as session:
        try:
            body, rows = exports.render(session, kind, filters, now=now_utc())
        except exports.ExportError as err:
            return page(request, viewer, "error.html", 400, message=str(err))
    with sessions_of(request).begin() as session:
        _audit(request, session, viewer, "export", kind, rows=rows, filters=filters)
    stamp = now_utc().strftime("%Y%m%d-%H%M%S")
    response = Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="acorn-{kind}-{stamp}.csv"'},
    )
    return secure(response)


# --- live stream ---------------------------------------------------------------------------


def _snapshot(request: Request) -> tuple[list[dict[str, Any]], tuple[int, str]]:
    with sessions_of(request)() as session:
        tiles = [t.as_json() for t in data.store_tiles(session, now_utc())]
        return tiles, alarms.fingerprint(session)


def _sse(event: str, payload: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(payload, default=str)}\n\n".encode()


@router.get("/events")
async def events(request: Request, viewer: CanView) -> Response:
    """Server-sent events: ``stores`` (tiles that changed) and ``alarms`` (count changed)."""
    stopping: threading.Event = request.app.state.dashboard_stopping

    async def stream() -> AsyncIterator[bytes]:
        last_tiles: dict[str, dict[str, Any]] = {}
        last_alarms: tuple[int, str] | None = None
        idle = 0.0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STREAM_MAX_S
        yield b"retry: 1000\n\n"
        while (
            loop.time() < deadline and not stopping.is_set() and not await request.is_disconnected()
        ):
            if await run_in_threadpool(resolve_viewer, request) is None:
                yield _sse("signed_out", {})
                return
            tiles, fingerprint = await run_in_threadpool(_snapshot, request)
            changed = [t for t in tiles if last_tiles.get(t["store_id"]) != t]
            if changed:
                last_tiles.update({t["store_id"]: t for t in changed})
                yield _sse("stores", changed)
                idle = 0.0
            if fingerprint != last_alarms:
                last_alarms = fingerprint
                yield _sse("alarms", {"open": fingerprint[0], "changed": fingerprint[1]})
                idle = 0.0
            if idle >= STREAM_HEARTBEAT_S:
                yield b": keep-alive\n\n"
                idle = 0.0
            await asyncio.sleep(STREAM_POLL_S)
            idle += STREAM_POLL_S

    response = StreamingResponse(
        stream(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"}
    )
    return secure(response)


# --- wiring --------------------------------------------------------------------------------


class _StreamStopper:
    """Ends the live streams when the app shuts down (so the server can stop at once)."""

    def __init__(self, event: threading.Event) -> None:
        self._event = event

    def start(self) -> None:
        """Allow streams."""
        self._event.clear()

    def stop(self) -> None:
        """End every stream at its next poll."""
        self._event.set()


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def install_dashboard(app: FastAPI) -> None:
    """Add the dashboard's routes, static files, error pages and the alarm evaluator to ``app``."""
    from hub.dashboard import (
        finance_views,  # noqa: F401  (registers the finance page)
        orders_views,  # noqa: F401  (registers the orders and channels pages)
        warehouse_views,  # noqa: F401  (registers the warehouses page)
    )

    app.include_router(router)
    app.mount(
        "/dashboard/static", StaticFiles(directory=str(HERE / "static")), name="dashboard-static"
    )
    app.state.dashboard_stopping = threading.Event()
    app.state.jobs.append(_StreamStopper(app.state.dashboard_stopping))
    settings = app.state.settings
    if settings.alarms_enabled:
        app.state.jobs.append(
            AlarmEvaluator(
                app.state.sessions,
                worker_id=settings.worker_id,
                interval_s=settings.alarm_interval_s,
                lease_ttl_s=settings.lease_ttl_s,
            )
        )

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, _err: NotSignedIn) -> Response:
        # 401 either way; a browser gets a page that takes it to the sign-in form.
        headers = {"WWW-Authenticate": "Bearer"}
        if _wants_html(request) and request.method == "GET":
            target = "/dashboard/login?next=" + quote(request.url.path)
            response: Response = templates.TemplateResponse(
                request,
                "signin_redirect.html",
                {"target": target},
                status_code=401,
                headers=headers,
            )
            return secure(response)
        return secure(JSONResponse({"detail": "sign in or send an API token"}, 401, headers))

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, err: Forbidden) -> Response:
        if _wants_html(request):
            return await run_in_threadpool(
                page,
                request,
                err.viewer,
                "error.html",
                403,
                message="Your role does not allow this page or action.",
            )
        return secure(JSONResponse({"detail": f"this needs the {err.what} permission"}, 403))

    @app.exception_handler(CsrfFailure)
    async def _csrf(request: Request, _err: CsrfFailure) -> Response:
        return secure(
            HTMLResponse(
                "The form expired or did not come from this dashboard; "
                "go back, reload and try again.",
                403,
            )
        )
