"""Who is calling: principals with roles, and API tokens (random, stored as SHA-256 hashes).

API tokens are 256-bit random strings, so a plain SHA-256 is enough to store them
(nothing to brute-force); they are shown once when created. HQ users with sessions
come later and produce the same ``Principal`` type.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass

TOKEN_PREFIX = "acorn_"


class Role(enum.StrEnum):
    """Roles: API roles admin > operator > reader, and the HQ roles that imply them."""

    READER = "reader"
    OPERATOR = "operator"
    ADMIN = "admin"
    HQ = "hq"
    FINANCE = "finance"
    VIEWER = "viewer"
    TECH = "tech"


_IMPLIES: dict[Role, frozenset[Role]] = {
    Role.ADMIN: frozenset(Role),
    Role.OPERATOR: frozenset({Role.OPERATOR, Role.READER}),
    Role.READER: frozenset({Role.READER}),
    Role.HQ: frozenset({Role.HQ, Role.OPERATOR, Role.READER}),
    Role.TECH: frozenset({Role.TECH, Role.OPERATOR, Role.READER}),
    Role.FINANCE: frozenset({Role.FINANCE, Role.READER}),
    Role.VIEWER: frozenset({Role.VIEWER, Role.READER}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: an API token (kind "token") or an HQ user (kind "user")."""

    kind: str
    name: str
    roles: frozenset[Role]

    def has_role(self, role: Role) -> bool:
        """True when one of the principal's roles includes ``role``."""
        return any(role in _IMPLIES[r] for r in self.roles)


@dataclass(frozen=True, slots=True)
class NewToken:
    """A freshly generated token: the clear text (shown once) and what is stored."""

    plaintext: str
    prefix: str
    token_hash: str


def hash_token(plaintext: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def generate_token() -> NewToken:
    """A new random API token."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return NewToken(plaintext, plaintext[: len(TOKEN_PREFIX) + 6], hash_token(plaintext))


def parse_roles(text: str) -> frozenset[Role]:
    """Parse "reader,operator" into roles; ValueError names an unknown role."""
    roles = set()
    for part in text.split(","):
        name = part.strip().lower()
        if not name:
            continue
        try:
            roles.add(Role(name))
        except ValueError:
            raise ValueError(
                f"unknown role {name!r}; roles are {', '.join(r.value for r in Role)}"
            ) from None
    if not roles:
        raise ValueError("at least one role is needed")
    return frozenset(roles)
