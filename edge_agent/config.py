"""Settings of the store agent: a TOML file (``--config``) with ``ACORN_EDGE_`` env overrides.

Nested keys use a double underscore in the environment:
``ACORN_EDGE_BROKER__HOST=10.0.0.5`` overrides ``[broker] host``. The broker
password is never read from the TOML file: it comes from
``ACORN_EDGE_BROKER__PASSWORD`` or from ``broker.password_file`` (mode 0600).
Relative paths in the file are relative to the file's folder.
"""

from __future__ import annotations

import os
import stat
import tomllib
from datetime import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from edge_agent.devices.config import DeviceConfig
from edge_agent.domain.rounding import RoundingMode
from edge_agent.domain.tax import StoreTaxPolicy, TaxRate, TaxRounding
from edge_agent.store.db import Synchronous
from protocol.money import check_currency
from protocol.topics import validate_store_id

ENV_PREFIX = "ACORN_EDGE_"
SECRET_FILE_MAX_MODE = 0o600


class ConfigError(Exception):
    """The configuration cannot be used; the message says what to change."""


class BrokerConfig(BaseModel):
    """How the agent reaches the MQTT broker."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None  # from the environment only, refused in the TOML file
    password_file: Path | None = None
    mqtt_version: Literal["auto", "5", "3.1.1"] = "auto"
    keepalive_s: int = Field(30, ge=5, le=3600)
    session_expiry_s: int = Field(7 * 24 * 3600, ge=60)
    connect_timeout_s: float = Field(10.0, gt=0)
    backoff_initial_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(60.0, gt=0)
    tls_ca_file: Path | None = None

    def resolve_password(self) -> str | None:
        """Return the password from the environment or the secrets file (checked to be 0600)."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is None:
            return None
        path = self.password_file
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            raise ConfigError(f"broker.password_file {path} does not exist") from None
        if mode & ~SECRET_FILE_MAX_MODE & 0o777:
            raise ConfigError(
                f"broker.password_file {path} has mode {mode:04o}; "
                f"run `chmod 600 {path}` (it must not be readable by others)"
            )
        return path.read_text(encoding="utf-8").strip()


class TaxConfig(BaseModel):
    """The store's tax policy: inclusive or exclusive prices, a rate per tax class, rounding."""

    model_config = ConfigDict(extra="forbid")

    prices_include_tax: bool = True
    rates: dict[str, str] = Field(
        default_factory=lambda: {"standard": "20", "reduced": "5", "zero": "0"}
    )
    rounding: Literal["invoice", "line"] = "invoice"
    rounding_mode: Literal["half_up", "down"] = "half_up"

    @field_validator("rates")
    @classmethod
    def _check_rates(cls, value: dict[str, str]) -> dict[str, str]:
        for name, percent in value.items():
            try:
                TaxRate.from_percent(Decimal(str(percent)))
            except (InvalidOperation, ValueError) as err:
                raise ValueError(f"tax rate {name} = {percent!r}: {err}") from None
        return value


class UiConfig(BaseModel):
    """Where the cashier UI listens (loopback: the browser runs on the POS box)."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    session_idle_timeout_s: int = Field(15 * 60, ge=30)
    max_login_failures: int = Field(5, ge=1)
    login_lockout_s: int = Field(60, ge=1)
    discount_without_approval_bp: int = Field(1000, ge=0, le=10_000)


class ReceiptConfig(BaseModel):
    """What printed receipts say about the store."""

    model_config = ConfigDict(extra="forbid")

    till_id: str = "1"
    address_lines: list[str] = Field(default_factory=list)
    phone: str = ""
    tax_id: str = ""
    footer_lines: list[str] = Field(default_factory=lambda: ["Thank you"])
    language: str = "en"


class SyncConfig(BaseModel):
    """Outbox pump tuning."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    batch_events: int = Field(100, ge=1, le=1000)
    ack_timeout_s: float = Field(60.0, gt=0)
    status_interval_s: float = Field(30.0, gt=0)


