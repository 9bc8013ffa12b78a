"""Root test configuration: registers the shared fixture modules and guards against leaks."""

from __future__ import annotations

import pytest

from tests.fixtures.util import kill_leftovers

pytest_plugins = [
    "tests.fixtures.brokers",
    "tests.fixtures.postgres",
    "tests.fixtures.hubdb",
]


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a fixture left a broker or database server running (and kill it)."""
    leaked = kill_leftovers()
    if leaked:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "processes left running by fixtures (now killed): " + ", ".join(leaked)
        if reporter is not None:
            reporter.write_line(f"ERROR: {message}", red=True, bold=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
