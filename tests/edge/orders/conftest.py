"""Fixtures of the Online orders tests: the real cashier UI on 127.0.0.1 (from the UI suite)."""

from __future__ import annotations

from tests.edge.ui.conftest import cashier, seeded_database, till  # noqa: F401  (fixtures)
