"""The chaos suite's world: Mosquitto, the hub, the Amazon sandbox and three tills, all real.

Set-up follows the operator runbooks (docs/provisioning.md, docs/amazon.md): the hub's
database is migrated and keeps Mosquitto's password file and ACL (`acorn provision
broker sync`, then every enrollment rewrites them and SIGHUPs the broker); each store
is created on the hub (`acorn provision store create`) and its box enrolled with the
one-time code (`acorn provision enroll`), so every till logs in to Mosquitto with its
own credentials and the ACL confines it to its own topics. One-shot commands run
in this process through the real click command tree (a new interpreter costs 3-4 s
here); the long-running parts run as their own processes, as in production:
Mosquitto, `acorn hub serve`, `acorn sandbox amazon` and one `acorn edge run` per
store, each till reaching the broker through its own socat TCP proxy so that a test
can cut or black-hole its network path.

Sales are rung through each till's cashier HTTP API (`/api`) by one thread per store
at a steady rate. The truth about what was sold is each till's own SQLite file; the
checks compare it with the hub's database (`applied_events`, `sales_facts`,
`stock_levels`) and with the sandbox's listings. Every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import tomli_w
from click.testing import CliRunner

from acorn.demo import setup as demo_setup
from tests.fixtures.brokers import BrokerInfo, make_mosquitto
from tests.fixtures.util import (
    die_with_parent,
    free_port,
    kill_process,
    register_process,
    stop_process,
    unregister,
    wait_until,
)

HOST = "127.0.0.1"
PIN = "1234"
#: Units of every product each store starts with; one product starts scarce, so it sells
#: out (and below zero at the till) during the run and its listing must drop to zero.
OPENING_STOCK = 400
SCARCE_SKU = "ACN-UMB-NVY"
SCARCE_STOCK = 12
#: What the shoppers buy (a subset of the demo catalog, the scarce product included).
SHOPPING_SKUS = ("ACN-TEA-100", "ACN-COF-250", "ACN-MUG-WHT", "ACN-PEN-BLK", SCARCE_SKU)
MARKETPLACE = "UK"
SELLER_ID = "ACORNCHAOS"
#: One sale every this many seconds per till while a ringer runs (a busy shop: a real
#: till rings one every few seconds; this is faster so that a scenario sees hundreds).
SALE_INTERVAL_S = 0.25
START_TIMEOUT_S = 90.0
DRAIN_TIMEOUT_S = 90.0
LISTING_TIMEOUT_S = 45.0
FAKETIME_HINT = "libfaketime is not installed: run `make services` (or `apt-get install faketime`)"


def faketime_library() -> str | None:
    """Path of libfaketime (Debian package ``faketime``), or None."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    found += sorted(glob.glob("/usr/lib/faketime/libfaketime.so.1"))
    return found[0] if found else None


def norm_id(raw: object) -> str:
    """A UUID in one spelling (the till stores it one way, the wire carries another)."""
    try:
        return uuid.UUID(str(raw)).hex
    except ValueError:
        return str(raw)


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to a SQLite file that a running process is writing."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        yield conn
    finally:
        conn.close()


# --------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------


@dataclass
class Proc:
    """A long-running child process with its output appended to a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    ready: Callable[[], bool]
    popen: subprocess.Popen[bytes] | None = None
    #: kill the whole process group (socat forks a child per connection)
    group: bool = False
    #: seconds from launch to ready, per start
    ready_s: list[float] = field(default_factory=list)

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start it and wait until its readiness check passes."""
        self.launch()
        self.wait_ready(timeout)

    def mark(self, text: str) -> None:
        """Write a line of ours into its log."""
        with self.log.open("ab") as out:
            out.write(f"==== {text} at {time.strftime('%H:%M:%S')}\n".encode())

    def launch(self) -> None:
        """Start it without waiting."""
        assert not self.alive(), f"{self.name} is already running"
        with self.log.open("ab") as out:
            out.write(f"\n==== start {self.name} at {time.strftime('%H:%M:%S')}\n".encode())
            out.flush()
            self.popen = subprocess.Popen(
                die_with_parent(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        register_process(self.popen, self.name)

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Poll the readiness check; fail with the log's tail if the process exits."""

        def up() -> bool:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited with {self.popen.returncode} while starting:\n"
                    + self.tail()
                )
            return self.ready()

        started = time.monotonic()
        wait_until(up, timeout=timeout, interval=0.1, message=f"{self.name} ready")
        self.ready_s.append(time.monotonic() - started)
        self.mark(f"ready after {self.ready_s[-1]:.1f} s")

    def alive(self) -> bool:
        """Whether the process runs."""
        return self.popen is not None and self.popen.poll() is None

    def tail(self, chars: int = 4000) -> str:
        """The end of its log."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def kill9(self) -> None:
        """SIGKILL: no chance to clean up, like a crash or a power cut."""
        if self.popen is None:
            return
        self.mark("kill -9")
        if self.group:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        kill_process(self.popen)
        unregister(self.popen)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM and wait (SIGKILL after ``timeout``)."""
        if self.popen is None:
            return
        if self.group and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGTERM)
        stop_process(self.popen, timeout)
        if self.group:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        unregister(self.popen)

    def signal_group(self, signum: int) -> None:
        """Send a signal to the process group (SIGSTOP/SIGCONT to freeze a proxy)."""
        assert self.popen is not None
        os.killpg(self.popen.pid, signum)


