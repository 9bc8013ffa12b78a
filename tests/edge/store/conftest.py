"""Fixtures of the edge store tests: a migrated edge database in a temp folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.store.facade import EdgeStore
from tests.edge.store.helpers import make_store, seed_catalog


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EdgeStore]:
    """A fresh edge database with the small test catalog (no stock)."""
    edge = make_store(tmp_path / "edge.db")
    seed_catalog(edge)
    yield edge
    edge.close()
