"""API tokens: create, list, revoke, authenticate."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.auth import NewToken, Principal, Role, generate_token, hash_token
from hub.db.models import ApiToken
from hub.db.stores import Conflict, NotFound

LAST_USED_RESOLUTION = timedelta(minutes=1)


def create_token(
    session: Session, *, name: str, roles: frozenset[Role], now: datetime
) -> tuple[ApiToken, NewToken]:
    """Create a token; the clear text is in the returned NewToken and nowhere else."""
    if session.scalar(select(ApiToken).where(ApiToken.name == name)) is not None:
        raise Conflict(f"a token named {name!r} exists already")
    new = generate_token()
    row = ApiToken(
        name=name,
        token_hash=new.token_hash,
        prefix=new.prefix,
        roles=",".join(sorted(r.value for r in roles)),
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, new


def revoke_token(session: Session, *, name: str, now: datetime) -> None:
    """Revoke the named token."""
    row = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if row is None:
        raise NotFound(f"no token named {name!r}")
    row.revoked_at = now


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, newest first."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id.desc())))


def authenticate_token(session: Session, plaintext: str, *, now: datetime) -> Principal | None:
    """The principal for a presented token, or None when unknown or revoked."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plaintext)))
    if row is None or row.revoked_at is not None:
        return None
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
    roles = frozenset(Role(r) for r in row.roles.split(",") if r)
    return Principal(kind="token", name=row.name, roles=roles)
