"""Provisioning tables: one-time enrollment codes, per-store broker credentials, hub secrets.

Nothing here holds a secret in clear: codes are stored as keyed hashes, broker
passwords as Mosquitto ``$7$`` hashes (the clear password exists only in the
enrollment response), hub secrets encrypted with a key from the environment.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models import Base
from hub.db.types import BigIntPK


class EnrollmentCode(Base):
    """A one-time enrollment code for a store, stored as a keyed hash."""

    __tablename__ = "enrollment_codes"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None]


class BrokerCredential(Base):
    """A store's MQTT account: username and ``$7$`` hash only, never the password."""

    __tablename__ = "broker_credentials"
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class HubSecret(Base):
    """A named hub secret (marketplace token, broker admin password), encrypted at rest."""

    __tablename__ = "hub_secrets"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime]


class StoreSite(Base):
    """Where a store is: postal address and coordinates, given when the store is created."""

    __tablename__ = "store_sites"
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    address: Mapped[str] = mapped_column(String(500), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
