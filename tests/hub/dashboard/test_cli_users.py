"""`acorn hub user add|list|set-role|disable|set-password` on a migrated SQLite hub (in process)."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from hub.cli import hub
from hub.dashboard.users import authenticate
from hub.db.engine import make_engine, make_sessionmaker
from hub.db.models_dashboard import AuditEntry, HqUser
from tests.hub.conftest import NOW


def test_user_commands(hub_sqlite_template: Path, tmp_path: Path) -> None:
    """GIVEN a migrated hub WHEN HQ accounts are managed from the CLI THEN the rows, the argon2
    hash, the refusals and the audit log say so."""
    shutil.copyfile(hub_sqlite_template, tmp_path / "hub.db")
    url = f"sqlite:///{tmp_path}/hub.db"
    runner = CliRunner()

    def run(*args: str, password: str | None = None) -> tuple[int, str]:
        env = {} if password is None else {"ACORN_HUB_USER_PASSWORD": password}
        result = runner.invoke(hub, ["user", *args, "--database-url", url], env=env)
        return result.exit_code, result.output

    assert (
        run("add", "Alice", "--role", "hq", "--name", "Alice Baker", password="long enough pw")[0]
        == 0
    )
    code, out = run("add", "bob", "--role", "boss", password="long enough pw")
    assert code == 1
    assert "unknown HQ role 'boss'" in out
    code, out = run("add", "carol", "--role", "viewer", password="short")
    assert code == 1
    assert "at least 10 characters" in out
    assert run("set-role", "alice", "--role", "hq", "--role", "finance")[0] == 0
    code, out = run("list")
    assert code == 0
    assert out.splitlines() == ["alice\tfinance,hq\tactive\tnever"]
    assert run("disable", "alice")[0] == 0
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine).begin() as s:
            user = s.scalars(select(HqUser)).one()
            assert user.password_hash.startswith("$argon2id$")
            assert not user.active
            assert authenticate(s, "alice", "long enough pw", now=NOW).reason == "disabled"
            actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
            assert actions == ["user.add", "user.set_role", "user.disable"]
    finally:
        engine.dispose()
