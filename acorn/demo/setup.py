"""Everything the demo sets up before the shoppers arrive.

Layout of the data folder, the stores and their zones, the catalog and opening stock,
secrets (broker passwords, HQ credentials), the hub database (migrate, token, catalog),
the Amazon sandbox seller with its listings, and the stores' edge configuration.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import sys
import threading
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from acorn.demo.supervisor import free_port, port_free, run_logged

_LOGGER = logging.getLogger(__name__)

MARKER = ".acorn-demo"
HOST = "127.0.0.1"
DEFAULT_BROKER_PORT = 1883
DEFAULT_HUB_PORT = 8600
DEFAULT_SANDBOX_PORT = 8700
DEFAULT_UI_PORT_BASE = 8081
SELLER_ID = "ACORNDEMO"
SELLER_MARKETPLACES = ("US", "UK", "DE")
CASHIER_PIN = "1234"
HQ_USER = "hq"
OBSERVER_USER = "observer"
HUB_USER = "hub"
OPENING_STOCK = 5000


class DemoSetupError(Exception):
    """The demo cannot be set up; the message says what to do."""


@dataclass(frozen=True, slots=True)
class StoreSpec:
    """One demo store: id, city, IANA zone, currency, price list, tax rates, marketplace."""

    store_id: str
    name: str
    tz: str
    currency: str
    price_list: str
    prices_include_tax: bool
    rates: dict[str, str]
    marketplace: str
    lat: float
    lon: float


_UK_RATES = {"standard": "20", "reduced": "5", "zero": "0"}
_DE_RATES = {"standard": "19", "reduced": "7", "zero": "0"}
_US_RATES = {"standard": "10.25", "reduced": "0", "zero": "0"}

_BASE_STORES: tuple[tuple[Any, ...], ...] = (
    ("london", "London", "Europe/London", "GBP", "gbp", True, _UK_RATES, "UK", 51.5074, -0.1278),
    ("berlin", "Berlin", "Europe/Berlin", "EUR", "eur", True, _DE_RATES, "DE", 52.52, 13.405),
    (
        "seattle",
        "Seattle",
        "America/Los_Angeles",
        "USD",
        "usd",
        False,
        _US_RATES,
        "US",
        47.6062,
        -122.3321,
    ),
    (
        "manchester",
        "Manchester",
        "Europe/London",
        "GBP",
        "gbp",
        True,
        _UK_RATES,
        "UK",
        53.4808,
        -2.2426,
    ),
    ("munich", "Munich", "Europe/Berlin", "EUR", "eur", True, _DE_RATES, "DE", 48.1351, 11.582),
    (
        "new-york",
        "New York",
        "America/New_York",
        "USD",
        "usd",
        False,
        _US_RATES,
        "US",
        40.7128,
        -74.006,
    ),
)


def store_specs(count: int) -> list[StoreSpec]:
    """The first ``count`` demo stores (London, Berlin, Seattle, then more cities, numbered)."""
    specs = []
    for i in range(count):
        slug, city, tz, cur, pl, incl, rates, mkt, lat, lon = _BASE_STORES[i % len(_BASE_STORES)]
        round_no = i // len(_BASE_STORES)
        suffix = f"-{round_no + 1}" if round_no else ""
        specs.append(
            StoreSpec(
                store_id=f"s-{slug}{suffix}",
                name=f"Acorn {city}{' ' + str(round_no + 1) if round_no else ''}",
                tz=tz,
                currency=cur,
                price_list=pl,
                prices_include_tax=incl,
                rates=dict(rates),
                marketplace=mkt,
                lat=lat,
                lon=lon,
            )
        )
    return specs


@dataclass(frozen=True, slots=True)
class DemoProduct:
    """A catalog item with its EAN-13 and a price per currency (minor units)."""

    sku: str
    name: str
    ean13: str
    tax_class: str
    prices: dict[str, int]


def ean13(body12: str) -> str:
    """Complete a 12-digit body with its EAN-13 check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