class EdgeSettings(BaseSettings):
    """Every setting of one store agent, validated at start."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid"
    )

    store_id: str
    store_name: str = ""
    tz: str = "Europe/London"
    currency: str = "GBP"
    day_start: time = time(0, 0)
    database: Path = Path("edge.db")
    synchronous: Synchronous = Synchronous.FULL
    busy_timeout_ms: int = Field(2000, ge=0)
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    tax: TaxConfig = Field(default_factory=TaxConfig)
    ui: UiConfig = Field(default_factory=UiConfig)
    sync: SyncConfig = Field(default_factory=SyncConfig)
    receipt: ReceiptConfig = Field(default_factory=ReceiptConfig)
    # None: no [devices] table, the till runs with the browser's keyboard wedge and no printer.
    devices: DeviceConfig | None = None

    @field_validator("store_id")
    @classmethod
    def _check_store_id(cls, value: str) -> str:
        try:
            return validate_store_id(value)
        except ValueError as err:
            raise ValueError(str(err)) from None
        except Exception as err:  # noqa: BLE001 - TopicError is not a ValueError subclass
            raise ValueError(str(err)) from None

    @field_validator("tz")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. Europe/London)") from None
        return value

    @field_validator("currency")
    @classmethod
    def _check_currency(cls, value: str) -> str:
        try:
            return check_currency(value)
        except Exception as err:  # noqa: BLE001 - MoneyError carries the sentence
            raise ValueError(str(err)) from None

    @property
    def zone(self) -> ZoneInfo:
        """The store's time zone."""
        return ZoneInfo(self.tz)

    def tax_policy(self) -> StoreTaxPolicy:
        """Build the domain's tax policy from the [tax] table."""
        return StoreTaxPolicy(
            currency=self.currency,
            prices_include_tax=self.tax.prices_include_tax,
            rates={k: TaxRate.from_percent(Decimal(str(v))) for k, v in self.tax.rates.items()},
            rounding=TaxRounding(self.tax.rounding),
            rounding_mode=RoundingMode(self.tax.rounding_mode),
        )


def _settings_class(toml_file: Path | None) -> type[EdgeSettings]:
    class _FromFile(EdgeSettings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
            if toml_file is not None:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
            return tuple(sources)

    return _FromFile


def load_settings(config: Path | None = None, **overrides: Any) -> EdgeSettings:
    """Read the TOML file (if any), apply ``ACORN_EDGE_*`` env and keyword overrides, validate.

    Raises ConfigError with a sentence that says what to fix.
    """
    base_dir = Path.cwd()
    if config is not None:
        if not config.is_file():
            raise ConfigError(f"config file {config} not found")
        try:
            with config.open("rb") as fh:
                raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{config} is not valid TOML: {err}") from None
        if isinstance(raw.get("broker"), dict) and "password" in raw["broker"]:
            raise ConfigError(
                f"{config}: broker.password must not be written in the config file; set "
                f"{ENV_PREFIX}BROKER__PASSWORD or broker.password_file (a file with mode 0600)"
            )
        base_dir = config.resolve().parent
    try:
        settings = _settings_class(config)(**overrides)
    except Exception as err:  # noqa: BLE001 - pydantic's ValidationError, made readable below
        raise ConfigError(_readable(err, config)) from None
    settings = _resolve_paths(settings, base_dir)
    settings.tax_policy()  # validate the combination once, at start
    return settings


def _readable(err: Exception, config: Path | None) -> str:
    where = f" in {config}" if config else ""
    errors = getattr(err, "errors", None)
    if callable(errors):
        parts = []
        for item in errors():
            loc = ".".join(str(p) for p in item.get("loc", ()))
            parts.append(f"{loc}: {item.get('msg')}")
        return f"invalid settings{where}: " + "; ".join(parts)
    return f"invalid settings{where}: {err}"


def _resolve_paths(settings: EdgeSettings, base_dir: Path) -> EdgeSettings:
    def absolute(path: Path | None) -> Path | None:
        if path is None or path.is_absolute() or str(path) == ":memory:":
            return path
        return base_dir / path

    broker = settings.broker.model_copy(
        update={
            "password_file": absolute(settings.broker.password_file),
            "tls_ca_file": absolute(settings.broker.tls_ca_file),
        }
    )
    return settings.model_copy(update={"database": absolute(settings.database), "broker": broker})


def env_prefix_keys() -> list[str]:
    """Return the ACORN_EDGE_* variables set in this process (names only, never values)."""
    return sorted(k for k in os.environ if k.startswith(ENV_PREFIX))
