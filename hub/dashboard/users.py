"""HQ accounts, sign-in with lockout, server-side sessions with CSRF tokens, the audit log.

Passwords are hashed with argon2id (argon2-cffi). A session cookie carries a random
256-bit token; the database keeps only its SHA-256, so a copy of the database cannot
be used to sign in. Five failed sign-ins lock an account for fifteen minutes.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.auth import Principal, Role
from hub.dashboard.permissions import parse_hq_roles
from hub.db.models_dashboard import AuditEntry, HqSession, HqUser

_LOGGER = logging.getLogger(__name__)

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
SESSION_IDLE = timedelta(hours=8)
SESSION_MAX = timedelta(hours=24)
MIN_PASSWORD_CHARS = 10

_HASHER = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class UserError(Exception):
    """An account request the data does not allow; the message says why."""


@dataclass(frozen=True, slots=True)
class LoginResult:
    """The outcome of a sign-in: the user on success, else the reason (never shown in detail)."""

    user: HqUser | None
    reason: str


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A live session: who it belongs to and the CSRF token of its forms."""

    principal: Principal
    user_id: int
    display_name: str
    csrf_token: str


def hash_session_token(token: str) -> str:
    """The stored form of a session cookie."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def roles_of(user: HqUser) -> frozenset[Role]:
    """The roles stored on an account."""
    return frozenset(Role(r) for r in user.roles.split(",") if r)


def principal_of(user: HqUser) -> Principal:
    """The principal an account acts as."""
    return Principal(kind="user", name=user.username, roles=roles_of(user))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"the password needs at least {MIN_PASSWORD_CHARS} characters")


def get_user(session: Session, username: str) -> HqUser | None:
    """The account named ``username``."""
    return session.scalars(select(HqUser).where(HqUser.username == username)).first()


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    roles: str,
    now: datetime,
    display_name: str | None = None,
) -> HqUser:
    """Create an HQ account with argon2-hashed password and the given roles."""
    username = username.strip().lower()
    if (
        not username
        or len(username) > 64
        or not username.replace(".", "")
        .replace("-", "")
        .replace("_", "")
        .replace("@", "")
        .isalnum()
    ):
        raise UserError("a user name is 1..64 letters, digits, '.', '-', '_' or '@'")
    try:
        parsed = parse_hq_roles(roles)
    except ValueError as err:
        raise UserError(str(err)) from err
    _check_password(password)
    if get_user(session, username) is not None:
        raise UserError(f"user {username!r} exists already")
    user = HqUser(
        username=username,
        display_name=display_name or username,
        password_hash=_HASHER.hash(password),
        roles=",".join(sorted(r.value for r in parsed)),
        active=True,
        failed_logins=0,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def list_users(session: Session) -> list[HqUser]:
    """Every account, by name."""
    return list(session.scalars(select(HqUser).order_by(HqUser.username)))


def _require(session: Session, username: str) -> HqUser:
    user = get_user(session, username.strip().lower())
    if user is None:
        raise UserError(f"no user {username!r}")
    return user


def set_active(session: Session, username: str, *, active: bool) -> HqUser:
    """Enable or disable an account; disabling ends its sessions."""
    user = _require(session, username)
    user.active = active
    if not active:
        session.execute(delete(HqSession).where(HqSession.user_id == user.id))
    else:
        user.failed_logins = 0
        user.locked_until = None
    session.flush()
    return user


def set_roles(session: Session, username: str, roles: str) -> HqUser:
    """Replace an account's roles."""
    user = _require(session, username)
    try:
        parsed = parse_hq_roles(roles)
    except ValueError as err:
        raise UserError(str(err)) from err
    user.roles = ",".join(sorted(r.value for r in parsed))
    session.flush()
    return user


def set_password(session: Session, username: str, password: str) -> HqUser:
    """Set a new password, unlock the account and end its sessions."""
    user = _require(session, username)
    _check_password(password)
    user.password_hash = _HASHER.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    session.execute(delete(HqSession).where(HqSession.user_id == user.id))
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str, *, now: datetime) -> LoginResult:
    """Check a sign-in; counts failures and locks the account after MAX_FAILED_LOGINS."""
    user = get_user(session, username.strip().lower())
    if user is None:
        try:
            _HASHER.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        return LoginResult(None, "unknown_user")
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(None, "locked")
    try:
        _HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            session.flush()
            _LOGGER.warning("account %s locked after repeated failed sign-ins", user.username)
            return LoginResult(None, "locked_now")
        session.flush()
        return LoginResult(None, "bad_password")
    if not user.active:
        return LoginResult(None, "disabled")
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.flush()
    return LoginResult(user, "ok")


def start_session(session: Session, user: HqUser, *, now: datetime) -> str:
    """Open a session for ``user``; returns the cookie value (shown nowhere else)."""
    token = secrets.token_urlsafe(32)
    session.add(
        HqSession(
            token_hash=hash_session_token(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=min(now + SESSION_IDLE, now + SESSION_MAX),
        )
    )
    session.execute(delete(HqSession).where(HqSession.expires_at < now))
    session.flush()
    return token


def session_info(session: Session, token: str, *, now: datetime) -> SessionInfo | None:
    """The live session behind a cookie (sliding idle expiry, capped), or None."""
    if not token or len(token) > 200:
        return None
    row = session.get(HqSession, hash_session_token(token))
    if row is None or row.expires_at <= now:
        return None
    user = session.get(HqUser, row.user_id)
    if user is None or not user.active:
        return None
    if now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
        row.expires_at = min(now + SESSION_IDLE, row.created_at + SESSION_MAX)
    return SessionInfo(principal_of(user), user.id, user.display_name, row.csrf_token)


def end_session(session: Session, token: str) -> None:
    """Sign out: forget the session."""
    session.execute(delete(HqSession).where(HqSession.token_hash == hash_session_token(token)))


def audit(
    session: Session,
    *,
    actor: str,
    actor_kind: str,
    action: str,
    now: datetime,
    target: str | None = None,
    outcome: str = "ok",
    remote_addr: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry to the audit log."""
    session.add(
        AuditEntry(
            at=now,
            actor=actor[:100],
            actor_kind=actor_kind,
            action=action,
            target=None if target is None else target[:200],
            outcome=outcome,
            remote_addr=remote_addr,
            detail=detail or {},
        )
    )
    session.flush()


def audit_page(session: Session, *, limit: int = 200, actor: str | None = None) -> list[AuditEntry]:
    """The newest audit entries."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    return list(session.scalars(stmt))
