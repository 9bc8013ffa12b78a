"""Shared helpers of the bench/ scripts: --quick defaults, figure lines, the machine load.

Every script prints, besides its own detail, one ``figure:`` line per headline figure:

    figure: <what> = <value> <unit> | ceiling: <what> = <value> <unit> | <share>

``bench/run_all.py`` (``make bench``) collects these lines into its final table, and
tests/bench/test_bench_smoke.py checks that each script prints them. The ceiling is
measured in the same run, on the same machine, so the two are comparable.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import Any

FIGURE_PREFIX = "figure: "


def add_quick(parser: argparse.ArgumentParser) -> None:
    """Add ``--quick``: small parameters, for a smoke run in seconds."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small parameters (a smoke run in seconds; figures are not meaningful)",
    )


def apply_defaults(
    args: argparse.Namespace, full: Mapping[str, Any], quick: Mapping[str, Any]
) -> argparse.Namespace:
    """Fill every option left at None from ``quick`` (with --quick) or ``full``."""
    chosen = quick if getattr(args, "quick", False) else full
    for key, value in full.items():
        if getattr(args, key, None) is None:
            setattr(args, key, chosen.get(key, value))
    return args


def fmt(value: float) -> str:
    """A figure with sensible precision: 12,345 / 123.4 / 1.23 / 0.123."""
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def figure(
    what: str,
    value: float,
    unit: str,
    *,
    ceiling: str,
    ceiling_value: float,
    ceiling_unit: str | None = None,
    higher_is_better: bool = True,
) -> None:
    """Print one figure line with the ceiling it is compared with (measured in the same run).

    The ratio figure/ceiling is a percentage for rates (higher is better) and a
    factor for latencies, durations and counts (lower is better: the ceiling is then
    the floor the figure cannot go below, or the naive figure it should beat).
    """
    cunit = ceiling_unit or unit
    if ceiling_value and value:
        ratio = value / ceiling_value
        share = (
            f"figure/ceiling {ratio:.1%}" if higher_is_better else f"figure/ceiling {ratio:.2f}x"
        )
    else:
        share = "n/a"
    print(
        f"{FIGURE_PREFIX}{what} = {fmt(value)} {unit} | "
        f"ceiling: {ceiling} = {fmt(ceiling_value)} {cunit} | {share}",
        flush=True,
    )


def load_line(when: str) -> str:
    """The 1/5/15-minute load average and the CPU count, for the record."""
    one, five, fifteen = os.getloadavg()
    return (
        f"load average {when}: {one:.2f} {five:.2f} {fifteen:.2f} "
        f"({os.cpu_count()} CPUs; figures drop when other work shares them)"
    )


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_sink(
    host: str,
    port: int,
    topic_filter: str,
    *,
    expect: int,
    timeout: float,
    auth: tuple[str, str] | None = None,
    mqtt5: bool = False,
) -> None:
    """The raw-broker ceiling's receiver: subscribe (QoS 1), print ``ready``, count ``expect``
    messages, then print ``{"last": <time of the last>, "received": n}`` as JSON."""
    import json
    import threading
    import time
    import uuid

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    done = threading.Event()
    subscribed = threading.Event()
    state = {"n": 0, "last": 0.0}

    def on_message(_c: object, _u: object, _m: object) -> None:
        state["n"] += 1
        if state["n"] >= expect:
            state["last"] = time.time()
            done.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"sink-{uuid.uuid4().hex[:6]}",
        protocol=mqtt.MQTTv5 if mqtt5 else mqtt.MQTTv311,
    )
    if auth is not None:
        client.username_pw_set(*auth)
    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_connect = lambda cl, *_: cl.subscribe(topic_filter, qos=1)
    client.connect(host, port)
    client.loop_start()
    subscribed.wait(30)
    print("ready", flush=True)
    done.wait(timeout)
    print(json.dumps({"last": state["last"], "received": state["n"]}), flush=True)
    client.disconnect()
    client.loop_stop()
