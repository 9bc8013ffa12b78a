"""The embedded MQTT broker for development and the demo (amqtt, MQTT 3.1.1 only).

It is a convenience, not a production broker: MQTT 3.1.1 only, sessions and retained
messages kept in memory (lost on restart), no shared subscriptions, one Python process.
Production runs Mosquitto with a password file and a pattern ACL (docs/brokers.md).

What it does add on top of a bare amqtt broker:

- it binds to loopback unless told otherwise, and refuses a non-loopback bind without a
  password file;
- it checks passwords (amqtt's password file format: ``user:$argon2id$...``, verified off
  the event loop), or, with no password file, accepts any non-empty username;
- it enforces the same topic ACL as Acorn's Mosquitto configuration: full-access users
  (``hub``) read and write ``acorn/#``, read-only users (``observer``) read it, every other
  user ``u`` reads and writes ``acorn/v1/store/u/#`` and reads ``acorn/v1/hub/#``; a Last Will
  on a topic the user may not write is dropped;
- it answers an MQTT 5 CONNECT with an MQTT 5 CONNACK "Unsupported Protocol Version" at
  once (amqtt alone hangs), and closes TCP probes without amqtt's error log.

amqtt costs about 0.3 s to import, so it is imported only when a broker starts: the
``acorn`` command line and the edge agent do not pay for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from amqtt.broker import Broker

_LOGGER = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 1883
DEFAULT_FULL_ACCESS_USERS: tuple[str, ...] = ("hub",)
DEFAULT_READ_ONLY_USERS: tuple[str, ...] = ("observer",)
STORE_TOPIC_PATTERN = "acorn/v1/store/{user}/#"
HUB_TOPIC_FILTER = "acorn/v1/hub/#"
ROOT_TOPIC_FILTER = "acorn/#"
START_TIMEOUT_S = 10.0
# amqtt loads plugins by dotted path; name the module even when run as ``python -m``.
_PLUGIN_MODULE = "acorn.broker"

WARNING_TEXT = (
    "WARNING: this is Acorn's embedded development/demo MQTT broker (amqtt). "
    "MQTT 3.1.1 only, no shared subscriptions, sessions and retained messages are lost "
    "on restart. Do not use it in production: run Mosquitto (see docs/brokers.md)."
)

# Argon2 parameters for hashes that only ever live in this process's memory (users given
# as a mapping) or in test fixtures. Files written by ``write_password_file`` use
# argon2-cffi's defaults.
_LOW_COST_TIME_COST = 1
_LOW_COST_MEMORY_KIB = 8192

_LISTENER = "default"
_CONNECT = 1  # MQTT control packet type of CONNECT
_MQTT5_LEVEL = 5
# MQTT 5 CONNACK: no session present, reason 0x84 Unsupported Protocol Version, no properties
_CONNACK_V5_UNSUPPORTED = bytes([0x20, 0x03, 0x00, 0x84, 0x00])
_CONNECT_TIMEOUT_S = 10.0
_MAX_CONNECT_BYTES = 1024 * 1024


class BrokerError(Exception):
    """Root of the embedded broker's errors."""


class UnsafeBindError(BrokerError):
    """The broker was asked to listen on a non-loopback address without the opt-in."""


class PasswordFileError(BrokerError):
    """A password file is missing, unreadable or holds hashes the broker cannot verify."""


# --------------------------------------------------------------------------------------
# Topic ACL: pure functions, no amqtt, no I/O.
# --------------------------------------------------------------------------------------


def topic_matches(topic: str, topic_filter: str) -> bool:
    """Whether a concrete topic matches an MQTT topic filter (``+`` and ``#`` wildcards)."""
    if topic.startswith("$") and topic_filter.startswith(("+", "#")):
        return False
    t_levels = topic.split("/")
    f_levels = topic_filter.split("/")
    for i, level in enumerate(f_levels):
        if level == "#":
            return True
        if i >= len(t_levels):
            return False
        if level not in ("+", t_levels[i]):
            return False
    return len(t_levels) == len(f_levels)


