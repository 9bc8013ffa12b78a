"""``acorn provision enroll``: a blank POS box becomes a store's till with one code.

The box checks the code's typo symbol, calls the hub's enrollment endpoint, and writes
into its data folder:

- ``edge.toml``: the agent's configuration (``acorn edge run --config``);
- ``secrets/broker.password``: the broker password, mode 0600, shown to no one;
- ``ca.pem``: the CA the box pins for MQTT over TLS and HTTPS to the hub;
- ``enrollment.toml``: the hub's URL and when the box was enrolled (for the doctor);
- ``edge.db``: the edge database with the catalog snapshot and the starting stock.

Re-enrolling with a new code replaces the credentials and the configuration; an
existing database keeps its own stock (the box's sales since are the truth) and
takes the catalog snapshot.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import tomli_w
from pydantic import ValidationError

from provisioning.codes import EnrollmentCodeError, format_code, normalize_code
from provisioning.messages import ENROLL_PATH, EnrollResponse

_LOGGER = logging.getLogger(__name__)
CONFIG_NAME = "edge.toml"
ENROLLMENT_NAME = "enrollment.toml"
PASSWORD_NAME = "secrets/broker.password"
CA_NAME = "ca.pem"
DATABASE_NAME = "edge.db"
UNIT_NAME = "acorn-edge.service"
REQUEST_TIMEOUT_S = 20.0


class EnrollError(Exception):
    """Enrollment failed; the message tells the tech what to do."""


@dataclass(frozen=True, slots=True)
class EnrollResult:
    """What enrollment wrote."""

    store_id: str
    store_name: str
    config_path: Path
    products: int
    stock_lines: int
    unit_path: Path | None


def request_enrollment(
    hub_url: str, code: str, *, ca_file: Path | None = None, hostname: str | None = None
) -> EnrollResponse:
    """Call the hub's enrollment endpoint; EnrollError says what went wrong in plain words."""
    try:
        canonical = normalize_code(code)
    except EnrollmentCodeError as err:
        raise EnrollError(f"the code {code!r} is not valid: {err}") from err
    url = hub_url.rstrip("/") + ENROLL_PATH
    verify: str | bool = str(ca_file) if ca_file is not None else True
    try:
        reply = requests.post(
            url,
            json={"code": format_code(canonical), "hostname": hostname or socket.gethostname()},
            timeout=REQUEST_TIMEOUT_S,
            verify=verify,
        )
    except requests.exceptions.SSLError as err:
        raise EnrollError(
            f"the hub at {hub_url} did not prove its identity (TLS certificate not signed by "
            f"the pinned CA{f' {ca_file}' if ca_file else ''}): check the --hub address "
            "and --ca file"
        ) from err
    except requests.exceptions.ConnectionError as err:
        raise EnrollError(
            f"cannot reach the hub at {hub_url}: check the address and that the network is up"
        ) from err
    except requests.exceptions.Timeout as err:
        raise EnrollError(
            f"the hub at {hub_url} did not answer within {REQUEST_TIMEOUT_S:.0f} s"
        ) from err
    if reply.status_code != 200:
        try:
            detail = str(reply.json().get("detail", reply.text))
        except ValueError:
            detail = reply.text[:200]
        if reply.status_code == 429:
            raise EnrollError(f"the hub refused for now: {detail}")
        if reply.status_code == 404:
            raise EnrollError(f"{hub_url} is not an Acorn hub (no enrollment endpoint)")
        raise EnrollError(f"the hub refused the code: {detail}")
    try:
        return EnrollResponse.model_validate(reply.json())
    except (ValueError, ValidationError) as err:
        raise EnrollError(f"the hub's answer was not understood: {err}") from err


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Write a file atomically, created with ``mode`` from the start (no readable window)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def edge_config(response: EnrollResponse, data_dir: Path) -> dict[str, Any]:
    """The edge.toml content for an enrollment (pure)."""
    store = response.store
    broker: dict[str, Any] = {
        "host": response.broker.host,
        "port": response.broker.port,
        "username": response.broker.username,
        "password_file": PASSWORD_NAME,
    }
    if response.broker.tls:
        broker["tls_ca_file"] = CA_NAME
    hours, minutes = divmod(store.day_start_minutes, 60)
    config: dict[str, Any] = {
        "store_id": store.id,
        "store_name": store.name,
        "tz": store.tz,
        "currency": store.currency,
        "day_start": f"{hours:02d}:{minutes:02d}:00",
        "database": DATABASE_NAME,
        "broker": broker,
    }
    if store.address:
        config["receipt"] = {
            "address_lines": [p.strip() for p in store.address.split(",") if p.strip()]
        }
    return config


