"""Routing wiring fixtures: the hub suite's stores on the shared migrated databases."""

from __future__ import annotations

from tests.hub.conftest import sessions  # noqa: F401  (stores s-001..s-003 on hub_engine)
