"""Run every benchmark in bench/ one after the other, then print a table of the figures.

Run: .venv/bin/python bench/run_all.py [--only NAME[,NAME...]] [--skip NAME,...] [ARGS...]
     make bench BENCH_ARGS="--quick"

Any argument this runner does not know (``--quick`` above all) is passed to every
script. Each script's output streams through as it runs; the ``figure:`` lines
(see bench/_common.py) are collected into the final table with the ceiling each
figure is compared with. Exits non-zero if any script failed (the others still run).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import FIGURE_PREFIX

HERE = Path(__file__).resolve().parent

#: The benchmarks ``make bench`` runs, in this order: cheap edge figures first, the long
#: hub runs last. A new script joins by being added here (and taking --quick).
ORDER = [
    "scan_latency",
    "edge_scan_lookup",
    "edge_sale_commit",
    "receipt_render",
    "edge_outbox_drain",
    "routing",
    "routing_ingest_hook",
    "hub_catalog_import",
    "settlement_import",
    "hub_ingest",
    "hub_reconnect_storm",
    "amazon_push",
    "amazon_store_to_listing",
]


def unlisted() -> list[str]:
    """Scripts in bench/ that are not in ORDER (not run; they may not take --quick)."""
    found = {p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_")}
    return sorted(found - set(ORDER) - {"run_all"})


def main() -> None:
    """Run the scripts, stream their output, print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Unknown arguments (e.g. --quick) are passed to every script.",
    )
    parser.add_argument("--only", default="", help="comma-separated script names to run")
    parser.add_argument("--skip", default="", help="comma-separated script names to leave out")
    args, passthrough = parser.parse_known_args()
    names = list(ORDER)
    if args.only:
        wanted = args.only.split(",")
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise SystemExit(f"unknown benchmark(s): {', '.join(unknown)}; known: {names}")
        names = [n for n in names if n in wanted]
    names = [n for n in names if n not in args.skip.split(",")]

    rows: list[tuple[str, str, str, str]] = []
    failed: list[str] = []
    one, five, _ = os.getloadavg()
    print(f"bench: {len(names)} scripts, load average at start {one:.2f} / {five:.2f} (1 / 5 min)")
    if unlisted():
        print(f"not run (not in bench/run_all.py ORDER): {', '.join(unlisted())}")
    for name in names:
        argv = [sys.executable, str(HERE / f"{name}.py"), *passthrough]
        print(f"\n==> {name} {' '.join(passthrough)}", flush=True)
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, bufsize=1)
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            if line.startswith(FIGURE_PREFIX):
                parts = line[len(FIGURE_PREFIX) :].strip().split(" | ")
                if len(parts) == 3:
                    rows.append((name, parts[0], parts[1].removeprefix("ceiling: "), parts[2]))
        code = proc.wait()
        print(f"<== {name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code != 0:
            failed.append(name)

    one, five, _ = os.getloadavg()
    print(f"\nfigures (load average at the end {one:.2f} / {five:.2f}):")
    width = max((len(r[1]) for r in rows), default=10)
    cwidth = max((len(r[2]) for r in rows), default=10)
    print(f"{'figure':<{width}}  {'ceiling (same run)':<{cwidth}}  ratio")
    for _name, what, ceiling, share in rows:
        print(f"{what:<{width}}  {ceiling:<{cwidth}}  {share}")
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
