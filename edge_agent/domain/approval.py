"""A manager's approval, as a value the domain can require.

The PIN check is an adapter concern: the shell verifies the PIN against the
store's staff records and only then builds a :class:`ManagerApproval`. The
domain never sees a PIN; it only asks for proof that the check happened and
records who approved.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ManagerApproval:
    """Proof that a manager approved an action (built by the shell after the PIN check)."""

    manager_id: str

    def __post_init__(self) -> None:
        if not self.manager_id.strip():
            raise ValueError("a manager approval needs the manager's id")