def filter_covered(topic_filter: str, allowed: str) -> bool:
    """Whether every topic matched by ``topic_filter`` is also matched by ``allowed``."""
    f_levels = topic_filter.split("/")
    a_levels = allowed.split("/")
    for i, a_level in enumerate(a_levels):
        if a_level == "#":
            return True
        if i >= len(f_levels):
            return False
        f_level = f_levels[i]
        if f_level == "#":
            return False
        if a_level == "+":
            continue
        if f_level != a_level:
            return False
    return len(f_levels) == len(a_levels)


def _valid_pattern_user(username: str) -> bool:
    return bool(username) and not any(c in username for c in "/+#\x00")


@dataclass(frozen=True, slots=True)
class TopicAcl:
    """Acorn's broker ACL, the same rules as the Mosquitto ``acl_file`` in docs/brokers.md."""

    full_access: frozenset[str] = frozenset(DEFAULT_FULL_ACCESS_USERS)
    read_only: frozenset[str] = frozenset(DEFAULT_READ_ONLY_USERS)

    def writable(self, username: str | None) -> tuple[str, ...]:
        """Topic filters the user may publish to."""
        if not username:
            return ()
        if username in self.full_access:
            return (ROOT_TOPIC_FILTER,)
        if username in self.read_only or not _valid_pattern_user(username):
            return ()
        return (STORE_TOPIC_PATTERN.format(user=username),)

    def readable(self, username: str | None) -> tuple[str, ...]:
        """Topic filters the user may receive from."""
        if not username:
            return ()
        if username in self.full_access or username in self.read_only:
            return (ROOT_TOPIC_FILTER,)
        if not _valid_pattern_user(username):
            return ()
        return (STORE_TOPIC_PATTERN.format(user=username), HUB_TOPIC_FILTER)

    def may_publish(self, username: str | None, topic: str) -> bool:
        """Whether the user may publish to a concrete topic."""
        return any(topic_matches(topic, f) for f in self.writable(username))

    def may_receive(self, username: str | None, topic: str) -> bool:
        """Whether a message on a concrete topic may be delivered to the user."""
        return any(topic_matches(topic, f) for f in self.readable(username))

    def may_subscribe(self, username: str | None, topic_filter: str) -> bool:
        """Whether the user may subscribe: the whole filter must lie inside what it may read."""
        return any(filter_covered(topic_filter, f) for f in self.readable(username))


# --------------------------------------------------------------------------------------
# Password files (amqtt's FileAuthPlugin format).
# --------------------------------------------------------------------------------------


def hash_password(password: str, *, low_cost: bool = False) -> str:
    """Hash a password with Argon2id in the format amqtt's password file uses.

    ``low_cost`` is for hashes that never leave the process (users given as a mapping) and
    for throw-away test brokers: about 10 ms to verify instead of about 200 ms.
    """
    from argon2 import PasswordHasher

    hasher = (
        PasswordHasher(
            time_cost=_LOW_COST_TIME_COST, memory_cost=_LOW_COST_MEMORY_KIB, parallelism=1
        )
        if low_cost
        else PasswordHasher()
    )
    return hasher.hash(password)


def read_password_file(path: Path) -> dict[str, str]:
    """Read ``user:hash`` lines; refuse hashes the broker cannot verify (e.g. Mosquitto's)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise PasswordFileError(f"cannot read password file {path}: {err.strerror}") from err
    users: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        username, sep, pw_hash = line.partition(":")
        if not sep or not username or not pw_hash:
            raise PasswordFileError(f"{path}:{number}: expected 'user:hash'")
        if not pw_hash.startswith("$argon2"):
            hint = (
                " (a Mosquitto '$7$' hash: the embedded broker cannot verify it)"
                if pw_hash.startswith(("$6$", "$7$"))
                else ""
            )
            raise PasswordFileError(
                f"{path}:{number}: user {username!r} has no Argon2 hash{hint}; "
                f"set the password again with 'acorn broker passwd {path} {username}'"
            )
        users[username] = pw_hash
    return users


def write_password_file(path: Path, users: Mapping[str, str]) -> None:
    """Create or update a password file: set each user's password (clear text in, hash out)."""
    existing = read_password_file(path) if path.exists() else {}
    for username in users:
        if not username or ":" in username:
            raise PasswordFileError(f"invalid username {username!r}")
    existing.update({name: hash_password(pw) for name, pw in users.items()})
    body = "".join(f"{name}:{pw_hash}\n" for name, pw_hash in existing.items())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(body)