_PRODUCTS = (
    ("ACN-TEA-100", "Breakfast tea 100 bags", "reduced", 349, 399, 449),
    ("ACN-COF-250", "Ground coffee 250 g", "reduced", 499, 549, 699),
    ("ACN-MUG-WHT", "White mug", "standard", 650, 750, 899),
    ("ACN-NBK-A5", "Notebook A5", "standard", 399, 449, 499),
    ("ACN-PEN-BLK", "Ballpoint pen, black", "standard", 120, 150, 199),
    ("ACN-BAG-JUT", "Jute shopping bag", "standard", 250, 299, 349),
    ("ACN-CHO-DRK", "Dark chocolate 100 g", "reduced", 199, 229, 299),
    ("ACN-UMB-NVY", "Umbrella, navy", "standard", 1499, 1699, 1999),
    ("ACN-SCK-GRY", "Wool socks, grey", "standard", 899, 999, 1199),
    ("ACN-CND-LAV", "Lavender candle", "standard", 1099, 1249, 1499),
    ("ACN-BTL-STL", "Steel water bottle", "standard", 1599, 1799, 2199),
    ("ACN-HNY-340", "Wildflower honey 340 g", "reduced", 549, 599, 799),
)


def demo_products() -> list[DemoProduct]:
    """The demo catalog: twelve products with valid EAN-13 barcodes and GBP/EUR/USD prices."""
    return [
        DemoProduct(
            sku=sku,
            name=name,
            ean13=ean13(f"5012345{i:05d}"),
            tax_class=tax,
            prices={"GBP": gbp, "EUR": eur, "USD": usd},
        )
        for i, (sku, name, tax, gbp, eur, usd) in enumerate(_PRODUCTS, start=1)
    ]


def catalog_csv(products: list[DemoProduct], specs: list[StoreSpec]) -> str:
    """The hub's catalog CSV: one row per product and price list used by the stores."""
    lists = sorted({(s.price_list, s.currency) for s in specs})
    rows = ["sku,name,price,currency,price_list,barcodes,tax_class"]
    for p in products:
        for price_list, currency in lists:
            minor = p.prices[currency]
            rows.append(
                f"{p.sku},{p.name.replace(',', '')},{minor // 100}.{minor % 100:02d},"
                f"{currency},{price_list},{p.ean13},{p.tax_class}"
            )
    return "\n".join(rows) + "\n"


# --------------------------------------------------------------------------------------
# Layout, ports and secrets
# --------------------------------------------------------------------------------------


@dataclass
class Layout:
    """Where the demo writes: everything under one data folder."""

    root: Path

    @property
    def logs(self) -> Path:
        """Process logs."""
        return self.root / "logs"

    @property
    def secrets(self) -> Path:
        """Passwords and tokens (mode 0600 files)."""
        return self.root / "secrets"

    @property
    def hub_db(self) -> Path:
        """The hub's SQLite database."""
        return self.root / "hub" / "hub.db"

    @property
    def broker_passwd(self) -> Path:
        """The embedded broker's password file."""
        return self.secrets / "broker.passwd"

    def store_dir(self, store_id: str) -> Path:
        """One store's folder: edge.toml, edge.db, secrets."""
        return self.root / "stores" / store_id

    def receipts(self, store_id: str) -> Path:
        """Where the store's file-sink printer writes receipts and pick lists."""
        return self.root / "receipts" / store_id

    @property
    def demo_json(self) -> Path:
        """What the demo writes once ready."""
        return self.root / "demo.json"


