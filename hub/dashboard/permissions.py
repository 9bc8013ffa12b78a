"""What each role may do on the dashboard (pure: no I/O)."""

from __future__ import annotations

import enum

from hub.auth import Principal, Role

HQ_ROLES: tuple[Role, ...] = (Role.ADMIN, Role.HQ, Role.FINANCE, Role.VIEWER, Role.TECH)
"""Roles an HQ account can have (API tokens keep reader/operator/admin)."""


class Perm(enum.StrEnum):
    """A dashboard permission."""

    VIEW = "view"
    """Overview, stores, stock, orders, channels, alarms."""
    REPORTS = "reports"
    EXPORT = "export"
    ACT_ALARMS = "act_alarms"
    EDIT_RULES = "edit_rules"
    ACT_ORDERS = "act_orders"
    DEAD_LETTERS = "dead_letters"
    FINANCE = "finance"
    """The finance page: ledger, profit, reconciliation, tax (and its API)."""
    ADMIN = "admin"
    """Users and the audit log."""


_BY_ROLE: dict[Role, frozenset[Perm]] = {
    Role.ADMIN: frozenset(Perm),
    Role.HQ: frozenset(
        {
            Perm.VIEW,
            Perm.REPORTS,
            Perm.EXPORT,
            Perm.ACT_ALARMS,
            Perm.ACT_ORDERS,
            Perm.DEAD_LETTERS,
            Perm.FINANCE,
        }
    ),
    Role.FINANCE: frozenset({Perm.VIEW, Perm.REPORTS, Perm.EXPORT, Perm.FINANCE}),
    Role.TECH: frozenset({Perm.VIEW, Perm.ACT_ALARMS, Perm.DEAD_LETTERS, Perm.EXPORT}),
    Role.VIEWER: frozenset({Perm.VIEW, Perm.REPORTS}),
    Role.OPERATOR: frozenset(
        {
            Perm.VIEW,
            Perm.REPORTS,
            Perm.EXPORT,
            Perm.ACT_ALARMS,
            Perm.ACT_ORDERS,
            Perm.DEAD_LETTERS,
            Perm.FINANCE,
        }
    ),
    Role.READER: frozenset({Perm.VIEW, Perm.REPORTS}),
}


def permissions(principal: Principal) -> frozenset[Perm]:
    """Every permission the principal's roles grant."""
    granted: set[Perm] = set()
    for role in principal.roles:
        granted |= _BY_ROLE.get(role, frozenset())
    return frozenset(granted)


def can(principal: Principal, perm: Perm) -> bool:
    """True when one of the principal's roles grants ``perm``."""
    return perm in permissions(principal)


def parse_hq_roles(text: str) -> frozenset[Role]:
    """Parse "hq,finance" into HQ roles; ValueError names a role HQ accounts cannot have."""
    roles = set()
    for part in text.split(","):
        name = part.strip().lower()
        if not name:
            continue
        try:
            role = Role(name)
        except ValueError:
            role = None
        if role not in HQ_ROLES:
            raise ValueError(
                f"unknown HQ role {name!r}; roles are {', '.join(r.value for r in HQ_ROLES)}"
            )
        roles.add(role)
    if not roles:
        raise ValueError("at least one role is needed")
    return frozenset(r for r in roles if r is not None)