# --------------------------------------------------------------------------------------
# Settings and the amqtt wiring.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """Everything the embedded broker needs to start."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    password_file: Path | None = None
    users: Mapping[str, str] | None = None
    acl: bool = True
    full_access_users: frozenset[str] = frozenset(DEFAULT_FULL_ACCESS_USERS)
    read_only_users: frozenset[str] = frozenset(DEFAULT_READ_ONLY_USERS)
    allow_non_loopback: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def checks_passwords(self) -> bool:
        """Whether connections are checked against a password, not just a username."""
        return self.password_file is not None or self.users is not None


def is_loopback_host(host: str) -> bool:
    """Whether every address ``host`` resolves to is a loopback address."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if not host:
        return False
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos
    )


def check_bind(settings: BrokerSettings) -> None:
    """Refuse a non-loopback bind unless explicitly allowed, and never without passwords."""
    if is_loopback_host(settings.host):
        return
    if not settings.allow_non_loopback:
        raise UnsafeBindError(
            f"refusing to listen on {settings.host!r}: the embedded broker is for development "
            "and binds to loopback only; pass --allow-non-loopback to expose it anyway, or run "
            "Mosquitto (docs/brokers.md)"
        )
    if not settings.checks_passwords:
        raise UnsafeBindError(
            f"refusing to listen on {settings.host!r} without passwords: pass --password-file"
        )


def _load_users(settings: BrokerSettings) -> dict[str, str]:
    """Username -> Argon2 hash for every user the broker accepts."""
    users: dict[str, str] = {}
    if settings.password_file is not None:
        users.update(read_password_file(settings.password_file))
    if settings.users is not None:
        users.update(
            {name: hash_password(pw, low_cost=True) for name, pw in settings.users.items()}
        )
    return users


def build_config(settings: BrokerSettings) -> dict[str, Any]:
    """The amqtt ``BrokerConfig`` dictionary for these settings."""
    plugins: dict[str, Any] = {}
    if settings.checks_passwords:
        plugins[f"{_PLUGIN_MODULE}.PasswordAuthPlugin"] = {"users": _load_users(settings)}
    else:
        # allow_anonymous False: a username is required (any is accepted), and only then are
        # sessions persistent; amqtt purges "anonymous" sessions on disconnect.
        plugins["amqtt.plugins.authentication.AnonymousAuthPlugin"] = {"allow_anonymous": False}
    if settings.acl:
        acl_cfg = {
            "full_access": sorted(settings.full_access_users),
            "read_only": sorted(settings.read_only_users),
        }
        plugins[f"{_PLUGIN_MODULE}.WillAclPlugin"] = acl_cfg
        plugins[f"{_PLUGIN_MODULE}.TopicAclPlugin"] = dict(acl_cfg)
    return {
        # "external": amqtt opens no socket; _front_door accepts and hands connections over
        "listeners": {_LISTENER: {"type": "external", "bind": f"{settings.host}:{settings.port}"}},
        # giving "plugins" replaces amqtt's defaults (event/packet loggers, $SYS publisher)
        "plugins": plugins,
        **settings.extra,
    }


@functools.cache
def _plugin_classes() -> dict[str, type]:
    """Build the amqtt plugin classes (imports amqtt, hence built on first use)."""
    from amqtt.contexts import Action
    from amqtt.plugins.authentication import FileAuthPlugin
    from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
    from amqtt.session import Session

    @dataclass
    class AclConfig:
        full_access: list[str] = field(default_factory=lambda: list(DEFAULT_FULL_ACCESS_USERS))
        read_only: list[str] = field(default_factory=lambda: list(DEFAULT_READ_ONLY_USERS))

    def _acl_from(config: Any) -> TopicAcl:
        return TopicAcl(frozenset(config.full_access), frozenset(config.read_only))

    class PasswordAuthPlugin(FileAuthPlugin):  # type: ignore[misc]
        """amqtt's FileAuthPlugin fed from memory, verifying off the event loop."""

        @dataclass
        class Config:
            users: dict[str, str] = field(default_factory=dict)

        def _read_password_file(self) -> None:
            self._users = dict(self.context.config.users)

        async def authenticate(self, *, session: Session) -> bool | None:
            if not session.username:
                return False
            pw_hash = self._users.get(session.username)
            if pw_hash is None:
                return False
            # Argon2 takes tens of milliseconds: keep the event loop serving other clients.
            ok = await asyncio.to_thread(self.pwd_hasher.verify, session.password or "", pw_hash)
            if not ok:
                _LOGGER.info("refused %r: wrong password", session.username)
            return bool(ok)

    class WillAclPlugin(BaseAuthPlugin):  # type: ignore[misc]
        """Drops a Last Will whose topic the user may not publish to (as Mosquitto does)."""

        Config = AclConfig

        async def authenticate(self, *, session: Session) -> bool | None:
            topic = session.will_topic
            acl = _acl_from(self.context.config)
            if (
                session.will_flag
                and topic is not None
                and not acl.may_publish(session.username, topic)
            ):
                # amqtt publishes a Will without any topic check; never let it out.
                _LOGGER.info("dropped %r's will on %r: not allowed", session.username, topic)
                session.will_flag = False
            return True

    class TopicAclPlugin(BaseTopicPlugin):  # type: ignore[misc]
        """Acorn's per-store topic ACL (``TopicAcl``) for publish, subscribe and delivery."""

        Config = AclConfig

        def __init__(self, context: Any) -> None:
            super().__init__(context)
            self._acl = _acl_from(self.context.config)  # checked for every delivery

        async def topic_filtering(
            self,
            *,
            session: Session | None = None,
            topic: str | None = None,
            action: Action | None = None,
        ) -> bool | None:
            if session is None or topic is None:
                return False
            acl = self._acl
            if action == Action.PUBLISH:
                return acl.may_publish(session.username, topic)
            if action == Action.SUBSCRIBE:
                return acl.may_subscribe(session.username, topic)
            return acl.may_receive(session.username, topic)

    return {
        "PasswordAuthPlugin": PasswordAuthPlugin,
        "WillAclPlugin": WillAclPlugin,
        "TopicAclPlugin": TopicAclPlugin,
    }


