"""Mosquitto password file and ACL rendering (pure: returns text, writes nothing).

Each store connects with its own username, equal to its store id, and may use
only ``acorn/v1/store/<its id>/#``. The hub's account reads and writes every
topic under ``acorn/``; the observer account only reads. Mosquitto's classic
``acl_file`` with ``pattern`` lines expresses that in one line for all stores
(``%u`` is the username); its dynamic-security plugin in 2.0 does not expand
``%u`` and would need one role per store (research/infra.md), so the hub
maintains these two files and reloads the broker with SIGHUP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from typing import Final

PBKDF2_ITERATIONS: Final = 101  # mosquitto_passwd's default for the $7$ format
SALT_BYTES: Final = 12
HASH_BYTES: Final = 64


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """Return a Mosquitto ``$7$`` (PBKDF2-SHA512) password hash, as mosquitto_passwd writes it."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS, HASH_BYTES)
    return (
        f"$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}"
        f"${base64.b64encode(digest).decode()}"
    )


def verify_password(password: str, encoded: str) -> bool:
    """Check a password against a ``$7$`` hash."""
    try:
        _, kind, iterations, salt_b64, digest_b64 = encoded.split("$")
    except ValueError:
        return False
    if kind != "7":
        return False
    salt, digest = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
    candidate = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(iterations), len(digest))
    return hmac.compare_digest(candidate, digest)


def new_password() -> str:
    """Return a random broker password that no person needs to see or type."""
    return secrets.token_urlsafe(32)


def render_password_file(hashes: Mapping[str, str]) -> str:
    """Render ``user:hash`` lines, sorted, for Mosquitto's password_file."""
    for user in hashes:
        if not user or ":" in user or any(ch.isspace() for ch in user):
            raise ValueError(f"invalid broker username {user!r}")
    return "".join(f"{user}:{hashes[user]}\n" for user in sorted(hashes))


def render_acl(*, hub_users: Iterable[str], observer_users: Iterable[str] = ()) -> str:
    """Render the acl_file: hub accounts everything, observers read, stores their own tree."""
    lines = ["# Maintained by the Acorn hub; edits are overwritten.", ""]
    for user in sorted(hub_users):
        lines += [f"user {user}", "topic readwrite acorn/#", ""]
    for user in sorted(observer_users):
        lines += [f"user {user}", "topic read acorn/#", ""]
    lines += [
        "# Every other account is a store whose username is its store id.",
        "pattern readwrite acorn/v1/store/%u/#",
        "pattern read acorn/v1/hub/#",
        "",
    ]
    return "\n".join(lines)
