"""``acorn demo``: start everything, simulate a trading day, stop cleanly, summarise."""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import click
import httpx

from acorn.demo import settlements as demo_settlements
from acorn.demo import setup as demo_setup
from acorn.demo import summary as demo_summary
from acorn.demo.orders import Buyer, OrderCounters, Staff, hub_order_counts
from acorn.demo.setup import HOST, DemoSetupError, Layout, StoreSpec
from acorn.demo.simulate import Shopper, Simulation
from acorn.demo.supervisor import (
    Child,
    Supervisor,
    SupervisorError,
    http_ok,
    port_open,
    run_logged,
)

_LOGGER = logging.getLogger(__name__)

EXIT_LOST = 1
EXIT_SETUP = 2
EXIT_INTERRUPTED = 130
DRAIN_TIMEOUT_S = 30.0
# The demo's hub imports orders every 30 s (ACORN_HUB_CHANNEL_IMPORT_INTERVAL_S); buyers'
# orders are backdated past the importer's 3-minute margin, so they arrive on the next
# import. A run shorter than this would import few or none.
HUB_IMPORT_INTERVAL_S = 30.0
MIN_ORDERS_DURATION_S = 90.0
SHORT_RUN_NOTE = (
    "marketplace orders skipped: --duration under 90 s (the hub imports orders every "
    "30 s, then stores accept, pick and hand them over, so few or none would arrive)"
)
OUTAGE_STORE_INDEX = 2
OUTAGE_EVERY_S = 300.0
OUTAGE_LENGTH_S = 20.0
ORDERS_SKIPPED_NOTE = "marketplace orders skipped: the Amazon channel account could not be added"
ORDERS_LAG_NOTE = (
    "marketplace orders reach the hub on its import cycle (every 30 s, orders stamped 4 min "
    "back): the last half minute's orders are still in the sandbox when a run ends"
)


class _Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived while the demo was starting."""


@dataclass
class DemoRun:
    """Everything a running demo knows about itself."""

    layout: Layout
    specs: list[StoreSpec]
    ports: demo_setup.Ports
    supervisor: Supervisor
    notes: list[str] = field(default_factory=list)
    simulation: Simulation | None = None
    orders_enabled: bool = False
    order_counters: OrderCounters = field(default_factory=OrderCounters)
    settlements: demo_settlements.SettlementCloser | None = None

    @property
    def hub_url(self) -> str:
        """The hub's base URL."""
        return f"http://{HOST}:{self.ports.hub}"

    @property
    def sandbox_url(self) -> str:
        """The sandbox's base URL."""
        return f"http://{HOST}:{self.ports.sandbox}"

    @property
    def broker_url(self) -> str:
        """The broker's URL."""
        return f"mqtt://{HOST}:{self.ports.broker}"

    def ui_url(self, i: int) -> str:
        """Store i's cashier UI."""
        return f"http://{HOST}:{self.ports.ui[i]}/"


def _say(message: str) -> None:
    click.echo(message)
    sys.stdout.flush()


def _step(message: str) -> None:
    _say(f"  .. {message}")


