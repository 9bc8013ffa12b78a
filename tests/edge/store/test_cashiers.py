"""Cashiers: PINs are hashed (argon2), checked, and roles are enforced for manager approvals."""

from __future__ import annotations

import pytest

from edge_agent.store.cashiers import Role
from edge_agent.store.errors import AuthError, Conflict, StoreError
from edge_agent.store.facade import EdgeStore
from edge_agent.store.models import Cashier


def test_pin_is_stored_hashed_and_verified(store: EdgeStore) -> None:
    store.cashiers.add("c1", "Ann", "1234")
    row = Cashier.get(Cashier.id == "c1")
    assert "1234" not in row.pin_hash
    assert row.pin_hash.startswith("$argon2id$")
    assert store.cashiers.verify("c1", "1234").name == "Ann"
    with pytest.raises(AuthError):
        store.cashiers.verify("c1", "4321")
    with pytest.raises(AuthError):
        store.cashiers.verify("nobody", "1234")


def test_manager_role_is_required_for_approvals(store: EdgeStore) -> None:
    store.cashiers.add("c1", "Ann", "1234")
    store.cashiers.add("m1", "Meg", "9876", role=Role.MANAGER)
    with pytest.raises(AuthError, match="not a manager"):
        store.cashiers.verify("c1", "1234", role=Role.MANAGER)
    assert store.cashiers.verify("m1", "9876", role=Role.MANAGER).role is Role.MANAGER


def test_disabled_cashier_cannot_log_in(store: EdgeStore) -> None:
    store.cashiers.add("c1", "Ann", "1234")
    store.cashiers.set_active("c1", active=False)
    with pytest.raises(AuthError):
        store.cashiers.verify("c1", "1234")


@pytest.mark.parametrize("pin", ["123", "abcd", "123456789", ""])
def test_bad_pins_are_refused(store: EdgeStore, pin: str) -> None:
    with pytest.raises(StoreError, match="4 to 8 digits"):
        store.cashiers.add("c1", "Ann", pin)


def test_duplicate_id_is_refused(store: EdgeStore) -> None:
    store.cashiers.add("c1", "Ann", "1234")
    with pytest.raises(Conflict):
        store.cashiers.add("c1", "Bob", "5678")
