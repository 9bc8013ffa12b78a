"""Provisioning fixtures: a throwaway CA, a hub (database, API over HTTP(S), broker files)
and a real Mosquitto that reads the password file and ACL the hub writes."""

from __future__ import annotations

import ipaddress
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hub.app import create_app
from hub.broker_credentials import BrokerCredentials
from hub.config import HubSettings
from hub.db.engine import make_engine, make_sessionmaker
from hub.db.provisioning import IssuedCode, create_store
from provisioning.secretbox import code_pepper, new_key
from tests.fixtures.brokers import BrokerInfo, make_mosquitto
from tests.fixtures.util import free_port, wait_until

HUB_PASSWORD = "hub-test-password"
SECRETS_KEY = new_key()


# --- a throwaway certificate authority ---------------------------------------------------------


@dataclass(frozen=True)
class ThrowawayCA:
    """A CA certificate and a server certificate for 127.0.0.1 signed by it (PEM files)."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(directory: Path, label: str) -> ThrowawayCA:
    """Create a CA and a server certificate for 127.0.0.1/localhost under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"Acorn test CA {label}"))
        .issuer_name(_name(f"Acorn test CA {label}"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = (directory / n for n in ("ca.pem", "server.pem", "server.key"))
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return ThrowawayCA(ca_file, cert_file, key_file)


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayCA:
    """The CA the hub and broker certificates chain to."""
    return make_ca(tmp_path_factory.mktemp("ca"), "good")


@pytest.fixture(scope="session")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayCA:
    """A CA that signed nothing the hub uses (a box pinning it must refuse the hub)."""
    return make_ca(tmp_path_factory.mktemp("ca-other"), "other")


# --- the hub ---------------------------------------------------------------------------------


class ApiServer:
    """The hub's FastAPI app served by uvicorn on a loopback port, in a thread."""

    def __init__(self, app: Any, *, tls: ThrowawayCA | None) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            lifespan="on",
            ssl_certfile=str(tls.cert_file) if tls else None,
            ssl_keyfile=str(tls.key_file) if tls else None,
        )
        self.server = uvicorn.Server(config)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        """Start and wait until it serves."""
        self._thread.start()
        wait_until(lambda: self.server.started, timeout=15, message="hub API started")

    def stop(self) -> None:
        """Stop and wait for the thread."""
        self.server.should_exit = True
        self._thread.join(15)


@dataclass
class Hub:
    """A provisioning hub under test: settings, database, Mosquitto, API."""

    settings: HubSettings
    engine: Engine
    sessions: sessionmaker[Session]
    broker: BrokerInfo
    api: ApiServer | None = None

    @property
    def url(self) -> str:
        """The API's base URL."""
        assert self.api is not None
        return self.api.url

    def create_store(self, store_id: str, **kwargs: Any) -> IssuedCode:
        """Create a store with a code, as `acorn provision store create` does."""
        values: dict[str, Any] = {
            "name": f"Store {store_id}",
            "timezone": "Europe/London",
            "currency": "GBP",
            "address": "1 High Street, Leeds",
            "lat": 53.8,
            "lon": -1.55,
        }
        values.update(kwargs)
        now = values.pop("now", datetime.now(UTC))
        with self.sessions.begin() as session:
            return create_store(
                session,
                store_id=store_id,
                pepper=code_pepper(SECRETS_KEY),
                code_ttl=timedelta(hours=1),
                now=now,
                **values,
            )

    def sync_broker(self) -> None:
        """Rewrite the broker's files from the database and reload it."""
        with self.sessions.begin() as session:
            BrokerCredentials(self.settings).sync(session)


HubFactory = Callable[..., Hub]


@pytest.fixture
def hub_factory(tmp_path: Path, hub_sqlite_template: Path) -> Iterator[HubFactory]:
    """Build a hub: its own SQLite copy, a Mosquitto reading the hub's files, the API."""
    made: list[Hub] = []

    def build(*, tls: ThrowawayCA | None = None, api: bool = True, **overrides: Any) -> Hub:
        n = len(made)
        base = tmp_path / f"hub{n}"
        base.mkdir()
        shutil.copyfile(hub_sqlite_template, base / "hub.db")
        pid_file = base / "mosquitto.pid"
        password_file = base / "passwd"
        extra = [f"pid_file {pid_file}"]
        if tls is not None:
            tls_port = free_port()
            extra += [
                f"listener {tls_port} 127.0.0.1",
                f"cafile {tls.ca_file}",
                f"certfile {tls.cert_file}",
                f"keyfile {tls.key_file}",
            ]
        broker = make_mosquitto(
            base,
            users={"hub": HUB_PASSWORD},
            password_file=password_file,
            acl_text="",
            extra_conf="\n".join(extra),
            start=False,
        )
        values: dict[str, Any] = {
            "database_url": f"sqlite:///{base}/hub.db",
            "mqtt_host": broker.host,
            "mqtt_port": broker.port,
            "mqtt_username": "hub",
            "mqtt_password": HUB_PASSWORD,
            "secrets_key": SECRETS_KEY,
            "broker_password_file": password_file,
            "broker_acl_file": broker.data_dir / "acl",
            "broker_pid_file": pid_file,
            "ingest_enabled": False,
            "worker_id": f"prov-{n}",
        }
        if tls is not None:
            values["broker_public_port"] = tls_port
            values["broker_ca_file"] = tls.ca_file
        values.update(overrides)
        settings = HubSettings(**values)
        engine = make_engine(settings.database_url, writer=True)
        hub = Hub(settings, engine, make_sessionmaker(engine), broker)
        made.append(hub)
        hub.sync_broker()  # the hub writes the files before the broker first reads them
        broker.start()
        if api:
            hub.api = ApiServer(create_app(settings, engine=engine), tls=tls)
            hub.api.start()
        return hub

    yield build
    for hub in made:
        if hub.api is not None:
            hub.api.stop()
        hub.broker.stop()
        hub.engine.dispose()