def prepare_data_dir(root: Path) -> Layout:
    """Create (or reset) the data folder; refuse a non-empty folder the demo did not make."""
    root = root.resolve()
    if root.exists() and any(root.iterdir()) and not (root / MARKER).exists():
        raise DemoSetupError(
            f"{root} is not empty and was not made by acorn demo; "
            "choose another folder with --data-dir or empty it"
        )
    if root.exists():
        for child in root.iterdir():
            if child.name == MARKER:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("folder written by acorn demo; it is reset on every start\n")
    layout = Layout(root)
    for d in (layout.logs, layout.secrets, layout.hub_db.parent):
        d.mkdir(parents=True, exist_ok=True)
    os.chmod(layout.secrets, 0o700)
    return layout


@dataclass
class Ports:
    """Every TCP port the demo listens on (all on 127.0.0.1)."""

    broker: int
    hub: int
    sandbox: int
    ui: list[int] = field(default_factory=list)


def choose_ports(
    *,
    broker: int,
    hub: int,
    sandbox: int,
    ui_base: int,
    stores: int,
    free: bool,
) -> Ports:
    """Fixed ports (checked free, with a clear error) or, with ``free``, any free ports."""
    if free:
        return Ports(free_port(), free_port(), free_port(), [free_port() for _ in range(stores)])
    wanted = [("broker", broker, "--broker-port"), ("hub", hub, "--hub-port")]
    wanted.append(("Amazon sandbox", sandbox, "--sandbox-port"))
    wanted += [(f"cashier UI {i + 1}", ui_base + i, "--ui-port") for i in range(stores)]
    busy = [(what, port, opt) for what, port, opt in wanted if not port_free(HOST, port)]
    if busy:
        listed = ", ".join(f"{port} ({what}, {opt})" for what, port, opt in busy)
        raise DemoSetupError(
            f"port(s) in use on {HOST}: {listed}. Stop what uses them, choose other ports "
            "with the options named, or pass --free-ports to pick free ones"
        )
    return Ports(broker, hub, sandbox, [ui_base + i for i in range(stores)])