def http_ok(url: str) -> bool:
    """Whether a GET answers 200."""
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def acorn_argv(*args: str) -> list[str]:
    """``acorn ARGS`` through this interpreter."""
    return [sys.executable, "-m", "acorn.cli", *args]


def run_cli(args: list[str], env: Mapping[str, str]) -> str:
    """Run one ``acorn`` command in this process (the real click tree); return its stdout."""
    from acorn.cli import cli

    result = CliRunner().invoke(cli, args, env=dict(env), catch_exceptions=True)
    if result.exit_code != 0:
        detail = result.output[-2000:]
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            detail += f"\n{type(result.exception).__name__}: {result.exception}"
        raise AssertionError(f"acorn {' '.join(args)} exited {result.exit_code}: {detail}")
    return result.stdout


# --------------------------------------------------------------------------------------
# Tills and the shoppers at them
# --------------------------------------------------------------------------------------


@dataclass
class Till:
    """One store: its enrolled box folder, its agent process and the proxy to the broker."""

    store_id: str
    tz: str
    folder: Path
    ui_port: int
    proxy_port: int
    agent: Proc
    proxy: Proc
    #: the agent's environment without any fault injected
    agent_env: dict[str, str]

    @property
    def db(self) -> Path:
        """The till's SQLite file: the truth about what it sold."""
        return self.folder / "edge.db"

    @property
    def url(self) -> str:
        """The cashier UI."""
        return f"http://{HOST}:{self.ui_port}"

    @property
    def broker_password(self) -> str:
        """The password enrollment wrote for the box (never printed)."""
        return (self.folder / "secrets" / "broker.password").read_text().strip()

    def status(self) -> dict[str, Any]:
        """``GET /api/status``."""
        return dict(httpx.get(self.url + "/api/status", timeout=5).json())

    def online(self) -> bool:
        """Whether the agent says it is connected to the broker."""
        try:
            return bool(self.status()["online"])
        except (httpx.HTTPError, KeyError, ValueError):
            return False

    # --- facts from the till's own database (read-only) -------------------------------

    def sale_ids(self) -> set[str]:
        """Every sale the till recorded."""
        with read_only(self.db) as conn:
            return {norm_id(r[0]) for r in conn.execute("SELECT id FROM sale")}

    def sales(self) -> dict[str, tuple[str, str]]:
        """sale id -> (business day, completed at) as the till recorded them."""
        with read_only(self.db) as conn:
            return {
                norm_id(i): (str(day), str(at))
                for i, day, at in conn.execute("SELECT id, business_day, completed_at FROM sale")
            }

    def sale_lines(self) -> int:
        """Sale lines the till recorded."""
        with read_only(self.db) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM sale_line").fetchone()[0])

    def last_seq(self) -> int:
        """The last outbox seq the till assigned."""
        with read_only(self.db) as conn:
            row = conn.execute("SELECT value FROM counter WHERE name = 'outbox_seq'").fetchone()
        return int(row[0]) if row else 0

    def outbox_depth(self) -> int:
        """Events not yet acknowledged by the hub."""
        with read_only(self.db) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def outbox(self, after_seq: int) -> list[tuple[int, str]]:
        """(seq, encoded envelope) of queued events after a seq, in seq order."""
        with read_only(self.db) as conn:
            return [
                (int(s), str(e))
                for s, e in conn.execute(
                    "SELECT seq, envelope FROM outbox WHERE seq > ? ORDER BY seq", (after_seq,)
                )
            ]

    def stock(self) -> dict[str, int]:
        """On-hand per SKU as the till counts it (it may be negative: tills sell below zero)."""
        with read_only(self.db) as conn:
            return {str(s): int(q) for s, q in conn.execute("SELECT sku, on_hand FROM stock")}

    def available(self) -> dict[str, int]:
        """max(0, on hand - reserved) per SKU: what the till could still hand over."""
        with read_only(self.db) as conn:
            return {
                str(s): max(0, int(q) - int(r))
                for s, q, r in conn.execute("SELECT sku, on_hand, reserved FROM stock")
            }


@dataclass
class RingerCounters:
    """What one shopper saw."""

    accepted: set[str] = field(default_factory=set)
    attempts: int = 0
    failures: int = 0
    retried_after_crash: int = 0
    #: of those, sales the till had committed before it died
    found_after_crash: int = 0
    last_error: str = ""


