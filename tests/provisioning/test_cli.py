"""`acorn provision store create/code` and `secret`: what the tech sees on the hub."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from click.testing import CliRunner

from provisioning.cli import provision
from provisioning.codes import normalize_code
from tests.provisioning.conftest import SECRETS_KEY


def test_store_create_prints_a_code_and_a_qr(tmp_path: Path, hub_sqlite_template: Path) -> None:
    shutil.copyfile(hub_sqlite_template, tmp_path / "hub.db")
    (tmp_path / "stock.csv").write_text("sku,on_hand\nMILK-1L,3\n")
    env = {
        "ACORN_HUB_DATABASE_URL": f"sqlite:///{tmp_path}/hub.db",
        "ACORN_HUB_SECRETS_KEY": SECRETS_KEY,
        "ACORN_HUB_PUBLIC_URL": "https://hub.example:8700",
    }
    args = ["store", "create", "--id", "s-601", "--name", "Leeds", "--tz", "Europe/London"]
    args += ["--currency", "gbp", "--lat", "53.79", "--lon", "-1.54", "--valid-hours", "2"]
    args += ["--stock", str(tmp_path / "stock.csv")]
    runner = CliRunner()
    result = runner.invoke(provision, args, env=env)
    assert result.exit_code == 0, result.output
    code = re.search(r"^    ([0-9A-Z]{4}-[0-9A-Z]{4})$", result.output, re.MULTILINE)
    assert code is not None, result.output
    normalize_code(code.group(1))  # a valid, typo-checked code
    assert "█" in result.output  # the terminal QR code
    assert "about 2 h" in result.output
    assert f"--hub https://hub.example:8700 --code {code.group(1)}" in result.output

    again = runner.invoke(provision, args, env=env)
    assert again.exit_code == 1
    assert "exists already" in again.output

    fresh = runner.invoke(provision, ["store", "code", "s-601"], env=env)
    assert fresh.exit_code == 0, fresh.output
    assert code.group(1) not in fresh.output

    no_key = runner.invoke(
        provision, ["store", "code", "s-601"], env={**env, "ACORN_HUB_SECRETS_KEY": ""}
    )
    assert no_key.exit_code != 0

    stored = runner.invoke(provision, ["secret", "set", "amazon.token"], input="tok-123\n", env=env)
    assert stored.exit_code == 0, stored.output
    listed = runner.invoke(provision, ["secret", "list"], env=env)
    assert "amazon.token" in listed.output
    assert "tok-123" not in listed.output
    for part in tmp_path.glob("hub.db*"):  # the database and its WAL
        assert b"tok-123" not in part.read_bytes()