def write_secret(path: Path, value: str) -> Path:
    """Write a secret file with mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    return path


def new_password() -> str:
    """A random password (never derived from the seed: the demo's logins are real logins)."""
    return secrets.token_urlsafe(18)


@dataclass
class Credentials:
    """Broker passwords of the hub, the observer and every store."""

    hub: str
    observer: str
    stores: dict[str, str]


def make_broker_credentials(layout: Layout) -> Credentials:
    """Passwords of the hub and the observer (stores get theirs at enrollment), clear in
    0600 files, hashed into the embedded broker's password file."""
    creds = Credentials(hub=new_password(), observer=new_password(), stores={})
    write_secret(layout.secrets / "hub.mqtt-password", creds.hub)
    write_secret(layout.secrets / "observer.mqtt-password", creds.observer)
    write_broker_passwords(layout, creds)
    return creds


def write_broker_passwords(layout: Layout, creds: Credentials) -> None:
    """(Re)write the embedded broker's password file with every account (argon2 hashes)."""
    from acorn.broker import write_password_file

    layout.broker_passwd.unlink(missing_ok=True)
    write_password_file(
        layout.broker_passwd,
        {HUB_USER: creds.hub, OBSERVER_USER: creds.observer, **creds.stores},
    )


def hub_secrets_key(layout: Layout) -> str:
    """The key that encrypts the hub's secrets and enrollment-code hashes (kept 0600)."""
    from provisioning.secretbox import new_key

    key = new_key()
    write_secret(layout.secrets / "hub.secrets-key", key)
    return key


# --------------------------------------------------------------------------------------
# Commands run as child processes
# --------------------------------------------------------------------------------------


def acorn_argv(*args: str) -> list[str]:
    """``acorn ARGS`` through this interpreter (works without the console script on PATH)."""
    return [sys.executable, "-m", "acorn.cli", *args]


def hub_env(layout: Layout, ports: Ports) -> dict[str, str]:
    """Environment of every hub command: database, broker, API port, logging."""
    return {
        "ACORN_HUB_DATABASE_URL": f"sqlite:///{layout.hub_db}",
        "ACORN_HUB_MQTT_HOST": HOST,
        "ACORN_HUB_MQTT_PORT": str(ports.broker),
        "ACORN_HUB_MQTT_USERNAME": HUB_USER,
        "ACORN_HUB_MQTT_PASSWORD_FILE": str(layout.secrets / "hub.mqtt-password"),
        "ACORN_HUB_API_HOST": HOST,
        "ACORN_HUB_API_PORT": str(ports.hub),
        "ACORN_HUB_WORKER_ID": "demo",
        "ACORN_HUB_PUBLIC_URL": f"http://{HOST}:{ports.hub}",
        "ACORN_HUB_BROKER_PUBLIC_HOST": HOST,
        "ACORN_HUB_BROKER_PUBLIC_PORT": str(ports.broker),
        "ACORN_HUB_LOG_LEVEL": "INFO",
    }


def migrate_hub(layout: Layout, env: dict[str, str]) -> None:
    """``acorn hub migrate`` on the demo's SQLite file."""
    run_logged("acorn hub migrate", acorn_argv("hub", "migrate"), layout.logs, env=env)


def seed_hub(layout: Layout, csv_text: str) -> str:
    """Create HQ's API token and import the demo catalog; return the token (also kept in
    the secrets folder). Same calls as ``acorn hub token create`` and ``catalog import``."""
    import io
    from datetime import UTC, datetime

    from hub.auth import parse_roles
    from hub.db.catalog import import_csv
    from hub.db.engine import make_engine, make_sessionmaker
    from hub.db.tokens import create_token

    path = layout.root / "hub" / "catalog.csv"
    path.write_text(csv_text, encoding="utf-8")
    engine = make_engine(f"sqlite:///{layout.hub_db}", writer=True)
    try:
        with make_sessionmaker(engine).begin() as session:
            now = datetime.now(UTC)
            _, new = create_token(
                session, name="hq", roles=parse_roles("reader,operator,admin"), now=now
            )
            report = import_csv(
                session, io.StringIO(csv_text), now=now, default_currency="GBP", source="demo"
            )
    finally:
        engine.dispose()
    if report.errors:
        raise DemoSetupError(f"the hub refused demo catalog rows: {report.errors}")
    write_secret(layout.secrets / "hq.token", new.plaintext)
    return str(new.plaintext)


# --------------------------------------------------------------------------------------
# Amazon sandbox
# --------------------------------------------------------------------------------------


@dataclass
class Seller:
    """The sandbox seller the demo sells through."""

    seller_id: str
    marketplace_ids: list[str]
    client_id: str
    client_secret: str
    refresh_token: str


def demo_asin(product: DemoProduct) -> str:
    """The demo's ASIN of a product (ten characters, from its EAN)."""
    return "B0" + product.ean13[-8:]


_ACCOUNTS = (("amazon-na", "na", ("US",)), ("amazon-eu", "eu", ("UK", "DE")))


def add_channel_accounts(
    layout: Layout, env: dict[str, str], seller: Seller, sandbox_url: str
) -> None:
    """``acorn hub channel add amazon`` for the seller's NA and EU regions (endpoints on the
    sandbox), then ``acorn hub channel map import`` (seller SKU = our SKU, demo ASINs)."""
    cred_env = {
        **env,
        "ACORN_AMAZON_CLIENT_ID": seller.client_id,
        "ACORN_AMAZON_CLIENT_SECRET": seller.client_secret,
        "ACORN_AMAZON_REFRESH_TOKEN": seller.refresh_token,
    }
    for name, region, marketplaces in _ACCOUNTS:
        argv = ["hub", "channel", "add", "amazon", "--name", name, "--region", region]
        argv += ["--seller-id", seller.seller_id, "--endpoint", f"{sandbox_url}/{region}"]
        argv += ["--token-url", f"{sandbox_url}/auth/o2/token"]
        for mkt in marketplaces:
            argv += ["--marketplace", mkt]
        run_logged(
            f"acorn hub channel add amazon {name}", acorn_argv(*argv), layout.logs, env=cred_env
        )
        mapping = layout.root / "hub" / f"{name}-mapping.csv"
        mapping.write_text(
            "canonical_sku,marketplace,seller_sku,asin\n"
            + "".join(
                f"{p.sku},{mkt},{p.sku},{demo_asin(p)}\n"
                for p in demo_products()
                for mkt in marketplaces
            ),
            encoding="utf-8",
        )
        run_logged(
            f"acorn hub channel map import {name}",
            acorn_argv("hub", "channel", "map", "import", str(mapping), "--account", name),
            layout.logs,
            env=env,
        )


def create_seller(sandbox_url: str, products: list[DemoProduct], specs: list[StoreSpec]) -> Seller:
    """A seller with the US, UK and DE marketplaces, and a listing per product and marketplace."""
    with httpx.Client(base_url=sandbox_url, timeout=10) as client:
        answer = client.post(
            "/_sandbox/sellers",
            json={
                "seller_id": SELLER_ID,
                "marketplaces": list(SELLER_MARKETPLACES),
                "store_name": "Acorn demo",
            },
        )
        if answer.status_code != 200:
            raise DemoSetupError(f"the sandbox refused the demo seller: {answer.text[:300]}")
        data = answer.json()
        stock_per_marketplace: dict[str, int] = {}
        for spec in specs:
            stock_per_marketplace[spec.marketplace] = (
                stock_per_marketplace.get(spec.marketplace, 0) + OPENING_STOCK
            )
        currency = {"US": "USD", "UK": "GBP", "DE": "EUR"}
        for mkt in SELLER_MARKETPLACES:
            for p in products:
                minor = p.prices[currency[mkt]]
                listing = client.post(
                    f"/_sandbox/sellers/{SELLER_ID}/listings",
                    json={
                        "sku": p.sku,
                        "marketplace": mkt,
                        "quantity": stock_per_marketplace.get(mkt, 0),
                        "asin": demo_asin(p),
                        "price": f"{minor // 100}.{minor % 100:02d}",
                    },
                )
                if listing.status_code != 200:
                    raise DemoSetupError(f"the sandbox refused a listing: {listing.text[:300]}")
    return Seller(
        seller_id=data["seller_id"],
        marketplace_ids=list(data["marketplace_ids"]),
        client_id=data["client_id"],
        client_secret=data["client_secret"],
        refresh_token=data["refresh_token"],
    )


# --------------------------------------------------------------------------------------
# Stores
# --------------------------------------------------------------------------------------


def edge_extras(spec: StoreSpec, *, layout: Layout, ui_port: int) -> dict[str, Any]:
    """What the demo adds to an enrolled edge.toml: UI port, tax, file-sink printer, scanner."""
    return {
        "tax": {"prices_include_tax": spec.prices_include_tax, "rates": dict(spec.rates)},
        "ui": {"host": HOST, "port": ui_port},
        "sync": {"status_interval_s": 10},
        "receipt": {
            "till_id": "1",
            "address_lines": ["1 Demo Street", spec.name.removeprefix("Acorn ")],
            "footer_lines": ["Thank you for shopping at Acorn", "(demo receipt)"],
        },
        "devices": {
            "printer": {"kind": "filesink", "directory": str(layout.receipts(spec.store_id))},
            "scanner": {"kind": "wedge"},
        },
    }


def _code_from(output: str) -> str:
    for line in output.splitlines():
        text = line.strip()
        if re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}", text):
            return text
    raise DemoSetupError("acorn provision store create printed no enrollment code")


