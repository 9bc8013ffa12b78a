"""``acorn hub user``: HQ accounts and their roles (admin, hq, finance, viewer, tech)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy.orm import Session, sessionmaker

from acorn.cliutil import fail

# The same options as hub.cli's (hub.cli imports this module, so not imported from there).
CONFIG_OPTION = click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="ACORN_HUB_CONFIG",
    help="TOML file with a [hub] table (every key also settable as ACORN_HUB_<KEY>).",
)
DATABASE_OPTION = click.option(
    "--database-url",
    help="SQLAlchemy URL (sqlite:///path or postgresql://...); overrides the config.",
)

PASSWORD_ENV = "ACORN_HUB_USER_PASSWORD"


@click.group()
def user() -> None:
    """HQ accounts and roles."""


def _sessions(config_file: Path | None, database_url: str | None) -> sessionmaker[Session]:
    from hub.cli import _engine, _require_migrated, _settings  # at call time: hub.cli imports us
    from hub.db.engine import make_sessionmaker

    settings = _settings(config_file, database_url=database_url)
    engine = _engine(settings)
    _require_migrated(engine, settings)
    return make_sessionmaker(engine)


@user.command("add")
@CONFIG_OPTION
@DATABASE_OPTION
@click.argument("username")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    help="admin, hq, finance, viewer or tech (repeatable).",
)
@click.option("--name", "display_name", help="Full name shown on the dashboard.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar=PASSWORD_ENV,
    help=f"Asked for when not given (or read from {PASSWORD_ENV}).",
)
def user_add(
    config_file: Path | None,
    database_url: str | None,
    username: str,
    roles: tuple[str, ...],
    display_name: str | None,
    password: str,
) -> None:
    """Create an HQ account (the password is stored as an argon2 hash)."""
    from hub.dashboard.users import UserError, audit, create_user

    now = datetime.now(UTC)
    try:
        with _sessions(config_file, database_url).begin() as session:
            created = create_user(
                session,
                username=username,
                password=password,
                roles=",".join(roles),
                display_name=display_name,
                now=now,
            )
            audit(
                session,
                actor="cli",
                actor_kind="cli",
                action="user.add",
                target=created.username,
                now=now,
                detail={"roles": created.roles},
            )
    except UserError as err:
        fail(str(err))
    click.echo(f"user {created.username!r} ({created.roles}) created")


@user.command("list")
@CONFIG_OPTION
@DATABASE_OPTION
def user_list(config_file: Path | None, database_url: str | None) -> None:
    """List HQ accounts: name, roles, state, last sign-in."""
    from hub.dashboard.users import list_users

    with _sessions(config_file, database_url)() as session:
        for row in list_users(session):
            state = "active" if row.active else "disabled"
            if row.locked_until is not None and row.locked_until > datetime.now(UTC):
                state += " (locked)"
            last = row.last_login_at.isoformat() if row.last_login_at else "never"
            click.echo(f"{row.username}\t{row.roles}\t{state}\t{last}")


@user.command("disable")
@CONFIG_OPTION
@DATABASE_OPTION
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the account again (and unlock it).")
def user_disable(
    config_file: Path | None, database_url: str | None, username: str, enable: bool
) -> None:
    """Disable an HQ account and end its sessions (or enable it with --enable)."""
    from hub.dashboard.users import UserError, audit, set_active

    now = datetime.now(UTC)
    try:
        with _sessions(config_file, database_url).begin() as session:
            changed = set_active(session, username, active=enable)
            audit(
                session,
                actor="cli",
                actor_kind="cli",
                action="user.enable" if enable else "user.disable",
                target=changed.username,
                now=now,
            )
    except UserError as err:
        fail(str(err))
    click.echo(f"user {changed.username!r} {'enabled' if enable else 'disabled'}")


@user.command("set-role")
@CONFIG_OPTION
@DATABASE_OPTION
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="The new roles (repeatable).")
def user_set_role(
    config_file: Path | None, database_url: str | None, username: str, roles: tuple[str, ...]
) -> None:
    """Replace an HQ account's roles."""
    from hub.dashboard.users import UserError, audit, set_roles

    now = datetime.now(UTC)
    try:
        with _sessions(config_file, database_url).begin() as session:
            changed = set_roles(session, username, ",".join(roles))
            audit(
                session,
                actor="cli",
                actor_kind="cli",
                action="user.set_role",
                target=changed.username,
                now=now,
                detail={"roles": changed.roles},
            )
    except UserError as err:
        fail(str(err))
    click.echo(f"user {changed.username!r} now has roles {changed.roles}")


@user.command("set-password")
@CONFIG_OPTION
@DATABASE_OPTION
@click.argument("username")
@click.option(
    "--password", prompt=True, hide_input=True, confirmation_prompt=True, envvar=PASSWORD_ENV
)
def user_set_password(
    config_file: Path | None, database_url: str | None, username: str, password: str
) -> None:
    """Set a new password; unlocks the account and ends its sessions."""
    from hub.dashboard.users import UserError, audit, set_password

    now = datetime.now(UTC)
    try:
        with _sessions(config_file, database_url).begin() as session:
            changed = set_password(session, username, password)
            audit(
                session,
                actor="cli",
                actor_kind="cli",
                action="user.set_password",
                target=changed.username,
                now=now,
            )
    except UserError as err:
        fail(str(err))
    click.echo(f"password of {changed.username!r} changed")