def __getattr__(name: str) -> Any:
    """Give amqtt the plugin classes by dotted path without importing amqtt eagerly."""
    classes = _plugin_classes()
    if name in classes:
        return classes[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def quiet_amqtt_logs() -> None:
    """Keep amqtt's and transitions' INFO chatter out of the log unless asked for."""
    for name in ("amqtt", "transitions"):
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.WARNING)


def connect_protocol_level(packet: bytes) -> int | None:
    """The protocol level of a complete CONNECT packet (4 = 3.1.1, 5 = MQTT 5), else None."""
    if not packet or packet[0] >> 4 != _CONNECT:
        return None
    i = 1
    while i < len(packet) and packet[i] & 0x80:  # remaining length, variable-length integer
        i += 1
    i += 1
    if i + 2 > len(packet):
        return None
    name_len = int.from_bytes(packet[i : i + 2], "big")
    level_at = i + 2 + name_len
    return packet[level_at] if level_at < len(packet) else None


async def _read_first_packet(reader: asyncio.StreamReader) -> bytes | None:
    """Read one whole MQTT packet (fixed header + body); None on EOF, garbage or oversize."""
    first = await reader.read(1)
    if not first or first[0] >> 4 != _CONNECT:
        return None
    head = bytearray(first)
    length, shift = 0, 0
    for _ in range(4):
        byte = await reader.readexactly(1)
        head += byte
        length |= (byte[0] & 0x7F) << shift
        shift += 7
        if not byte[0] & 0x80:
            break
    else:
        return None
    if length > _MAX_CONNECT_BYTES:
        return None
    return bytes(head) + await reader.readexactly(length)


class _ReplayReader:
    """amqtt ReaderAdapter that first hands back the bytes already read, then the stream."""

    def __init__(self, reader: asyncio.StreamReader, prefix: bytes) -> None:
        self._reader = reader
        self._prefix = prefix

    async def read(self, n: int = -1) -> bytes:
        if self._prefix:
            if n == -1:
                data, self._prefix = self._prefix + await self._reader.read(-1), b""
                return data
            head, self._prefix = self._prefix[:n], self._prefix[n:]
            if len(head) < n:
                head += await self._reader.readexactly(n - len(head))
            return head
        if n == -1:
            return await self._reader.read(-1)
        return await self._reader.readexactly(n)

    def feed_eof(self) -> None:
        self._reader.feed_eof()