def enroll_stores(
    specs: list[StoreSpec],
    *,
    layout: Layout,
    ports: Ports,
    hub_url: str,
    env: dict[str, str],
) -> list[Path]:
    """Create every store on the hub and enroll its box, as a field tech would:
    ``acorn provision store create`` prints a one-time code, ``acorn provision enroll``
    trades it for edge.toml, the broker password, the catalog and the opening stock.
    Then the demo's own settings (UI port, tax rates, file-sink printer) are added."""
    import tomli_w

    # `store create` writes the hub's SQLite file from its own process: one at a time
    # (the enrollments, answered by the hub process, may overlap).
    create_lock = threading.Lock()

    def one(spec: StoreSpec, ui_port: int) -> Path:
        folder = layout.store_dir(spec.store_id)
        folder.mkdir(parents=True, exist_ok=True)
        layout.receipts(spec.store_id).mkdir(parents=True, exist_ok=True)
        stock = folder / "opening-stock.csv"
        stock.write_text(
            "sku,on_hand\n" + "".join(f"{p.sku},{OPENING_STOCK}\n" for p in demo_products()),
            encoding="utf-8",
        )
        with create_lock:
            out = run_logged(
                f"acorn provision store create {spec.store_id}",
                acorn_argv(
                    "provision",
                    "store",
                    "create",
                    "--id",
                    spec.store_id,
                    "--name",
                    spec.name,
                    "--tz",
                    spec.tz,
                    "--currency",
                    spec.currency,
                    "--price-list",
                    spec.price_list,
                    "--address",
                    f"1 Demo Street, {spec.name.removeprefix('Acorn ')}",
                    "--lat",
                    str(spec.lat),
                    "--lon",
                    str(spec.lon),
                    "--stock",
                    str(stock),
                ),
                layout.logs,
                env=env,
            )
        run_logged(
            f"acorn provision enroll {spec.store_id}",
            acorn_argv(
                "provision",
                "enroll",
                "--hub",
                hub_url,
                "--code",
                _code_from(out),
                "--data-dir",
                str(folder),
            ),
            layout.logs,
            env=env,
        )
        config = folder / "edge.toml"
        data = tomllib.loads(config.read_text(encoding="utf-8"))
        for table, values in edge_extras(spec, layout=layout, ui_port=ui_port).items():
            data[table] = {**data.get(table, {}), **values}
        config.write_text(tomli_w.dumps(data), encoding="utf-8")
        return config

    # Stores enroll side by side: each step is a new Python process, seconds on a busy box.
    with ThreadPoolExecutor(max_workers=min(4, len(specs))) as pool:
        return list(pool.map(one, specs, ports.ui))