@click.command("demo")
@click.option(
    "--stores",
    type=click.IntRange(1, 12),
    default=3,
    show_default=True,
    help="How many stores (London, Berlin, Seattle, then more cities).",
)
@click.option(
    "--speed",
    type=click.FloatRange(0.1, 50),
    default=1.0,
    show_default=True,
    help="Shopper rate multiplier (1: a sale every ~3 s per till).",
)
@click.option(
    "--seed",
    type=int,
    default=42,
    show_default=True,
    help="Seed of the simulated shoppers (fixed by default: same baskets each run).",
)
@click.option(
    "--no-simulation",
    is_flag=True,
    help="Start everything but ring no sales (use the cashier UIs yourself).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-data"),
    show_default=True,
    help="Where everything goes: databases, receipts, logs, demo.json. Reset each start.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=1),
    default=None,
    help="Run this many seconds, stop cleanly, print a summary; exit 1 if a sale "
    "was lost or doubled.",
)
@click.option("--free-ports", is_flag=True, help="Pick free ports instead of the fixed defaults.")
@click.option(
    "--broker-port",
    type=click.IntRange(1, 65535),
    default=demo_setup.DEFAULT_BROKER_PORT,
    show_default=True,
)
@click.option(
    "--hub-port",
    type=click.IntRange(1, 65535),
    default=demo_setup.DEFAULT_HUB_PORT,
    show_default=True,
)
@click.option(
    "--sandbox-port",
    type=click.IntRange(1, 65535),
    default=demo_setup.DEFAULT_SANDBOX_PORT,
    show_default=True,
)
@click.option(
    "--ui-port",
    type=click.IntRange(1, 65000),
    default=demo_setup.DEFAULT_UI_PORT_BASE,
    show_default=True,
    help="Cashier UI port of the first store; the next ones follow.",
)
def demo_command(
    stores: int,
    speed: float,
    seed: int,
    no_simulation: bool,
    data_dir: Path,
    duration: float | None,
    free_ports: bool,
    broker_port: int,
    hub_port: int,
    sandbox_port: int,
    ui_port: int,
) -> None:
    """Run the whole system on embedded defaults: broker, hub, Amazon sandbox, three stores."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    starting = [True]

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        if starting[0]:
            raise _Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    try:
        layout = demo_setup.prepare_data_dir(data_dir)
        specs = demo_setup.store_specs(stores)
        ports = demo_setup.choose_ports(
            broker=broker_port,
            hub=hub_port,
            sandbox=sandbox_port,
            ui_base=ui_port,
            stores=stores,
            free=free_ports,
        )
    except DemoSetupError as err:
        click.echo(f"error: {err}", err=True)
        raise SystemExit(EXIT_SETUP) from err

    # python-escpos makes a temp folder on every import: keep them inside the data folder.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(layout.root / "tmp")}
    (layout.root / "tmp").mkdir(exist_ok=True)
    run = DemoRun(layout, specs, ports, Supervisor(layout.logs, base_env=env))
    code = 0
    try:
        _say(f"Acorn demo: {stores} store(s), data in {layout.root}")
        _start(
            run,
            env,
            seed=seed,
            speed=speed,
            simulate=not no_simulation,
            stop=stop,
            orders=duration is None or duration >= MIN_ORDERS_DURATION_S,
        )
        starting[0] = False
        code = _run_until_stopped(run, stop, duration, speed=speed)
    except _Interrupted:
        _say("\ninterrupted while starting: stopping")
        code = EXIT_INTERRUPTED
    except (DemoSetupError, SupervisorError) as err:
        click.echo(f"error: {err}", err=True)
        code = EXIT_SETUP
    finally:
        starting[0] = False
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if run.simulation is not None:
            run.simulation.stop()
        _say("stopping: edge agents, sandbox, hub, broker")
        codes = run.supervisor.stop_all()
        unclean = {name: c for name, c in codes.items() if c not in (0, None, -signal.SIGTERM)}
        if unclean:
            _say(f"  processes that did not exit cleanly: {unclean}")
        _say("stopped")
    raise SystemExit(code)


def _start(
    run: DemoRun,
    env: dict[str, str],
    *,
    seed: int,
    speed: float,
    simulate: bool,
    stop: threading.Event,
    orders: bool = True,
) -> None:
    layout, specs, ports, sup = run.layout, run.specs, run.ports, run.supervisor
    products = demo_setup.demo_products()

    _step("broker passwords (hub, observer; stores get theirs at enrollment)")
    creds = demo_setup.make_broker_credentials(layout)
    _step(f"embedded MQTT broker on {run.broker_url}")
    broker = sup.start(
        Child(
            name="broker",
            argv=demo_setup.acorn_argv(
                "broker",
                "--host",
                HOST,
                "--port",
                str(ports.broker),
                "--password-file",
                str(layout.broker_passwd),
            ),
            ready=functools.partial(port_open, HOST, ports.broker),
            stop_signal=signal.SIGTERM,
        )
    )

    hub_env = {
        **env,
        **demo_setup.hub_env(layout, ports),
        "ACORN_HUB_SECRETS_KEY": demo_setup.hub_secrets_key(layout),
        "ACORN_HUB_SETTLEMENT_POLL_S": str(demo_settlements.HUB_POLL_S),
        "ACORN_HUB_CHANNEL_IMPORT_INTERVAL_S": str(HUB_IMPORT_INTERVAL_S),
    }
    _step("hub database: migrate, HQ access, catalog")
    demo_setup.migrate_hub(layout, hub_env)
    demo_setup.seed_hub(layout, demo_setup.catalog_csv(products, specs))
    # Before the hub starts: its start-up writes to the SQLite file too, and a busy
    # machine made a concurrent `hub user add` fail with "database is locked".
    hq_login = _hq_login(run, hub_env)

    _step(f"hub on {run.hub_url} and the Amazon SP-API sandbox on {run.sandbox_url}")
    hub_ready = functools.partial(http_ok, f"{run.hub_url}/readyz")
    sup.start_all(
        [
            Child(
                name="hub",
                argv=demo_setup.acorn_argv("hub", "serve"),
                env=hub_env,
                ready=hub_ready,
                ready_timeout_s=90,
                stop_timeout_s=15,
            ),
            Child(
                name="sandbox",
                argv=demo_setup.acorn_argv(
                    "sandbox",
                    "amazon",
                    "--host",
                    HOST,
                    "--port",
                    str(ports.sandbox),
                    "--fast",
                    "--no-seed",
                ),
                ready=functools.partial(http_ok, f"{run.sandbox_url}/_sandbox/health"),
                ready_timeout_s=90,
            ),
        ]
    )
    seller = demo_setup.create_seller(run.sandbox_url, products, specs)
    demo_setup.write_secret(
        layout.secrets / "amazon-seller.json",
        json.dumps(
            {
                "seller_id": seller.seller_id,
                "client_id": seller.client_id,
                "client_secret": seller.client_secret,
                "refresh_token": seller.refresh_token,
            }
        ),
    )
    _step(f"seller {seller.seller_id}, marketplaces {', '.join(demo_setup.SELLER_MARKETPLACES)}")
    if not orders:
        run.notes.append(SHORT_RUN_NOTE)
    else:
        try:
            demo_setup.add_channel_accounts(layout, hub_env, seller, run.sandbox_url)
            run.orders_enabled = True
            _step("channel accounts amazon-na (US) and amazon-eu (UK, DE) with SKU mappings")
        except SupervisorError as err:
            run.notes.append(f"{ORDERS_SKIPPED_NOTE}: {err}")

    _step(
        "enrolling stores (provision store create + provision enroll): "
        + ", ".join(f"{s.store_id} ({s.tz})" for s in specs)
    )
    configs = demo_setup.enroll_stores(
        specs, layout=layout, ports=ports, hub_url=run.hub_url, env=hub_env
    )
    for config in configs:
        demo_setup.add_cashiers(config)
    if run.orders_enabled:
        try:
            demo_setup.set_routing_positions(run.hub_url, hq_login["api_token"], specs)
        except (DemoSetupError, httpx.HTTPError) as err:
            run.orders_enabled = False
            run.notes.append(f"marketplace orders skipped: {err}")
    creds.stores = {
        spec.store_id: demo_setup.store_broker_password(config)
        for spec, config in zip(specs, configs, strict=True)
    }
    # The embedded broker reads its password file at start only: restart it with the
    # stores' accounts (the hub reconnects on its own).
    _step("embedded broker: restarting with the stores' accounts")
    demo_setup.write_broker_passwords(layout, creds)
    sup.restart(broker)
    sup.wait_ready([c for c in sup.children if c.name == "hub"])
    edges = []
    for i, (spec, config) in enumerate(zip(specs, configs, strict=True)):
        url = run.ui_url(i)
        _step(f"edge agent {spec.store_id} on {url}")
        # One escpos capabilities cache per agent: agents starting together would otherwise
        # read each other's half-written pickle.
        cache = layout.store_dir(spec.store_id) / "escpos-cache"
        cache.mkdir(exist_ok=True)
        edges.append(
            Child(
                name=f"edge-{spec.store_id}",
                argv=demo_setup.acorn_argv("edge", "run", "--config", str(config)),
                env={"ESCPOS_CAPABILITIES_PICKLE_DIR": str(cache)},
                ready=functools.partial(http_ok, f"{url}api/status"),
                ready_timeout_s=90,
            )
        )
    sup.start_all(edges)

    shoppers = [
        Shopper(
            store_id=spec.store_id,
            ui_url=run.ui_url(i),
            products=products,
            seed=seed,
            speed=speed,
            receipts=layout.receipts(spec.store_id),
            stop=stop,
        )
        for i, spec in enumerate(specs)
    ]
    _step("waiting for the catalog to reach every till")
    for shopper in shoppers:
        if not shopper.wait_for_catalog():
            raise SupervisorError(
                f"the catalog did not reach {shopper.store_id} in time; see "
                f"{layout.logs}/edge-{shopper.store_id}.log and {layout.logs}/hub.log"
            )
    others: list[threading.Thread] = []
    if run.orders_enabled:
        run.notes.append(ORDERS_LAG_NOTE)
        run.settlements = demo_settlements.SettlementCloser(
            sandbox_url=run.sandbox_url,
            seller_id=seller.seller_id,
            marketplaces=list(demo_setup.SELLER_MARKETPLACES),
            speed=speed,
        )
        others.append(
            Buyer(
                sandbox_url=run.sandbox_url,
                marketplaces=sorted({s.marketplace for s in specs}),
                products=products,
                seed=seed,
                speed=speed,
                stop=stop,
                counters=run.order_counters,
            )
        )
        barcodes = {p.sku: p.ean13 for p in products}
        for i, spec in enumerate(specs):
            others.append(
                Staff(
                    store_id=spec.store_id,
                    ui_url=run.ui_url(i),
                    barcodes=barcodes,
                    reject_share=0.2 if i == 1 else 0.0,
                    seed=seed,
                    stop=stop,
                    counters=run.order_counters,
                )
            )
    dashboard = _dashboard_url(run, hq_login["api_token"])
    _write_demo_json(run, creds, hq_login, dashboard)
    _print_banner(run, creds, hq_login, dashboard, simulate=simulate)
    if simulate:
        run.simulation = Simulation(shoppers, stop, others)
        run.simulation.start()


def _hq_login(run: DemoRun, hub_env: dict[str, str]) -> dict[str, str]:
    token = (run.layout.secrets / "hq.token").read_text().strip()
    password = demo_setup.new_password()
    try:
        run_logged(
            "acorn hub user add",
            demo_setup.acorn_argv(
                "hub",
                "user",
                "add",
                demo_setup.HQ_USER,
                "--role",
                "admin",
                "--name",
                "HQ demo user",
            ),
            run.layout.logs,
            env={**hub_env, "ACORN_HUB_USER_PASSWORD": password},
        )
        return {"username": demo_setup.HQ_USER, "password": password, "api_token": token}
    except SupervisorError as err:
        run.notes.append(f"HQ user not created ({err}); use the API token")
    return {"api_token": token}


def _dashboard_url(run: DemoRun, token: str) -> str | None:

    for path in ("/dashboard", "/"):
        try:
            answer = httpx.get(
                run.hub_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=5
            )
        except httpx.HTTPError:
            continue
        if answer.status_code == 200 and "html" in answer.headers.get("content-type", ""):
            return run.hub_url + path
    run.notes.append(f"hub dashboard did not answer: REST API docs at {run.hub_url}/docs")
    return None


def _write_demo_json(
    run: DemoRun, creds: demo_setup.Credentials, hq_login: dict[str, str], dashboard: str | None
) -> None:
    data: dict[str, Any] = {
        "dashboard_url": dashboard,
        "hub_url": run.hub_url,
        "api_docs_url": f"{run.hub_url}/docs",
        "hq_login": hq_login,
        "broker_url": run.broker_url,
        "observer_login": {
            "username": demo_setup.OBSERVER_USER,
            "password": creds.observer,
            "topics": "acorn/#",
            "access": "read-only",
            "mqtt_version": "3.1.1",
        },
        "sandbox_url": run.sandbox_url,
        "amazon_seller_id": demo_setup.SELLER_ID,
        "stores": [
            {
                "id": spec.store_id,
                "name": spec.name,
                "timezone": spec.tz,
                "currency": spec.currency,
                "cashier_ui_url": run.ui_url(i),
                "cashier_login": {"cashier_id": "ann", "pin": demo_setup.CASHIER_PIN},
                "manager_login": {"cashier_id": "max", "pin": demo_setup.CASHIER_PIN},
                "receipts_dir": str(run.layout.receipts(spec.store_id)),
            }
            for i, spec in enumerate(run.specs)
        ],
        "data_dir": str(run.layout.root),
        "logs_dir": str(run.layout.logs),
        "notes": run.notes,
        "pid": os.getpid(),
        "processes": {c.name: c.pid for c in run.supervisor.children},
        "ports": {
            "broker": run.ports.broker,
            "hub": run.ports.hub,
            "sandbox": run.ports.sandbox,
            "cashier_ui": run.ports.ui,
        },
    }
    path = run.layout.demo_json
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
    tmp.replace(path)


def _print_banner(
    run: DemoRun,
    creds: demo_setup.Credentials,
    hq_login: dict[str, str],
    dashboard: str | None,
    *,
    simulate: bool,
) -> None:
    _say("")
    _say("Acorn demo is ready")
    _say(f"  dashboard:   {dashboard or 'not answering; API docs at ' + run.hub_url + '/docs'}")
    if "username" in hq_login:
        _say(f"  HQ login:    {hq_login['username']} / {hq_login['password']}")
    _say(f"  HQ API token: {hq_login['api_token']}")
    _say(f"  broker:      {run.broker_url}  (observer / {creds.observer}, read-only acorn/#)")
    _say(f"  sandbox:     {run.sandbox_url}/_sandbox/docs")
    for i, spec in enumerate(run.specs):
        _say(
            f"  {spec.store_id:14} {spec.tz:20} cashier UI {run.ui_url(i)}  "
            f"(ann / {demo_setup.CASHIER_PIN})"
        )
    _say(f"  receipts:    {run.layout.root / 'receipts'}   logs: {run.layout.logs}")
    _say(f"  details:     {run.layout.demo_json}")
    for note in run.notes:
        _say(f"  note: {note}")
    _say("  shoppers are ringing sales" if simulate else "  no simulation (--no-simulation)")
    _say("Press Ctrl-C to stop.")


class _Outages:
    """Now and then the third store goes offline: its agent stops for a while, then starts.

    Its till keeps nothing from the shoppers meanwhile (they wait); routed orders that
    were not accepted go elsewhere; on return the agent syncs what it holds.
    """

    def __init__(self, run: DemoRun, speed: float) -> None:
        self.run = run
        self.index = OUTAGE_STORE_INDEX if len(run.specs) > OUTAGE_STORE_INDEX else None
        self.every_s = OUTAGE_EVERY_S / speed
        self.next_at = time.monotonic() + self.every_s
        self.down: Child | None = None
        self.down_since = 0.0
        self.count = 0

    def _shopper(self) -> Shopper | None:
        sim = self.run.simulation
        if sim is None or self.index is None:
            return None
        return sim.shoppers[self.index]

    def tick(self) -> None:
        """Take the store down or bring it back when it is time."""
        if self.index is None or self.run.simulation is None:
            return
        store_id = self.run.specs[self.index].store_id
        now = time.monotonic()
        shopper = self._shopper()
        if self.down is None and now >= self.next_at:
            child = next(
                (c for c in self.run.supervisor.children if c.name == f"edge-{store_id}"), None
            )
            if child is None:
                return
            if shopper is not None:
                shopper.paused.set()
            _say(f"  {store_id} goes offline for {OUTAGE_LENGTH_S:.0f} s (its agent stops)")
            self.down = self.run.supervisor.take_down(child)
            self.down_since = now
            self.count += 1
        elif self.down is not None and now - self.down_since >= OUTAGE_LENGTH_S:
            self.run.supervisor.start(self.down)
            self.down = None
            self.next_at = time.monotonic() + self.every_s
            if shopper is not None:
                shopper.paused.clear()
            _say(f"  {store_id} is back online")

    def finish(self) -> None:
        """Bring a store that is down back, so the run ends with every till synced."""
        if self.down is not None:
            self.down_since = -OUTAGE_LENGTH_S
            self.tick()


def _close_settlements(run: DemoRun, closer: demo_settlements.SettlementCloser) -> None:
    """Close the last settlement period and give the hub's schedule time to import it."""
    _say("closing the Amazon settlement period; waiting for the hub to import it")
    closer.close_all()
    imported = demo_settlements.wait_imported(
        run.layout.hub_db, closer.closed, 2 * demo_settlements.HUB_POLL_S + 10
    )
    run.notes.append(
        f"Amazon settlements: {closer.closed} closed in the sandbox, {imported} imported by the hub"
    )