def _front_door(broker: Broker) -> Callable[..., Any]:
    """Connection handler that screens the first packet before amqtt sees the connection.

    amqtt 0.12 logs an ERROR for every TCP probe, and an MQTT 5 CONNECT with a username
    hangs in its 3.1.1 parser until the client gives up. Here a probe is closed quietly
    and MQTT 5 gets a proper MQTT 5 CONNACK "Unsupported Protocol Version" (0x84), so a
    client falls back to 3.1.1 at once.
    """
    from amqtt.adapters import StreamWriterAdapter

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            packet = await asyncio.wait_for(_read_first_packet(reader), _CONNECT_TIMEOUT_S)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            packet = None
        level = connect_protocol_level(packet) if packet else None
        if level is None:
            writer.close()
            return
        if level == _MQTT5_LEVEL:
            _LOGGER.info("refused an MQTT 5 CONNECT from %s", writer.get_extra_info("peername"))
            writer.write(_CONNACK_V5_UNSUPPORTED)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            writer.close()
            return
        assert packet is not None
        await broker.external_connected(
            _ReplayReader(reader, packet),
            StreamWriterAdapter(writer),
            _LISTENER,
        )

    return accept


async def serve(
    settings: BrokerSettings,
    stop: asyncio.Event,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Run the broker until ``stop`` is set; call ``on_ready(port)`` once it listens."""
    from amqtt.broker import Broker

    check_bind(settings)
    quiet_amqtt_logs()
    broker = Broker(build_config(settings))
    try:
        await broker.start()
        server = await asyncio.start_server(
            _front_door(broker), settings.host, settings.port, reuse_address=True
        )
    except Exception as err:
        with contextlib.suppress(Exception):
            await broker.shutdown()
        raise BrokerError(
            f"cannot start the broker on {settings.host}:{settings.port}: {err}"
        ) from err
    try:
        port = int(server.sockets[0].getsockname()[1])
        _LOGGER.info("embedded broker listening on %s:%d", settings.host, port)
        if on_ready is not None:
            on_ready(port)
        await stop.wait()
    finally:
        server.close()
        await broker.shutdown()
        await server.wait_closed()
        _LOGGER.info("embedded broker stopped")


def run_broker(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    users: Mapping[str, str] | None = None,
    *,
    password_file: Path | None = None,
    acl: bool = True,
    full_access_users: Iterable[str] = DEFAULT_FULL_ACCESS_USERS,
    read_only_users: Iterable[str] = DEFAULT_READ_ONLY_USERS,
    allow_non_loopback: bool = False,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Run the broker in the foreground until SIGINT or SIGTERM (main thread only)."""
    run_settings(
        BrokerSettings(
            host=host,
            port=port,
            password_file=password_file,
            users=users,
            acl=acl,
            full_access_users=frozenset(full_access_users),
            read_only_users=frozenset(read_only_users),
            allow_non_loopback=allow_non_loopback,
        ),
        on_ready,
    )


def run_settings(settings: BrokerSettings, on_ready: Callable[[int], None] | None = None) -> None:
    """``run_broker`` for a ready-made ``BrokerSettings``."""

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop, on_ready)

    asyncio.run(_main())