class Ringer(threading.Thread):
    """Rings sales at one till through its HTTP API at a steady rate until stopped.

    A sale whose ``complete`` request failed (the agent died mid-request) is asked
    again with the same ``cart_id`` once the till answers, as a till's screen would
    after a restart: the till either has it (200, the same sale) or not (the cart is
    gone). Either way the till's database stays the truth.
    """

    def __init__(self, till: Till, *, seed: str, barcodes: Mapping[str, str]) -> None:
        super().__init__(name=f"ringer-{till.store_id}", daemon=True)
        self.till = till
        self.rng = random.Random(seed)
        self.barcodes = barcodes
        self.counters = RingerCounters()
        self.stop_event = threading.Event()
        #: set while a ``complete`` request is on its way (a test may kill the agent then)
        self.completing = threading.Event()
        self._client = httpx.Client(base_url=till.url, timeout=5.0)
        self._logged_in = False
        self._unsure: str | None = None  # cart id whose completion we never saw answered

    def _login(self) -> None:
        answer = self._client.post("/api/login", json={"cashier_id": "ann", "pin": PIN})
        answer.raise_for_status()
        shift = self._client.get("/api/shift").json().get("shift")
        if not shift:
            self._client.post(
                "/api/shift/open", json={"opening_float_minor": 10_000}
            ).raise_for_status()
        self._logged_in = True

    def _settle_unsure(self) -> None:
        """Ask the till about a sale whose answer was lost when the agent died."""
        cart_id = self._unsure
        if cart_id is None:
            return
        answer = self._client.post(
            "/api/cart/complete",
            json={"tenders": [{"kind": "card", "amount_minor": 1}], "cart_id": cart_id},
        )
        self._unsure = None
        self.counters.retried_after_crash += 1
        if answer.status_code == 200 and answer.json()["sale"]["duplicate"]:
            self.counters.accepted.add(norm_id(answer.json()["sale"]["sale_id"]))
            self.counters.found_after_crash += 1
        else:
            # the sale never committed (or the till moved on): nothing to pay
            self._client.post("/api/cart/void", json={"reason": "retry after crash"})

    def ring_one(self) -> None:
        """Scan one or two products and pay by card."""
        if not self._logged_in:
            self._login()
        self._settle_unsure()
        picks = self.rng.sample(SHOPPING_SKUS, k=self.rng.randint(1, 2))
        cart: dict[str, Any] = {}
        for sku in picks:
            answer = self._client.post(
                "/api/cart/scan", json={"code": self.barcodes[sku], "qty": self.rng.randint(1, 2)}
            )
            if answer.status_code == 401:
                self._logged_in = False
            answer.raise_for_status()
            cart = answer.json()["cart"]
        total = int(cart["total"]["minor"])
        cart_id = str(cart["cart_id"])
        self._unsure = cart_id
        self.completing.set()
        try:
            answer = self._client.post(
                "/api/cart/complete",
                json={
                    "tenders": [{"kind": "card", "amount_minor": total, "reference": "chaos"}],
                    "cart_id": cart_id,
                },
            )
        finally:
            self.completing.clear()
        self._unsure = None
        answer.raise_for_status()
        self.counters.accepted.add(norm_id(answer.json()["sale"]["sale_id"]))

    def run(self) -> None:
        """Ring until stopped; errors (a dead agent, a restart) are counted and retried."""
        while not self.stop_event.wait(SALE_INTERVAL_S * self.rng.uniform(0.6, 1.4)):
            self.counters.attempts += 1
            try:
                self.ring_one()
            except (httpx.HTTPError, KeyError, ValueError) as err:
                self.counters.failures += 1
                self.counters.last_error = f"{type(err).__name__}: {err}"[:300]
                self._logged_in = False
                # a dead agent: wait a little before knocking again
                self.stop_event.wait(0.2)
        with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
            self._settle_unsure()
        self._client.close()

    def stop(self) -> None:
        """Stop after the sale in hand."""
        self.stop_event.set()
        self.join(30)
        assert not self.is_alive(), f"{self.name} did not stop"


# --------------------------------------------------------------------------------------
# The world
# --------------------------------------------------------------------------------------


@dataclass
class Check:
    """The state of the whole system, compared after a scenario."""

    sent: int
    applied: int
    lost: int
    duplicated: int
    problems: list[str]


