"""Smoke runs of bench/: every script answers --help, runs with --quick and prints its figures.

The figures of a --quick run mean nothing (tiny parameters, a shared machine); what is
checked is that each script still runs end to end against the real parts and prints
its ``figure:`` lines with the ceiling measured in the same run. No timing assertions.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"

#: Script -> number of figure lines its --quick run prints. Slow ones take 10-30 s.
FIGURES = {
    "scan_latency": 1,
    "edge_scan_lookup": 1,
    "edge_sale_commit": 1,
    "receipt_render": 1,
    "routing": 1,
    "routing_ingest_hook": 1,
    "edge_outbox_drain": 1,
    "hub_catalog_import": 1,
    "settlement_import": 1,
    "hub_ingest": 1,
    "hub_reconnect_storm": 1,
    "amazon_push": 2,
    "amazon_store_to_listing": 2,
}
SLOW = {
    "edge_outbox_drain",
    "hub_catalog_import",
    "hub_ingest",
    "hub_reconnect_storm",
    "amazon_push",
    "amazon_store_to_listing",
}
NUMBER = r"-?[\d,]+(?:\.\d+)?"
FIGURE_LINE = re.compile(
    rf"^figure: (?P<what>.+) = (?P<value>{NUMBER}) \S+ \| "
    rf"ceiling: (?P<ceiling>.+) = (?P<cvalue>{NUMBER}) .+ \| figure/ceiling {NUMBER}(?:%|x)$"
)


def run(*argv: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_order() -> list[str]:
    """The scripts `make bench` runs (bench/run_all.py ORDER), read without importing it."""
    text = (BENCH / "run_all.py").read_text()
    block = text.split("ORDER = [", 1)[1].split("]", 1)[0]
    return re.findall(r'"([a-z_]+)"', block)


def test_make_bench_runs_every_script_checked_here() -> None:
    assert sorted(run_order()) == sorted(FIGURES)
    for name in FIGURES:
        assert (BENCH / f"{name}.py").is_file(), name


def test_every_script_answers_help() -> None:
    procs = {
        name: subprocess.Popen(
            [sys.executable, str(BENCH / f"{name}.py"), "--help"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in [*FIGURES, "run_all"]
    }
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, f"{name} --help: {err[-2000:]}"
        assert out.startswith("usage:"), name
        if name != "run_all":
            assert "--quick" in out, name


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name,
            marks=[pytest.mark.slow, pytest.mark.timeout(300)] if name in SLOW else [],
        )
        for name in FIGURES
    ],
)
def test_quick_run_prints_figures_with_ceilings(name: str) -> None:
    result = run(str(BENCH / f"{name}.py"), "--quick", timeout=280)
    assert result.returncode == 0, (
        f"{name} --quick exited {result.returncode}:\n{result.stdout[-3000:]}\n"
        f"{result.stderr[-3000:]}"
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("figure: ")]
    assert len(lines) == FIGURES[name], result.stdout[-3000:]
    for line in lines:
        match = FIGURE_LINE.match(line)
        assert match is not None, line
        assert float(match["cvalue"].replace(",", "")) > 0, line
    assert "load average at the end" in result.stdout


def test_run_all_prints_the_table() -> None:
    result = run(str(BENCH / "run_all.py"), "--only", "routing", "--quick", timeout=110)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = result.stdout.split("\nfigures (load average at the end", 1)[1]
    assert "routing decisions" in table
    assert "candidate selection alone" in table
