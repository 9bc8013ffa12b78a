"""A seller account's configuration and its LWA credentials, sealed for storage at rest.

The endpoint URL and the LWA token URL are per account: production accounts use
the region's host and ``https://api.amazon.com/auth/o2/token``; an account pointed
at the sandbox uses e.g. ``http://127.0.0.1:8700/na`` and
``http://127.0.0.1:8700/auth/o2/token``.

Credentials never sit in a file or a database row in clear: :class:`CredentialCipher`
seals them with Fernet (AES-128-CBC + HMAC-SHA256) under a key the hub keeps outside
the database (environment or secret store).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken

from hub.channels.amazon.errors import ConfigError
from hub.channels.amazon.marketplaces import LWA_TOKEN_URL, Region, marketplace

ORDERS_API_V0: Final = "v0"
ORDERS_API_2026: Final = "2026-01-01"
ORDERS_APIS: Final = (ORDERS_API_V0, ORDERS_API_2026)


@dataclass(frozen=True, slots=True)
class LwaCredentials:
    """Login with Amazon client id and secret, and the seller's refresh token."""

    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)

    def __post_init__(self) -> None:
        if not (self.client_id and self.client_secret and self.refresh_token):
            raise ConfigError("client id, client secret and refresh token are all required")


@dataclass(frozen=True, slots=True)
class SellerAccount:
    """One Amazon seller account as the channel uses it."""

    name: str
    seller_id: str
    region: Region
    marketplace_ids: tuple[str, ...]
    credentials: LwaCredentials
    endpoint_url: str = ""
    lwa_token_url: str = LWA_TOKEN_URL
    orders_api: str = ORDERS_API_V0

    def __post_init__(self) -> None:
        if not self.name or not self.seller_id:
            raise ConfigError("an account needs a name and the seller id (merchant token)")
        if not self.marketplace_ids:
            raise ConfigError(f"account {self.name}: at least one marketplace is required")
        for mid in self.marketplace_ids:
            if marketplace(mid).region != self.region:
                raise ConfigError(
                    f"account {self.name}: marketplace {mid} is not in the {self.region} region"
                )
        for url in (self.endpoint, self.lwa_token_url):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(f"account {self.name}: {url!r} is not an http(s) URL")
        if self.orders_api not in ORDERS_APIS:
            raise ConfigError(f"account {self.name}: orders API must be one of {ORDERS_APIS}")

    @property
    def endpoint(self) -> str:
        """The SP-API base URL (the region's production host unless configured)."""
        return (self.endpoint_url or self.region.endpoint).rstrip("/")


class CredentialCipher:
    """Seals and opens LWA credentials with a Fernet key kept outside the database."""

    def __init__(self, key: bytes | str) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as err:
            raise ConfigError(
                "the credential key must be a urlsafe base64 32-byte Fernet key"
            ) from err

    @staticmethod
    def generate_key() -> str:
        """A new random key (store it in the environment or a secret store, never in the DB)."""
        return Fernet.generate_key().decode("ascii")

    def seal(self, credentials: LwaCredentials) -> str:
        """Encrypt credentials into an opaque ASCII token fit for a text column."""
        plain = json.dumps(
            {
                "client_id": credentials.client_id,
                "client_secret": credentials.client_secret,
                "refresh_token": credentials.refresh_token,
            }
        ).encode()
        return self._fernet.encrypt(plain).decode("ascii")

    def open(self, sealed: str) -> LwaCredentials:
        """Decrypt a sealed token; a wrong key or tampered token raises ConfigError."""
        try:
            data = json.loads(self._fernet.decrypt(sealed.encode("ascii")))
        except (InvalidToken, ValueError) as err:
            raise ConfigError("credentials cannot be decrypted with this key") from err
        return LwaCredentials(data["client_id"], data["client_secret"], data["refresh_token"])
