"""/api/v1/tokens: API tokens for machine clients (admin only)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from hub.api.deps import Admin, NowDep, SessionDep
from hub.api.schemas import TokenCreate, TokenCreated, TokenPublic
from hub.auth import parse_roles
from hub.db import tokens as tokens_repo
from hub.db.models import ApiToken

router = APIRouter(prefix="/tokens", tags=["tokens"])


def _public(row: ApiToken) -> TokenPublic:
    return TokenPublic(
        name=row.name,
        prefix=row.prefix,
        roles=row.roles.split(","),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


@router.get("", response_model=list[TokenPublic])
def list_tokens(session: SessionDep, _: Admin) -> list[TokenPublic]:
    """Every token (never the token itself)."""
    return [_public(r) for r in tokens_repo.list_tokens(session)]


@router.post("", response_model=TokenCreated, status_code=201)
def create_token(body: TokenCreate, session: SessionDep, now: NowDep, _: Admin) -> TokenCreated:
    """Create a token; its clear text is in this response only."""
    try:
        roles = parse_roles(",".join(body.roles))
    except ValueError as err:
        raise HTTPException(status_code=422, detail=str(err)) from err
    row, new = tokens_repo.create_token(session, name=body.name, roles=roles, now=now)
    return TokenCreated(**_public(row).model_dump(), token=new.plaintext)


@router.delete("/{name}", status_code=204)
def revoke_token(name: str, session: SessionDep, now: NowDep, _: Admin) -> None:
    """Revoke a token."""
    tokens_repo.revoke_token(session, name=name, now=now)