class EmbeddedBroker:
    """The embedded broker on a background thread, for in-process use (demo, tools)."""

    def __init__(self, settings: BrokerSettings) -> None:
        self.settings = settings
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: Exception | None = None

    @property
    def url(self) -> str:
        """``mqtt://host:port`` once started."""
        return f"mqtt://{self.settings.host}:{self.port}"

    def start(self, timeout: float = START_TIMEOUT_S) -> EmbeddedBroker:
        """Start the broker thread and wait until it listens; raise BrokerError if it cannot."""
        check_bind(self.settings)
        self._thread = threading.Thread(target=self._run, name="acorn-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise BrokerError(f"the embedded broker did not start within {timeout} s")
        if self._error is not None:
            self.stop()
            raise BrokerError(str(self._error)) from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._stop = asyncio.Event()

        def _ready(port: int) -> None:
            self.port = port
            self._ready.set()

        try:
            loop.run_until_complete(serve(self.settings, self._stop, _ready))
        except Exception as err:  # reported to start(); the thread must not die silently
            if self._ready.is_set():
                _LOGGER.exception("embedded broker failed")
            self._error = err
            self._ready.set()
        finally:
            loop.close()

    def stop(self, timeout: float = START_TIMEOUT_S) -> None:
        """Stop the broker and wait for its thread (idempotent)."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop closed in between
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise BrokerError(f"the embedded broker did not stop within {timeout} s")

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------
# Command line: ``acorn broker`` (also ``python -m acorn.broker``).
# --------------------------------------------------------------------------------------

EXIT_USAGE = 2
EXIT_FAILURE = 1


@click.group(
    name="broker",
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="Address to listen on. Non-loopback needs --allow-non-loopback.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="TCP port (0 picks a free one; the ready line says which).",
)
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="user:argon2-hash lines (see 'acorn broker passwd'). Without it, any "
    "non-empty username is accepted with no password check.",
)
@click.option(
    "--acl/--no-acl",
    default=True,
    show_default=True,
    help="Enforce Acorn's per-store topic ACL (same rules as the Mosquitto ACL).",
)
@click.option(
    "--hub-user",
    "hub_users",
    multiple=True,
    default=DEFAULT_FULL_ACCESS_USERS,
    show_default=True,
    help="User with read/write access to acorn/# (repeatable).",
)
@click.option(
    "--observer-user",
    "observer_users",
    multiple=True,
    default=DEFAULT_READ_ONLY_USERS,
    show_default=True,
    help="User with read-only access to acorn/# (repeatable).",
)
@click.option(
    "--allow-non-loopback",
    is_flag=True,
    help="Allow listening on a non-loopback address (needs --password-file). "
    "Still not for production.",
)
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.pass_context
def broker_command(
    ctx: click.Context,
    host: str,
    port: int,
    password_file: Path | None,
    acl: bool,
    hub_users: tuple[str, ...],
    observer_users: tuple[str, ...],
    allow_non_loopback: bool,
    verbose: int,
) -> None:
    """Run the embedded MQTT broker (development and demo only; MQTT 3.1.1)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = BrokerSettings(
        host=host,
        port=port,
        password_file=password_file,
        acl=acl,
        full_access_users=frozenset(hub_users),
        read_only_users=frozenset(observer_users),
        allow_non_loopback=allow_non_loopback,
    )
    try:
        check_bind(settings)
        if password_file is not None:
            read_password_file(password_file)
    except UnsafeBindError as err:
        click.echo(f"error: {err}", err=True)
        raise SystemExit(EXIT_USAGE) from err
    except BrokerError as err:
        click.echo(f"error: {err}", err=True)
        raise SystemExit(EXIT_FAILURE) from err

    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if verbose:
        logging.getLogger("amqtt").setLevel(level)
    click.echo(WARNING_TEXT, err=True)

    def _ready(bound: int) -> None:
        if password_file is None:
            click.echo("WARNING: no --password-file: passwords are not checked.", err=True)
        click.echo(f"ready on mqtt://{host}:{bound}")
        sys.stdout.flush()

    try:
        run_settings(settings, _ready)
    except BrokerError as err:
        click.echo(f"error: {err}", err=True)
        raise SystemExit(EXIT_FAILURE) from err


@broker_command.command("passwd")
@click.argument("password_file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("username")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin instead of prompting.",
)
def passwd_command(password_file: Path, username: str, password_stdin: bool) -> None:
    """Set USERNAME's password in PASSWORD_FILE (created with mode 600 if missing)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        click.echo("error: empty password", err=True)
        raise SystemExit(EXIT_USAGE)
    try:
        write_password_file(password_file, {username: password})
    except PasswordFileError as err:
        click.echo(f"error: {err}", err=True)
        raise SystemExit(EXIT_FAILURE) from err
    click.echo(f"{username}: password set in {password_file}", err=True)


if __name__ == "__main__":
    broker_command(prog_name="acorn broker")
