"""Hub settings: a TOML file (``--config``, table ``[hub]``) overridden by ACORN_HUB_* variables.

Secrets (the MQTT and database passwords) come from the environment or from a
secrets file named in the configuration, never from the TOML file in clear, and
are never logged (``SecretStr``).
"""

from __future__ import annotations

import os
import socket
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url

DEFAULT_DATABASE_URL = "sqlite:///var/hub.db"
SECRET_KEYS = frozenset({"mqtt_password", "database_password", "secrets_key"})

MqttProtocol = Literal["auto", "5", "3.1.1"]


class ConfigError(Exception):
    """The configuration cannot be used; the message says what to change."""


class HubSettings(BaseSettings):
    """Every setting of a hub process."""

    model_config = SettingsConfigDict(env_prefix="ACORN_HUB_", extra="forbid")

    database_url: str = DEFAULT_DATABASE_URL
    database_password: SecretStr | None = None
    database_password_file: Path | None = None

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str | None = "hub"
    mqtt_password: SecretStr | None = None
    mqtt_password_file: Path | None = None
    mqtt_protocol: MqttProtocol = "auto"
    mqtt_client_id: str | None = None
    mqtt_share_group: str = "hub"
    mqtt_shared_subscription: bool = True
    mqtt_session_expiry_s: int = 3600
    mqtt_keepalive_s: int = 30
    mqtt_tls_ca_file: Path | None = None

    # provisioning (docs/provisioning.md)
    secrets_key: SecretStr | None = None  # Fernet key: hub secrets at rest, enrollment-code hashes
    enroll_code_ttl_s: int = Field(default=24 * 3600, ge=60)
    enroll_attempts_per_ip: int = Field(default=10, ge=1)
    enroll_attempts_per_prefix: int = Field(default=5, ge=1)
    enroll_window_s: float = Field(default=300.0, gt=0)
    # marketplace channels (docs/amazon.md): how often the channel worker imports orders
    channel_import_interval_s: float = Field(default=120.0, gt=0)
    # finance (docs/finance.md): how often the settlement import lists new settlement reports
    settlement_poll_s: float = Field(default=600.0, gt=0)
    # dashboard sign-in: failed attempts allowed per client address per window (docs/dashboard.md)
    login_failures_per_ip: int = Field(default=20, ge=1)
    login_window_s: float = Field(default=300.0, gt=0)
    public_url: str | None = None  # the hub URL boxes are given (https://hub.example:8700)
    broker_public_host: str | None = None  # what boxes connect to (default mqtt_host)
    broker_public_port: int | None = None  # default 8883 with a CA file, else mqtt_port
    broker_ca_file: Path | None = None  # the CA boxes pin for MQTT over TLS and HTTPS
    broker_password_file: Path | None = None  # Mosquitto password_file the hub maintains
    broker_acl_file: Path | None = None  # Mosquitto acl_file the hub maintains
    broker_pid_file: Path | None = None  # Mosquitto pid_file: SIGHUP after a change

    ingest_enabled: bool = True
    ingest_batch_max_messages: int = Field(default=200, ge=1)
    ingest_batch_max_wait_ms: int = Field(default=20, ge=0)
    ingest_receive_maximum: int = Field(default=400, ge=1, le=65535)
    resend_after_s: float = Field(default=30.0, gt=0)
    scheduler_interval_s: float = Field(default=1.0, gt=0)
    lease_ttl_s: float = Field(default=15.0, gt=0)
    worker_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    alarm_interval_s: float = Field(default=30.0, gt=0)
    alarms_enabled: bool = True
    default_currency: str = "EUR"
    default_timezone: str = "UTC"
    routing: dict[str, Any] = Field(default_factory=dict)  # [hub.routing]: hub/routing_service.py

    api_enabled: bool = True
    api_host: str = "127.0.0.1"
    api_port: int = 8600

    log_level: str = "INFO"
    log_json: bool = True

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment beats the file's values (passed in as init arguments)."""
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _read_secret_files(self) -> HubSettings:
        if self.mqtt_password is None and self.mqtt_password_file is not None:
            self.mqtt_password = SecretStr(_read_secret(self.mqtt_password_file))
        if self.database_password is None and self.database_password_file is not None:
            self.database_password = SecretStr(_read_secret(self.database_password_file))
        return self

    def effective_database_url(self) -> str:
        """The database URL with the password from the environment or secrets file filled in."""
        url = make_url(self.database_url)
        if self.database_password is not None and url.password is None:
            url = url.set(password=self.database_password.get_secret_value())
        return url.render_as_string(hide_password=False)

    def safe_database_url(self) -> str:
        """The database URL with any password masked, for logs."""
        return make_url(self.database_url).render_as_string(hide_password=True)

    def client_id(self) -> str:
        """The MQTT client id (stable across restarts so the persistent session is found)."""
        return self.mqtt_client_id or f"hub-{self.worker_id}"


def _read_secret(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ConfigError(f"cannot read secrets file {path}: {err.strerror}") from err


def load_settings(config_file: Path | None = None, **overrides: Any) -> HubSettings:
    """Read the TOML file's ``[hub]`` table, apply ACORN_HUB_* variables, then ``overrides``."""
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except OSError as err:
            raise ConfigError(f"cannot read {config_file}: {err.strerror}") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{config_file} is not valid TOML: {err}") from err
        table = data.get("hub", {})
        if not isinstance(table, dict):
            raise ConfigError(f"{config_file}: [hub] must be a table")
        clear = sorted(SECRET_KEYS & table.keys())
        if clear:
            raise ConfigError(
                f"{config_file}: {', '.join(clear)} must not be in the file in clear; "
                "use ACORN_HUB_MQTT_PASSWORD / ACORN_HUB_DATABASE_PASSWORD or *_password_file"
            )
        values.update(table)
    try:
        settings = HubSettings(**values)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise ConfigError(f"invalid hub configuration: {problems}") from err
    # Command-line options (already typed by click) beat the environment.
    return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
