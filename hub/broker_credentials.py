"""BrokerCredentials: keep Mosquitto's password file and ACL equal to the database, reload it.

Called inside the transaction that changed a credential (enrollment, revocation), so a
failure to write the files rolls the change back and the box can simply try again.
Writers are serialised: a process lock, and on PostgreSQL a transaction advisory lock,
so two hub processes never write files from two different views of the table.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from hub.config import ConfigError, HubSettings
from hub.db.provisioning import broker_hashes, get_secret
from hub.db.stores import NotFound
from provisioning.acl import hash_password, verify_password
from provisioning.broker import BrokerFiles

_LOGGER = logging.getLogger(__name__)
_LOCK = threading.Lock()
_ADVISORY_KEY = 0x41434F524E  # "ACORN"
HUB_PASSWORD_SECRET = "broker.hub_password"


class BrokerCredentials:
    """Renders the broker's files from the database for one hub configuration."""

    def __init__(self, settings: HubSettings) -> None:
        self._settings = settings
        if settings.broker_password_file is None or settings.broker_acl_file is None:
            self.files: BrokerFiles | None = None
        else:
            self.files = BrokerFiles(
                settings.broker_password_file, settings.broker_acl_file, settings.broker_pid_file
            )

    @property
    def enabled(self) -> bool:
        """Whether this hub maintains the broker's files (broker_password_file/acl_file set)."""
        return self.files is not None

    def sync(self, session: Session) -> bool:
        """Rewrite the files from ``session``'s view and reload the broker if they changed.

        Returns True when the broker was signalled to reload.
        """
        if self.files is None:
            _LOGGER.warning(
                "broker_password_file/broker_acl_file not set: broker accounts not updated"
            )
            return False
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
        with _LOCK:
            hashes = broker_hashes(session)
            hub_user = self._settings.mqtt_username or "hub"
            hashes[hub_user] = self._hub_hash(session, hub_user)
            return self.files.apply(hashes, hub_users=[hub_user])

    def _hub_hash(self, session: Session, hub_user: str) -> str:
        password = self._hub_password(session)
        assert self.files is not None
        # Keep the hub's existing hash when it still matches: a new salt would change the
        # file on every sync and reload the broker for nothing.
        try:
            for line in self.files.password_file.read_text(encoding="utf-8").splitlines():
                user, _, encoded = line.partition(":")
                if user == hub_user and verify_password(password, encoded):
                    return encoded
        except FileNotFoundError:
            pass
        return hash_password(password)

    def _hub_password(self, session: Session) -> str:
        if self._settings.mqtt_password is not None:
            return self._settings.mqtt_password.get_secret_value()
        key = self._settings.secrets_key
        if key is not None:
            try:
                return get_secret(session, HUB_PASSWORD_SECRET, key=key.get_secret_value())
            except NotFound:
                pass
        raise ConfigError(
            "the hub's own broker password is unknown: set ACORN_HUB_MQTT_PASSWORD or store it "
            f"with `acorn provision secret set {HUB_PASSWORD_SECRET}`"
        )


def files_configured(settings: HubSettings) -> bool:
    """True when the hub is set up to maintain Mosquitto's files."""
    return settings.broker_password_file is not None and settings.broker_acl_file is not None


def ca_pem(settings: HubSettings) -> str | None:
    """The CA certificate boxes pin, as PEM text, or None without TLS."""
    path: Path | None = settings.broker_ca_file
    if path is None:
        return None
    try:
        return path.read_text(encoding="ascii")
    except OSError as err:
        raise ConfigError(f"cannot read broker_ca_file {path}: {err.strerror}") from err