def systemd_unit(config_path: Path, *, user: str | None = None) -> str:
    """A systemd unit that runs ``acorn edge run`` with this config (pure)."""
    exe = Path(sys.executable).parent / "acorn"
    lines = [
        "[Unit]",
        "Description=Acorn store agent (POS sync, cashier UI, devices)",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        f"ExecStart={exe} edge run --config {config_path}",
        f"WorkingDirectory={config_path.parent}",
        "Restart=always",
        "RestartSec=5",
        "KillSignal=SIGTERM",
        "TimeoutStopSec=30",
    ]
    if user:
        lines.append(f"User={user}")
    lines += ["", "[Install]", "WantedBy=multi-user.target", ""]
    return "\n".join(lines)


def install(
    response: EnrollResponse,
    data_dir: Path,
    *,
    hub_url: str,
    unit_dir: Path | None = None,
    now: datetime | None = None,
) -> EnrollResult:
    """Write config, secrets, CA and database for an enrollment response."""
    from edge_agent.config import load_settings

    data_dir = data_dir.resolve()
    config_path = data_dir / CONFIG_NAME
    previous = _previous_store(config_path)
    if previous is not None and previous != response.store.id:
        raise EnrollError(
            f"this box is enrolled as store {previous!r}, the code is for {response.store.id!r}: "
            f"use an empty data folder, or move {data_dir} away first"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "secrets").mkdir(mode=0o700, exist_ok=True)
    write_private(data_dir / PASSWORD_NAME, response.broker.password.get_secret_value() + "\n")
    ca_pem = response.broker.ca_pem or response.hub_ca_pem
    if ca_pem:
        write_private(data_dir / CA_NAME, ca_pem, mode=0o644)
    write_private(config_path, tomli_w.dumps(edge_config(response, data_dir)), mode=0o644)
    enrollment = {
        "hub_url": hub_url.rstrip("/"),
        "store_id": response.store.id,
        "enrolled_at": (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
    }
    if response.hub_ca_pem:
        enrollment["hub_ca_file"] = CA_NAME
    write_private(data_dir / ENROLLMENT_NAME, tomli_w.dumps(enrollment), mode=0o644)
    settings = load_settings(config_path)  # proves `acorn edge run --config` accepts it
    products, stock_lines = load_store_data(settings, response)
    unit_path = None
    if unit_dir is not None:
        unit_path = unit_dir / UNIT_NAME
        write_private(unit_path, systemd_unit(config_path), mode=0o644)
    return EnrollResult(
        response.store.id, response.store.name, config_path, products, stock_lines, unit_path
    )


def _previous_store(config_path: Path) -> str | None:
    import tomllib

    try:
        return str(tomllib.loads(config_path.read_text(encoding="utf-8")).get("store_id"))
    except (OSError, ValueError):
        return None


def load_store_data(settings: Any, response: EnrollResponse) -> tuple[int, int]:
    """Load the catalog snapshot and, into a new database, the starting stock."""
    from edge_agent.app import open_store_for
    from protocol.messages import CatalogMessage

    store = open_store_for(settings)
    try:
        fresh = store.last_seq() == 0 and store.catalog.version() == 0
        products = 0
        for raw in response.catalog:
            result = store.catalog.apply(CatalogMessage.model_validate(raw))
            products += result.upserted
        if fresh and response.next_seq > 1:
            store.start_seq_at(response.next_seq)  # a replacement box continues the store's seq
        lines = 0
        if fresh:
            for line in response.stock:
                try:
                    store.stock.count(line.sku, line.on_hand)
                except Exception as err:  # noqa: BLE001 - one odd line must not stop the rest
                    _LOGGER.warning("starting stock of %s not loaded: %s", line.sku, err)
                    continue
                lines += 1
        return products, lines
    finally:
        store.close()


def enroll(
    hub_url: str,
    code: str,
    data_dir: Path,
    *,
    ca_file: Path | None = None,
    unit_dir: Path | None = None,
    hostname: str | None = None,
) -> EnrollResult:
    """Enroll this box: request, then write everything into ``data_dir``."""
    response = request_enrollment(hub_url, code, ca_file=ca_file, hostname=hostname)
    return install(response, data_dir, hub_url=hub_url, unit_dir=unit_dir)