@dataclass
class World:
    """Every part of the system and what the suite measured of it."""

    root: Path
    broker: BrokerInfo
    hub: Proc
    sandbox: Proc
    hub_env: dict[str, str]
    hub_port: int
    sandbox_port: int
    tills: dict[str, Till]
    barcodes: dict[str, str]
    seller: dict[str, Any]
    ringers: dict[str, Ringer] = field(default_factory=dict)
    accepted: dict[str, set[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    # --- parts ----------------------------------------------------------------------

    @property
    def hub_db(self) -> Path:
        """The hub's SQLite file."""
        return self.root / "hub" / "hub.db"

    @property
    def hub_url(self) -> str:
        """The hub's API."""
        return f"http://{HOST}:{self.hub_port}"

    @property
    def sandbox_url(self) -> str:
        """The SP-API sandbox."""
        return f"http://{HOST}:{self.sandbox_port}"

    def ensure_running(self) -> None:
        """Start whatever a failed scenario left stopped (or frozen), so the next one starts
        whole."""
        for proc in [self.hub, *(t.proxy for t in self.tills.values())]:
            if proc.alive():
                proc.signal_group(signal.SIGCONT)
        if not self.broker.is_running():
            self.broker.start()
        for till in self.tills.values():
            if not till.proxy.alive():
                till.proxy.start()
        if not self.hub.alive():
            self.hub.start()
        for till in self.tills.values():
            if not till.agent.alive():
                till.agent.start()

    # --- shoppers ---------------------------------------------------------------------

    def start_ringing(self, stores: list[str] | None = None) -> None:
        """Start a shopper at each till (or the named ones)."""
        for store_id in stores or list(self.tills):
            assert store_id not in self.ringers, f"{store_id} is already ringing"
            ringer = Ringer(
                self.tills[store_id],
                seed=f"{store_id}:{len(self.accepted.get(store_id, ()))}",
                barcodes=self.barcodes,
            )
            self.ringers[store_id] = ringer
            ringer.start()

    def stop_ringing(self, stores: list[str] | None = None) -> None:
        """Stop the shoppers and remember every sale the tills confirmed to them."""
        for store_id in stores or list(self.ringers):
            ringer = self.ringers.pop(store_id)
            ringer.stop()
            c = ringer.counters
            self.accepted.setdefault(store_id, set()).update(c.accepted)
            if c.failures:
                self.notes.append(
                    f"shopper at {store_id}: {c.failures} of {c.attempts} attempts failed "
                    f"(last: {c.last_error})"
                )

    def take_notes(self) -> list[str]:
        """What the shoppers noticed since the last call."""
        notes, self.notes = self.notes, []
        return notes

    def rung(self, store_id: str) -> int:
        """Sales the running shopper at a till has seen accepted."""
        return len(self.ringers[store_id].counters.accepted)

    def wait_rung(self, store_id: str, more: int, timeout: float = 60.0) -> None:
        """Wait until the shopper at a till saw ``more`` further sales accepted."""
        start = self.rung(store_id)
        wait_until(
            lambda: self.rung(store_id) >= start + more,
            timeout=timeout,
            interval=0.05,
            message=f"{more} more sales at {store_id} "
            f"(last error: {self.ringers[store_id].counters.last_error})",
        )

    # --- hub facts (its SQLite file, read-only) -------------------------------------

    def hub_contiguous(self, store_id: str) -> int:
        """The hub's highest contiguous seq for a store."""
        with read_only(self.hub_db) as conn:
            row = conn.execute(
                "SELECT contiguous_seq FROM store_sync WHERE store_id = ?", (store_id,)
            ).fetchone()
        return int(row[0]) if row else 0

    def hub_applied(self, store_id: str, after_seq: int = 0) -> int:
        """Events of a store applied at the hub after a seq."""
        with read_only(self.hub_db) as conn:
            return int(
                conn.execute(
                    "SELECT COUNT(*) FROM applied_events WHERE store_id = ? AND seq > ?",
                    (store_id, after_seq),
                ).fetchone()[0]
            )

    def hub_applied_total(self) -> int:
        """Every event applied at the hub."""
        with read_only(self.hub_db) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM applied_events").fetchone()[0])

    def hub_sale_events(self, store_id: str) -> list[str]:
        """The sale id of every ``sale.completed`` applied for a store (one per event)."""
        with read_only(self.hub_db) as conn:
            return [
                norm_id(json.loads(body).get("sale_id") if isinstance(body, str) else None)
                for (body,) in conn.execute(
                    "SELECT body FROM applied_events "
                    "WHERE store_id = ? AND type = 'sale.completed'",
                    (store_id,),
                )
            ]

    def hub_fact_days(self, store_id: str) -> dict[str, set[str]]:
        """sale id -> the business days of its lines in ``sales_facts``."""
        out: dict[str, set[str]] = {}
        with read_only(self.hub_db) as conn:
            for doc, day in conn.execute(
                "SELECT document_id, business_day FROM sales_facts "
                "WHERE store_id = ? AND kind = 'sale'",
                (store_id,),
            ):
                out.setdefault(norm_id(doc), set()).add(str(day))
        return out

    def hub_fact_lines(self, store_id: str) -> tuple[int, int]:
        """(sale lines in ``sales_facts``, lines held more than once) for a store."""
        with read_only(self.hub_db) as conn:
            lines = conn.execute(
                "SELECT COUNT(*) FROM sales_facts WHERE store_id = ? AND kind = 'sale'",
                (store_id,),
            ).fetchone()[0]
            doubled = conn.execute(
                "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM sales_facts "
                "WHERE store_id = ? GROUP BY kind, document_id, line_no HAVING COUNT(*) > 1)",
                (store_id,),
            ).fetchone()[0]
        return int(lines), int(doubled)

    def hub_stock(self, store_id: str) -> dict[str, int]:
        """The hub's on-hand per SKU at a store's location."""
        with read_only(self.hub_db) as conn:
            return {
                str(s): int(q)
                for s, q in conn.execute(
                    "SELECT sku, on_hand FROM stock_levels WHERE location_id = ?", (store_id,)
                )
            }

    def open_dead_letters(self) -> list[tuple[str, str, str]]:
        """(reason, store, detail) of every open dead letter at the hub."""
        with read_only(self.hub_db) as conn:
            return [
                (str(r), str(s), str(d)[:200])
                for r, s, d in conn.execute(
                    "SELECT reason, store_id, detail FROM dead_letters WHERE status = 'open'"
                )
            ]

    def hub_store_online(self, store_id: str) -> bool:
        """Whether the hub thinks a store is online."""
        with read_only(self.hub_db) as conn:
            row = conn.execute(
                "SELECT online FROM store_status WHERE store_id = ?", (store_id,)
            ).fetchone()
        return bool(row and row[0])

    # --- convergence and checks ----------------------------------------------------

    def drained(self) -> bool:
        """Every till's outbox is empty and the hub applied every seq it wrote."""
        try:
            return all(
                t.outbox_depth() == 0 and self.hub_contiguous(t.store_id) >= t.last_seq()
                for t in self.tills.values()
            )
        except sqlite3.Error:
            return False

    def wait_drained(self, timeout: float = DRAIN_TIMEOUT_S) -> None:
        """Wait until every till synced everything it holds."""

        def state() -> str:
            return ", ".join(
                f"{t.store_id}: till seq {t.last_seq()} queued {t.outbox_depth()} "
                f"hub contiguous {self.hub_contiguous(t.store_id)}"
                for t in self.tills.values()
            )

        try:
            wait_until(self.drained, timeout=timeout, interval=0.2, message="outboxes drained")
        except AssertionError as err:
            raise AssertionError(f"{err}: {state()}") from err

    def listings(self) -> dict[str, int]:
        """Listed quantity per SKU in the sandbox marketplace."""
        answer = httpx.get(f"{self.sandbox_url}/_sandbox/sellers/{SELLER_ID}/listings", timeout=10)
        answer.raise_for_status()
        mid = self.seller["marketplace_ids"][0]
        return {
            str(li["sku"]): int(li["offers"][mid]["listed_quantity"])
            for li in answer.json()["listings"]
            if mid in li["offers"]
        }

    def truth_sellable(self) -> dict[str, int]:
        """What the marketplace may list per SKU, from the tills' own counts."""
        out: dict[str, int] = {}
        for till in self.tills.values():
            for sku, qty in till.available().items():
                out[sku] = out.get(sku, 0) + qty
        return out

    def check(self, seq_before: Mapping[str, int], *, sandbox: bool = True) -> Check:
        """Compare every till's database with the hub (and the marketplace listings).

        ``seq_before``: each till's last seq before the scenario, for the per-scenario
        counts; the exactly-once checks cover the whole run so far.
        """
        problems: list[str] = []
        sent = applied = lost = duplicated = 0
        for store_id, till in self.tills.items():
            last = till.last_seq()
            sent += last - seq_before[store_id]
            applied += self.hub_applied(store_id, seq_before[store_id])
            at_till = till.sale_ids()
            events = self.hub_sale_events(store_id)
            at_hub = set(events)
            missing = at_till - at_hub
            phantom = at_hub - at_till
            doubled = len(events) - len(at_hub)
            lines, doubled_lines = self.hub_fact_lines(store_id)
            confirmed_missing = self.accepted.get(store_id, set()) - at_till
            lost += len(missing) + len(confirmed_missing)
            duplicated += doubled + doubled_lines
            if missing:
                problems.append(f"{store_id}: {len(missing)} sale(s) at the till, not at the hub")
            if confirmed_missing:
                problems.append(
                    f"{store_id}: {len(confirmed_missing)} sale(s) confirmed to the cashier "
                    "missing from the till's database"
                )
            if phantom:
                problems.append(f"{store_id}: {len(phantom)} sale(s) at the hub, not at the till")
            if doubled or doubled_lines:
                problems.append(
                    f"{store_id}: {doubled} sale event(s) and {doubled_lines} line(s) doubled"
                )
            if lines != till.sale_lines():
                problems.append(
                    f"{store_id}: {lines} sale lines at the hub, {till.sale_lines()} at the till"
                )
            if self.hub_applied(store_id) != last or self.hub_contiguous(store_id) != last:
                problems.append(
                    f"{store_id}: till wrote seqs 1..{last}, hub applied "
                    f"{self.hub_applied(store_id)} (contiguous {self.hub_contiguous(store_id)})"
                )
            ours, theirs = till.stock(), self.hub_stock(store_id)
            wrong = {
                sku: (qty, theirs.get(sku)) for sku, qty in ours.items() if theirs.get(sku) != qty
            }
            if wrong:
                problems.append(f"{store_id}: stock (till, hub) differs: {wrong}")
        letters = self.open_dead_letters()
        if letters:
            problems.append(f"open dead letters at the hub: {letters[:5]}")
        problems += self.check_presence()
        if sandbox:
            problems += self.check_listings()
        return Check(sent, applied, lost, duplicated, problems)

    def presence(self) -> dict[str, tuple[bool, int, int | None, int, bool]]:
        """Per store at the hub: online, open outages, gap open since, highest seen - contiguous,
        and whether the till says it is connected."""
        out: dict[str, tuple[bool, int, int | None, int, bool]] = {}
        with read_only(self.hub_db) as conn:
            for store_id, till in self.tills.items():
                online = self.hub_store_online(store_id)
                outages = conn.execute(
                    "SELECT COUNT(*) FROM store_outages WHERE store_id = ? AND ended_at IS NULL",
                    (store_id,),
                ).fetchone()[0]
                gap, ahead = conn.execute(
                    "SELECT gap_since, highest_seen - contiguous_seq FROM store_sync "
                    "WHERE store_id = ?",
                    (store_id,),
                ).fetchone()
                out[store_id] = (online, int(outages), gap, int(ahead), till.online())
        return out

    def check_presence(self) -> list[str]:
        """Once everything runs again, the hub sees every store online with no open outage and
        no open gap (polled: a birth may still be on its way)."""

        def settled() -> bool:
            return all(
                online and not outages and gap is None and not ahead and connected
                for online, outages, gap, ahead, connected in self.presence().values()
            )

        with contextlib.suppress(AssertionError):
            wait_until(settled, timeout=20, interval=0.2, message="presence")
        return [
            f"{store_id}: hub online={online}, open outages={outages}, gap since={gap}, "
            f"seen beyond contiguous={ahead}; till connected={connected}"
            for store_id, (online, outages, gap, ahead, connected) in self.presence().items()
            if not (online and not outages and gap is None and not ahead and connected)
        ]

    def check_listings(self) -> list[str]:
        """Once the hub's pushes settle, no listing is above what the stores can sell."""
        truth = self.truth_sellable()

        def settled() -> bool:
            listed = self.listings()
            return all(listed.get(sku) == qty for sku, qty in truth.items() if sku in listed)

        with contextlib.suppress(AssertionError):
            wait_until(settled, timeout=LISTING_TIMEOUT_S, interval=0.5, message="listings")
        listed = self.listings()
        sold_out = sorted(sku for sku, qty in truth.items() if qty == 0 and sku in listed)
        if sold_out:
            self.notes.append(
                f"sold out at every store: {', '.join(sold_out)}; listed "
                + ", ".join(str(listed[sku]) for sku in sold_out)
            )
        problems = [
            f"oversell risk: {sku} listed {qty}, the stores can sell {truth.get(sku, 0)}"
            for sku, qty in sorted(listed.items())
            if qty > truth.get(sku, 0)
        ]
        behind = {
            sku: (listed.get(sku), qty)
            for sku, qty in truth.items()
            if sku in listed and listed[sku] != qty
        }
        if behind and not problems:
            problems.append(f"listings (listed, sellable) never caught up: {behind}")
        return problems

    # --- faults ------------------------------------------------------------------------

    def cut(self, store_id: str) -> None:
        """Cut a store's network path: its proxy dies and every connection through it closes."""
        self.tills[store_id].proxy.kill9()

    def blackhole(self, store_id: str) -> None:
        """Freeze a store's proxy: packets go nowhere and nothing answers or closes."""
        self.tills[store_id].proxy.signal_group(signal.SIGSTOP)

    def heal(self, store_id: str) -> None:
        """Give a store its network path back (a fresh proxy on the same port)."""
        proxy = self.tills[store_id].proxy
        proxy.kill9()
        proxy.start()

    def restart_agent(self, store_id: str, *, extra_env: Mapping[str, str] | None = None) -> None:
        """Stop a till's agent cleanly and start it again (with extra environment, or not)."""
        agent = self.tills[store_id].agent
        agent.stop()
        agent.env = {**self.tills[store_id].agent_env, **(extra_env or {})}
        agent.start()

    def seqs(self) -> dict[str, int]:
        """Each till's last seq now."""
        return {s: t.last_seq() for s, t in self.tills.items()}

    def stop(self) -> None:
        """Stop everything: shoppers, agents, proxies, hub, sandbox, broker."""
        for ringer in list(self.ringers.values()):
            ringer.stop_event.set()
        for ringer in list(self.ringers.values()):
            ringer.join(10)
        self.ringers.clear()
        # SIGTERM to all agents at once (each publishes its offline status), then wait
        for till in self.tills.values():
            if till.agent.alive():
                assert till.agent.popen is not None
                till.agent.popen.send_signal(signal.SIGTERM)
        for till in self.tills.values():
            till.agent.stop()
            till.proxy.stop()
        self.hub.stop()
        self.sandbox.stop()
        self.broker.stop()


# --------------------------------------------------------------------------------------
# Building the world
# --------------------------------------------------------------------------------------


def socat_proxy(name: str, listen: int, target: int, log: Path, env: dict[str, str]) -> Proc:
    """A socat TCP proxy 127.0.0.1:listen -> 127.0.0.1:target (a child per connection)."""
    return Proc(
        name=name,
        argv=[
            "socat",
            f"TCP-LISTEN:{listen},bind={HOST},reuseaddr,fork",
            f"TCP:{HOST}:{target}",
        ],
        env=env,
        log=log,
        ready=lambda: _port_open(listen),
        group=True,
    )


def _port_open(port: int) -> bool:
    import socket

    try:
        socket.create_connection((HOST, port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _create_seller(sandbox_url: str, products: list[demo_setup.DemoProduct]) -> dict[str, Any]:
    """A sandbox seller on the UK marketplace, one listing per product (quantity 0)."""
    with httpx.Client(base_url=sandbox_url, timeout=10) as client:
        answer = client.post(
            "/_sandbox/sellers",
            json={"seller_id": SELLER_ID, "marketplaces": [MARKETPLACE], "store_name": "chaos"},
        )
        answer.raise_for_status()
        seller = dict(answer.json())
        for p in products:
            minor = p.prices["GBP"]
            client.post(
                f"/_sandbox/sellers/{SELLER_ID}/listings",
                json={
                    "sku": p.sku,
                    "marketplace": MARKETPLACE,
                    "quantity": 0,
                    "asin": demo_setup.demo_asin(p),
                    "price": f"{minor // 100}.{minor % 100:02d}",
                },
            ).raise_for_status()
    return seller


def build_world(root: Path, *, stores: int = 3) -> World:
    """Set everything up as an operator would and start it; the caller must ``stop()`` it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "hub").mkdir()
    (root / "tmp").mkdir()
    logs = root / "logs"
    logs.mkdir()
    secrets = root / "secrets"
    secrets.mkdir(mode=0o700)
    specs = demo_setup.store_specs(stores)
    products = demo_setup.demo_products()
    barcodes = {p.sku: p.ean13 for p in products}
    broker_port, hub_port, sandbox_port = free_port(), free_port(), free_port()
    # python-escpos makes a temp folder per import: keep them in the world's folder
    base_env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(root / "tmp")}
    for key in [k for k in base_env if k.startswith(("ACORN_HUB_", "ACORN_EDGE_"))]:
        del base_env[key]
    hub_password = demo_setup.new_password()
    from provisioning.secretbox import new_key

    broker_dir = root / "broker"
    broker_dir.mkdir()
    hub_env = {
        **base_env,
        "ACORN_HUB_DATABASE_URL": f"sqlite:///{root / 'hub' / 'hub.db'}",
        "ACORN_HUB_MQTT_HOST": HOST,
        "ACORN_HUB_MQTT_PORT": str(broker_port),
        "ACORN_HUB_MQTT_USERNAME": "hub",
        "ACORN_HUB_MQTT_PASSWORD": hub_password,
        # stable across restarts: the same MQTT client id finds its persistent session
        "ACORN_HUB_WORKER_ID": "chaos",
        "ACORN_HUB_API_HOST": HOST,
        "ACORN_HUB_API_PORT": str(hub_port),
        "ACORN_HUB_PUBLIC_URL": f"http://{HOST}:{hub_port}",
        "ACORN_HUB_BROKER_PUBLIC_HOST": HOST,
        "ACORN_HUB_BROKER_PUBLIC_PORT": str(broker_port),
        "ACORN_HUB_BROKER_PASSWORD_FILE": str(broker_dir / "acorn.passwd"),
        "ACORN_HUB_BROKER_ACL_FILE": str(broker_dir / "acorn.acl"),
        "ACORN_HUB_BROKER_PID_FILE": str(broker_dir / "mosquitto.pid"),
        "ACORN_HUB_SECRETS_KEY": new_key(),
        "ACORN_HUB_RESEND_AFTER_S": "2",
        "ACORN_HUB_SCHEDULER_INTERVAL_S": "0.25",
        "ACORN_HUB_LEASE_TTL_S": "3",
        # small batches: a kill -9 during a catch-up lands between and inside batches
        "ACORN_HUB_INGEST_BATCH_MAX_MESSAGES": "20",
        "ACORN_HUB_LOG_JSON": "false",
        "ACORN_HUB_LOG_LEVEL": "INFO",
    }

    sandbox = Proc(
        name="sandbox",
        argv=acorn_argv(
            "sandbox", "amazon", "--host", HOST, "--port", str(sandbox_port), "--fast", "--no-seed"
        ),
        env=base_env,
        log=logs / "sandbox.log",
        ready=lambda: http_ok(f"http://{HOST}:{sandbox_port}/_sandbox/health"),
    )
    hub = Proc(
        name="hub",
        argv=acorn_argv("hub", "serve"),
        env=hub_env,
        log=logs / "hub.log",
        ready=lambda: http_ok(f"http://{HOST}:{hub_port}/readyz"),
    )
    # Mosquitto on the files the hub keeps (password_file, acl_file, pid_file for SIGHUP)
    broker = make_mosquitto(
        root,
        users={"hub": hub_password},
        password_file=broker_dir / "acorn.passwd",
        acl=False,
        extra_conf=f"acl_file {broker_dir / 'acorn.acl'}\npid_file {broker_dir / 'mosquitto.pid'}",
        port=broker_port,
        start=False,
    )
    broker.enforces_acl = True
    tills: dict[str, Till] = {}
    world = World(
        root=root,
        broker=broker,
        hub=hub,
        sandbox=sandbox,
        hub_env=hub_env,
        hub_port=hub_port,
        sandbox_port=sandbox_port,
        tills=tills,
        barcodes=barcodes,
        seller={},
    )
    try:
        sandbox.launch()  # it needs nothing else: let it start while the hub is set up

        # 1. The hub's database and the broker's account files (runbook step 0), the catalog.
        run_cli(["hub", "migrate"], hub_env)
        run_cli(["provision", "broker", "sync"], hub_env)
        broker.start()
        catalog = root / "hub" / "catalog.csv"
        catalog.write_text(demo_setup.catalog_csv(products, specs))
        run_cli(["hub", "catalog", "import", str(catalog)], hub_env)

        # 2. The Amazon account (UK, on the sandbox) and its SKU mappings (docs/amazon.md).
        sandbox.wait_ready()
        seller = _create_seller(world.sandbox_url, products)
        world.seller = seller
        add = ["hub", "channel", "add", "amazon", "--name", "amazon-eu", "--region", "eu"]
        add += ["--seller-id", SELLER_ID, "--marketplace", MARKETPLACE]
        add += ["--endpoint", f"{world.sandbox_url}/eu"]
        add += ["--token-url", f"{world.sandbox_url}/auth/o2/token"]
        lwa = {
            "ACORN_AMAZON_CLIENT_ID": seller["client_id"],
            "ACORN_AMAZON_CLIENT_SECRET": seller["client_secret"],
            "ACORN_AMAZON_REFRESH_TOKEN": seller["refresh_token"],
        }
        run_cli(add, {**hub_env, **lwa})
        mapping = root / "hub" / "mapping.csv"
        mapping.write_text(
            "canonical_sku,marketplace,seller_sku,asin\n"
            + "".join(
                f"{p.sku},{MARKETPLACE},{p.sku},{demo_setup.demo_asin(p)}\n" for p in products
            )
        )
        run_cli(["hub", "channel", "map", "import", str(mapping)], hub_env)

        # 3. Each store on the hub, with its opening stock (runbook step 1).
        codes: dict[str, str] = {}
        for spec in specs:
            folder = root / "stores" / spec.store_id
            folder.mkdir(parents=True)
            stock = folder / "opening-stock.csv"
            stock.write_text(
                "sku,on_hand\n"
                + "".join(
                    f"{p.sku},{SCARCE_STOCK if p.sku == SCARCE_SKU else OPENING_STOCK}\n"
                    for p in products
                )
            )
            create = ["provision", "store", "create", "--id", spec.store_id, "--name", spec.name]
            create += ["--tz", spec.tz, "--currency", spec.currency]
            create += ["--price-list", spec.price_list, "--stock", str(stock)]
            create += ["--lat", str(spec.lat), "--lon", str(spec.lon)]
            codes[spec.store_id] = demo_setup._code_from(run_cli(create, hub_env))

        # 4. The hub (its enrollment API answers the boxes), then each box (runbook step 2).
        hub.start()
        for spec in specs:
            folder = root / "stores" / spec.store_id
            enroll = ["provision", "enroll", "--hub", world.hub_url]
            enroll += ["--code", codes[spec.store_id], "--data-dir", str(folder)]
            run_cli(enroll, base_env)
            tills[spec.store_id] = _till(spec, folder, broker_port, logs, base_env)
        for till in tills.values():
            till.proxy.start()
            till.agent.launch()
        for till in tills.values():
            till.agent.wait_ready()
        for till in tills.values():
            wait_until(till.online, timeout=60, interval=0.2, message=f"{till.store_id} online")
        # the opening counts reach the hub's ledger
        world.wait_drained()
    except BaseException:
        world.stop()
        raise
    return world


def _till(
    spec: demo_setup.StoreSpec, folder: Path, broker_port: int, logs: Path, env: dict[str, str]
) -> Till:
    """An enrolled box: the demo's extra keys in its edge.toml, cashiers, agent and proxy."""
    ui_port, proxy_port = free_port(), free_port()
    config = folder / "edge.toml"
    data = tomllib.loads(config.read_text())
    assert data["broker"]["port"] == broker_port, data["broker"]
    extras: dict[str, dict[str, Any]] = {
        "tax": {"prices_include_tax": spec.prices_include_tax, "rates": spec.rates},
        "ui": {"host": HOST, "port": ui_port},
        # through the store's own proxy, so a test can cut its network path; a short
        # keepalive so that both ends notice a silent network within seconds
        "broker": {
            "port": proxy_port,
            "keepalive_s": 5,
            "connect_timeout_s": 5.0,
            "backoff_initial_s": 0.1,
            "backoff_max_s": 1.0,
        },
        "sync": {"ack_timeout_s": 5.0, "status_interval_s": 1.0},
    }
    for table, values in extras.items():
        data[table] = {**data.get(table, {}), **values}
    config.write_text(tomli_w.dumps(data))
    demo_setup.add_cashiers(config)
    cache = folder / "escpos-cache"
    cache.mkdir()
    agent = Proc(
        name=f"edge {spec.store_id}",
        argv=acorn_argv("edge", "run", "--config", str(config), "--log-level", "info"),
        env={**env, "ESCPOS_CAPABILITIES_PICKLE_DIR": str(cache)},
        log=logs / f"edge-{spec.store_id}.log",
        ready=lambda: http_ok(f"http://{HOST}:{ui_port}/api/status"),
    )
    proxy = socat_proxy(
        f"proxy {spec.store_id}", proxy_port, broker_port, logs / f"proxy-{spec.store_id}.log", env
    )
    return Till(spec.store_id, spec.tz, folder, ui_port, proxy_port, agent, proxy, dict(agent.env))
