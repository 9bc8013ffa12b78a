"""Cashiers and managers: PINs hashed with argon2, verified at login and for manager approvals."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import peewee
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from edge_agent.store.db import write_transaction
from edge_agent.store.errors import AuthError, Conflict, StoreError
from edge_agent.store.models import Cashier

_LOGGER = logging.getLogger(__name__)

PIN_PATTERN = re.compile(r"^[0-9]{4,8}$")
CASHIER_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")

# argon2id with a modest memory cost: a PIN check must stay well under a
# second on a small POS box, and the hash never leaves the box.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY_HASH: list[str] = []


def _dummy_hash() -> str:
    # A hash to verify against when the cashier id is unknown, so the reply takes the
    # same time whether or not the id exists (made on first use: hashing costs ~0.1 s).
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(_HASHER.hash("00000000"))
    return _DUMMY_HASH[0]


class Role(StrEnum):
    """What a person may do at the till."""

    CASHIER = "cashier"
    MANAGER = "manager"


@dataclass(frozen=True, slots=True)
class CashierView:
    """A cashier without the PIN hash."""

    id: str
    name: str
    role: Role
    active: bool


def _view(row: Cashier) -> CashierView:
    return CashierView(row.id, row.name, Role(row.role), bool(row.active))


def check_pin_format(pin: str) -> None:
    """Raise StoreError unless the PIN is 4 to 8 digits."""
    if not PIN_PATTERN.match(pin):
        raise StoreError("a PIN is 4 to 8 digits", code="invalid_pin")


class CashierRepository:
    """People who may log in at this till."""

    def __init__(self, db: peewee.SqliteDatabase) -> None:
        self._db = db

    def add(
        self, cashier_id: str, name: str, pin: str, *, role: Role = Role.CASHIER
    ) -> CashierView:
        """Create a cashier with a hashed PIN; Conflict if the id exists."""
        if not CASHIER_ID_PATTERN.match(cashier_id):
            raise StoreError(
                "a cashier id is 1-32 letters, digits, '.', '_' or '-'", code="invalid_cashier_id"
            )
        check_pin_format(pin)
        pin_hash = _HASHER.hash(pin)
        with write_transaction(self._db):
            if Cashier.get_or_none(Cashier.id == cashier_id) is not None:
                raise Conflict(f"cashier {cashier_id!r} already exists")
            row = Cashier.create(
                id=cashier_id,
                name=name,
                role=str(role),
                pin_hash=pin_hash,
                active=True,
                created_at=datetime.now(UTC),
            )
        _LOGGER.info("cashier %s added (role %s)", cashier_id, role)
        return _view(row)

    def set_pin(self, cashier_id: str, pin: str) -> None:
        """Replace a cashier's PIN."""
        check_pin_format(pin)
        with write_transaction(self._db):
            if (
                Cashier.update(pin_hash=_HASHER.hash(pin)).where(Cashier.id == cashier_id).execute()
                != 1
            ):
                raise AuthError(f"no cashier {cashier_id!r}")

    def set_active(self, cashier_id: str, *, active: bool) -> None:
        """Enable or disable a cashier (disabled ones cannot log in)."""
        with write_transaction(self._db):
            if Cashier.update(active=active).where(Cashier.id == cashier_id).execute() != 1:
                raise AuthError(f"no cashier {cashier_id!r}")

    def list(self) -> list[CashierView]:
        """Return every cashier, by id."""
        return [_view(r) for r in Cashier.select().order_by(Cashier.id)]

    def get(self, cashier_id: str) -> CashierView | None:
        """Return one cashier or None."""
        row = Cashier.get_or_none(Cashier.id == cashier_id)
        return None if row is None else _view(row)

    def verify(self, cashier_id: str, pin: str, *, role: Role | None = None) -> CashierView:
        """Return the cashier if the PIN matches (and the role, when asked); AuthError otherwise."""
        row = Cashier.get_or_none(Cashier.id == cashier_id)
        try:
            _HASHER.verify(row.pin_hash if row is not None else _dummy_hash(), pin)
        except (VerificationError, InvalidHashError):
            raise AuthError("cashier id or PIN not recognised") from None
        if row is None or not row.active:
            raise AuthError("cashier id or PIN not recognised")
        if role is Role.MANAGER and row.role != Role.MANAGER:
            raise AuthError(f"{row.name} is not a manager; a manager must approve this")
        return _view(row)
