"""Typed FastAPI dependencies: settings, database session, the authenticated principal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from hub.auth import Principal, Role
from hub.config import HubSettings
from hub.db.tokens import authenticate_token

_bearer = HTTPBearer(auto_error=False, description="API token: `Authorization: Bearer acorn_...`")


def get_settings(request: Request) -> HubSettings:
    """The process's settings."""
    settings: HubSettings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """A session per request: committed when the route returns, rolled back on error."""
    factory: sessionmaker[Session] = request.app.state.sessions
    with factory.begin() as session:
        yield session


def utcnow() -> datetime:
    """The current time (a dependency so tests can freeze it)."""
    return datetime.now(UTC)


SettingsDep = Annotated[HubSettings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
NowDep = Annotated[datetime, Depends(utcnow)]

_UNAUTHORIZED = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED,
    detail="authentication required: send an API token as `Authorization: Bearer <token>`",
    headers={"WWW-Authenticate": "Bearer"},
)


def require_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from an API token (HQ session users plug in here later); 401 otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise _UNAUTHORIZED
    factory: sessionmaker[Session] = request.app.state.sessions
    with factory.begin() as session:
        principal = authenticate_token(session, credentials.credentials, now=utcnow())
    if principal is None:
        raise _UNAUTHORIZED
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(require_principal)]


def require_role(role: Role) -> Callable[[Principal], Principal]:
    """A dependency that demands ``role`` (or a role above it)."""

    def _check(principal: PrincipalDep) -> Principal:
        if not principal.has_role(role):
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"this needs the {role.value} role",
            )
        return principal

    return _check


Operator = Annotated[Principal, Depends(require_role(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]
