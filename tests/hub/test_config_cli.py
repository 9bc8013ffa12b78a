"""Settings (TOML + environment + secrets files), migrations on both databases, CLI errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hub.auth import parse_roles
from hub.config import ConfigError, load_settings
from hub.db.migrate import check, current_revision, head_revision, upgrade_url


def acorn(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ACORN_HUB_")}
    return subprocess.run(
        [sys.executable, "-m", "acorn.cli", "hub", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **(env or {})},
        check=False,
    )


def test_environment_beats_the_file_and_secrets_come_from_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "mqtt.secret"
    secret.write_text("s3cret\n")
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[hub]\nmqtt_host = "broker.local"\nmqtt_port = 1884\nmqtt_password_file = "{secret}"\n'
    )
    monkeypatch.setenv("ACORN_HUB_MQTT_PORT", "1999")
    settings = load_settings(config)
    assert (settings.mqtt_host, settings.mqtt_port) == ("broker.local", 1999)
    assert settings.mqtt_password is not None
    assert settings.mqtt_password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert load_settings(config, mqtt_port=2000).mqtt_port == 2000


def test_passwords_in_the_file_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('[hub]\nmqtt_password = "oops"\n')
    with pytest.raises(ConfigError, match="must not be in the file in clear"):
        load_settings(config)


def test_database_password_is_filled_in_and_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACORN_HUB_DATABASE_URL", "postgresql://hub@db:5432/hub")
    monkeypatch.setenv("ACORN_HUB_DATABASE_PASSWORD", "pw")
    settings = load_settings()
    assert settings.effective_database_url() == "postgresql://hub:pw@db:5432/hub"
    assert "pw" not in settings.safe_database_url()


def test_models_and_migrations_agree(hub_engine: Engine) -> None:
    """`alembic check` on the migrated database: no drift between models and history."""
    assert current_revision(hub_engine) == head_revision()
    check(hub_engine)


def test_migrate_and_token_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/new/hub.db"
    refused = acorn("token", "create", "ci", "--database-url", url)
    assert refused.returncode == 1
    assert "run `acorn hub migrate` first" in refused.stderr
    migrated = acorn("migrate", "--database-url", url)
    assert migrated.returncode == 0, migrated.stderr
    assert f"-> {head_revision()}" in migrated.stdout
    created = acorn("token", "create", "ci", "--role", "operator", "--database-url", url)
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("acorn_")
    listed = acorn("token", "list", "--database-url", url)
    assert "ci\t" in listed.stdout
    assert created.stdout.strip() not in listed.stdout


def test_serve_without_anything_to_run_or_unreachable_broker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/hub.db"
    upgrade_url(url)
    nothing = acorn("serve", "--no-api", "--no-ingest", "--database-url", url)
    assert nothing.returncode == 2
    assert "nothing to run" in nothing.stderr
    unreachable = acorn(
        "serve",
        "--no-api",
        "--database-url",
        url,
        env={"ACORN_HUB_MQTT_PORT": "1", "ACORN_HUB_LOG_JSON": "false"},
    )
    assert unreachable.returncode == 1
    assert "cannot reach the broker" in unreachable.stderr


def test_roles_are_parsed_and_unknown_ones_refused() -> None:
    assert {r.value for r in parse_roles("reader, operator")} == {"reader", "operator"}
    with pytest.raises(ValueError, match="unknown role 'root'"):
        parse_roles("root")
    with pytest.raises(ValueError, match="at least one role"):
        parse_roles(" , ")
