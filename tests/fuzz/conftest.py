"""Fuzz suite fixtures: a payload counter printed at the end of the run."""

from __future__ import annotations

from collections import Counter

import pytest

#: Payloads sent per target during this run: "hub ingest", "edge inbound", "hub over MQTT".
PAYLOADS: Counter[str] = Counter()


def count_payloads(target: str, n: int) -> None:
    """Add n payloads to a target's count (shown in the terminal summary)."""
    PAYLOADS[target] += n


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how many fuzzed payloads each target took."""
    if not PAYLOADS:
        return
    parts = ", ".join(f"{target} {n}" for target, n in sorted(PAYLOADS.items()))
    terminalreporter.write_line(f"fuzz: {sum(PAYLOADS.values())} payloads ({parts})")