def set_routing_positions(hub_url: str, token: str, specs: list[StoreSpec]) -> None:
    """Give routing each store's position and daily capacity (``PUT /api/v1/routing/locations``):
    a location without a position is never a candidate for an online order."""
    with httpx.Client(
        base_url=hub_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as client:
        for spec in specs:
            answer = client.put(
                f"/api/v1/routing/locations/{spec.store_id}",
                json={"lat": spec.lat, "lon": spec.lon, "daily_capacity": 500},
            )
            if answer.status_code >= 300:
                raise DemoSetupError(
                    f"routing refused the position of {spec.store_id}: "
                    f"{answer.status_code} {answer.text[:200]}"
                )


def store_broker_password(config: Path) -> str:
    """The broker password enrollment wrote for a box (secrets/broker.password, 0600)."""
    return (config.parent / "secrets" / "broker.password").read_text(encoding="utf-8").strip()


def add_cashiers(config: Path) -> None:
    """A cashier and a manager on the till (what ``acorn edge cashier add`` does)."""
    from edge_agent.app import open_store_for
    from edge_agent.config import load_settings
    from edge_agent.store.cashiers import Role

    store = open_store_for(load_settings(config))
    try:
        store.cashiers.add("ann", "Ann Till", CASHIER_PIN, role=Role("cashier"))
        store.cashiers.add("max", "Max Manager", CASHIER_PIN, role=Role("manager"))
    finally:
        store.close()