def _run_until_stopped(
    run: DemoRun, stop: threading.Event, duration: float | None, *, speed: float = 1.0
) -> int:
    deadline = None if duration is None else time.monotonic() + duration
    last_progress = time.monotonic()
    outages = _Outages(run, speed)
    while not stop.is_set():
        timeout = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
        if stop.wait(timeout):
            break
        dead = run.supervisor.dead()
        if dead:
            names = ", ".join(f"{c.name} (exit {c.process.returncode})" for c in dead if c.process)
            _say(f"error: {names} stopped unexpectedly; see {run.layout.logs}")
            return EXIT_SETUP
        if deadline is not None and time.monotonic() >= deadline:
            break
        outages.tick()
        if run.settlements is not None:
            run.settlements.tick()
        if run.simulation is not None and time.monotonic() - last_progress >= 30:
            last_progress = time.monotonic()
            rung = {k: v.rung for k, v in run.simulation.counters().items()}
            _say(f"  sales rung so far: {rung}")
    ended_by_duration = not stop.is_set()  # (stopping the simulation sets ``stop``)
    if run.simulation is not None:
        run.simulation.stop()
    if ended_by_duration:
        outages.finish()  # a store still offline comes back, so its till drains like the others
    if outages.count:
        run.notes.append(f"{run.specs[OUTAGE_STORE_INDEX].store_id} went offline {outages.count}x")
    _say("stopping the shoppers; waiting for every till's outbox to reach the hub")
    drained = demo_summary.wait_drained(run.layout, run.specs, DRAIN_TIMEOUT_S)
    if not drained:
        run.notes.append(f"outboxes not drained within {DRAIN_TIMEOUT_S:.0f} s")
    if run.settlements is not None and ended_by_duration:
        _close_settlements(run, run.settlements)
    counters = run.simulation.counters() if run.simulation is not None else {}
    orders: dict[str, int | str] = {"status": "skipped"}
    if run.orders_enabled:
        c = run.order_counters
        orders = {"placed": c.placed}
        try:
            orders.update(hub_order_counts(run.layout.hub_db))
        except Exception as err:  # noqa: BLE001 - a count that fails is reported, not fatal
            run.notes.append(f"marketplace orders not counted at the hub: {err}")
        orders.update(
            accepted_at_stores=c.accepted,
            rejected_at_stores=c.rejected,
            handed_over_at_stores=c.handed_over,
        )
    result = demo_summary.collect(run.layout, run.specs, counters, orders=orders, notes=run.notes)
    (run.layout.root / "summary.json").write_text(json.dumps(result.as_dict(), indent=2))
    _say(result.text())
    return 0 if result.lost == 0 and result.duplicated == 0 else EXIT_LOST
