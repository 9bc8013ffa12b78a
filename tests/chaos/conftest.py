"""Chaos suite fixtures: one world for the whole suite, and the table printed at the end.

The world (Mosquitto, hub, sandbox, three tills; tests/chaos/world.py) is built once for
the scenarios of test_chaos.py (and stopped before the other modules run):
building it costs about half a minute on two cores, and every scenario ends with
the system converged and checked, so the next one starts from a known state. Each
scenario adds a row (events sent, applied, lost, duplicated) to the collector; the
table is printed in pytest's terminal summary and written to artifacts/chaos.txt.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.chaos.world import World, build_world

HEADER = ("scenario", "events sent", "applied", "lost", "duplicated", "result", "seconds")


@dataclass
class Row:
    """One scenario's figures."""

    scenario: str
    sent: int = 0
    applied: int = 0
    lost: int = 0
    duplicated: int = 0
    result: str = "not run"
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    #: checks of the scenario's own, run after the common ones; each returns its problems
    checks: list[Callable[[], list[str]]] = field(default_factory=list)


@dataclass
class Collector:
    """Rows of every scenario that ran, in order."""

    rows: list[Row] = field(default_factory=list)
    setup_seconds: float = 0.0
    #: where the processes' logs were kept after a failed scenario
    logs: Path | None = None

    def table(self) -> str:
        """The table as text."""
        cells = [HEADER] + [
            (
                r.scenario,
                str(r.sent),
                str(r.applied),
                str(r.lost),
                str(r.duplicated),
                r.result,
                f"{r.seconds:.1f}",
            )
            for r in self.rows
        ]
        widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
        lines = []
        for n, row in enumerate(cells):
            lines.append(
                "  ".join(
                    cell.ljust(w) if i == 0 else cell.rjust(w)
                    for i, (cell, w) in enumerate(zip(row, widths, strict=True))
                )
            )
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        total = self.rows
        lines.append(
            f"total: {sum(r.sent for r in total)} events sent, "
            f"{sum(r.applied for r in total)} applied, {sum(r.lost for r in total)} lost, "
            f"{sum(r.duplicated for r in total)} duplicated; world set-up "
            f"{self.setup_seconds:.1f} s"
        )
        for r in total:
            lines += [f"{r.scenario}: {note}" for note in r.notes]
        if self.logs is not None:
            lines.append(f"process logs: {self.logs}")
        return "\n".join(lines)


COLLECTOR = pytest.StashKey[Collector]()


def pytest_configure(config: pytest.Config) -> None:
    """Give the session its collector."""
    config.stash[COLLECTOR] = Collector()


@pytest.fixture(scope="session")
def collector(pytestconfig: pytest.Config) -> Collector:
    """Where scenarios put their rows."""
    return pytestconfig.stash[COLLECTOR]


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, collector: Collector, pytestconfig: pytest.Config
) -> Iterator[World]:
    """Mosquitto, the hub, the Amazon sandbox and three enrolled tills, all running."""
    started = time.monotonic()
    w = build_world(tmp_path_factory.mktemp("chaos") / "world")
    collector.setup_seconds = time.monotonic() - started
    try:
        yield w
    finally:
        w.stop()
        if any(row.result != "OK" for row in collector.rows):
            # pytest keeps only its last few temporary folders: keep the logs for the reader
            kept = pytestconfig.rootpath / "artifacts" / "chaos-logs"
            shutil.copytree(w.root / "logs", kept, dirs_exist_ok=True)
            collector.logs = kept


@pytest.fixture
def healthy_world(world: World) -> World:
    """The world with every part running (a failed scenario may have left one down)."""
    world.ensure_running()
    world.wait_drained()
    return world


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Print the chaos table and write it to artifacts/chaos.txt."""
    collector = config.stash.get(COLLECTOR, None)
    if collector is None or not collector.rows:
        return
    text = collector.table()
    terminalreporter.write_sep("=", "chaos suite")
    terminalreporter.write_line(text)
    out = Path(config.rootpath) / "artifacts" / "chaos.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    terminalreporter.write_line(f"(written to {out})")
