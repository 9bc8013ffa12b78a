"""Agent settings (TOML + ACORN_EDGE_* overrides, secrets) and the ``acorn edge`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from acorn.cli import cli
from edge_agent.config import ConfigError, load_settings
from edge_agent.store.db import Synchronous
from edge_agent.store.migrations import LATEST_VERSION
from tests.edge.store.helpers import MILK_EAN

TOML = """\
store_id = "s-002"
tz = "America/Los_Angeles"
currency = "USD"
database = "data/edge.db"
synchronous = "NORMAL"

[broker]
host = "broker.example"
port = 8883
username = "s-002"
password_file = "broker.secret"

[tax]
prices_include_tax = false
rates = { standard = "9.5", exempt = "0" }
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(TOML)
    secret = tmp_path / "broker.secret"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    return path


def test_toml_is_read_and_relative_paths_follow_the_file(config: Path) -> None:
    settings = load_settings(config)
    assert settings.store_id == "s-002"
    assert settings.database == config.parent / "data" / "edge.db"
    assert settings.synchronous is Synchronous.NORMAL
    assert settings.broker.resolve_password() == "s3cret"
    policy = settings.tax_policy()
    assert policy.prices_include_tax is False
    assert policy.rate_for("standard").ppm == 95_000


def test_environment_overrides_the_file(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACORN_EDGE_BROKER__HOST", "10.0.0.5")
    monkeypatch.setenv("ACORN_EDGE_BROKER__PASSWORD", "from-env")
    monkeypatch.setenv("ACORN_EDGE_UI__PORT", "9090")
    settings = load_settings(config)
    assert settings.broker.host == "10.0.0.5"
    assert settings.broker.resolve_password() == "from-env"
    assert settings.ui.port == 9090
    assert "from-env" not in repr(settings)  # secrets never show in logs or reprs


def test_password_in_the_toml_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text('store_id = "s-001"\n[broker]\npassword = "plain"\n')
    with pytest.raises(ConfigError, match="must not be written in the config file"):
        load_settings(path)


def test_secret_file_readable_by_others_is_refused(config: Path) -> None:
    (config.parent / "broker.secret").chmod(0o644)
    settings = load_settings(config)
    with pytest.raises(ConfigError, match="chmod 600"):
        settings.broker.resolve_password()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('tz = "Mars/Olympus"', "unknown IANA time zone"),
        ('currency = "XXX"', "currency"),
        ('store_id = "S 1"', "store_id"),
        ("nonsense = 1", "nonsense"),
    ],
)
def test_bad_settings_say_what_to_fix(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "edge.toml"
    base = 'store_id = "s-001"\n'
    path.write_text(line + "\n" if line.startswith("store_id") else base + line + "\n")
    with pytest.raises(ConfigError, match=message):
        load_settings(path)


def test_field_tech_sets_up_a_first_till(tmp_path: Path, config: Path) -> None:
    runner = CliRunner()
    args = ["--config", str(config)]
    result = runner.invoke(cli, ["edge", "init-db", *args])
    assert result.exit_code == 0, result.output
    assert f"schema v{LATEST_VERSION}" in result.output
    assert "next seq 1" in result.output
    result = runner.invoke(
        cli,
        [
            "edge",
            "cashier",
            "add",
            *args,
            "--id",
            "meg",
            "--name",
            "Meg",
            "--role",
            "manager",
            "--pin-stdin",
        ],
        input="9876\n",
    )
    assert result.exit_code == 0, result.output
    assert "9876" not in result.output
    listed = runner.invoke(cli, ["edge", "cashier", "list", *args])
    assert "meg" in listed.output
    assert "manager" in listed.output
    added = runner.invoke(
        cli,
        [
            "edge",
            "product",
            "add",
            *args,
            "--sku",
            "MILK",
            "--name",
            "Milk",
            "--price-minor",
            "129",
            "--tax-class",
            "exempt",
            "--barcode",
            MILK_EAN,
        ],
    )
    assert added.exit_code == 0, added.output
    bad = runner.invoke(
        cli,
        [
            "edge",
            "product",
            "add",
            *args,
            "--sku",
            "X",
            "--name",
            "X",
            "--price-minor",
            "1",
            "--tax-class",
            "exempt",
            "--barcode",
            "12345",
        ],
    )
    assert bad.exit_code == 3
    assert "invalid barcode" in bad.output
    status = runner.invoke(cli, ["edge", "status", *args, "--json"])
    data = json.loads(status.output)
    assert data["outbox_depth"] == 0
    assert data["schema_version"] == LATEST_VERSION


def test_replacement_box_continues_the_store_seq(config: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["edge", "init-db", "--config", str(config), "--start-seq", "501"])
    assert result.exit_code == 0, result.output
    assert "next seq 501" in result.output


def test_missing_config_is_an_error_with_exit_code_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["edge", "status", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "not found" in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["init-db"],
        ["status"],
        ["cashier"],
        ["cashier", "add"],
        ["cashier", "list"],
        ["cashier", "disable"],
        ["product", "add"],
        ["dead-letters"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(cli, ["edge", *command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
