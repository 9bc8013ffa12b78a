"""Child processes of the demo: start in order with readiness checks, stop in reverse.

Each child runs in its own session (Ctrl-C in the terminal reaches only the demo,
which then stops the children in order) and gets SIGTERM if the demo dies
(``PR_SET_PDEATHSIG`` on Linux). Its stdout and stderr are copied to
``DATA_DIR/logs/<name>.log``, rotated at a fixed size so a demo left running for
hours keeps a bounded amount of logs.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

_LOGGER = logging.getLogger(__name__)

DEFAULT_LOG_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_LOG_BACKUPS = 2
DEFAULT_STOP_TIMEOUT_S = 10.0
_PR_SET_PDEATHSIG = 1


class SupervisorError(Exception):
    """A child could not be started or did not become ready."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Ask Linux to send SIGTERM to this child when the demo process dies."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class RotatingLog:
    """A log file capped at ``max_bytes``, keeping ``backups`` older files (name.log.1 ...)."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_LOG_MAX_BYTES,
        backups: int = DEFAULT_LOG_BACKUPS,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[bytes] = path.open("ab")

    def write(self, data: bytes) -> None:
        """Append bytes, rotating first when the file would pass its cap."""
        with self._lock:
            if self._fh.tell() + len(data) > self.max_bytes:
                self._rotate()
            self._fh.write(data)
            self._fh.flush()

    def _rotate(self) -> None:
        self._fh.close()
        for i in range(self.backups, 0, -1):
            src = self.path if i == 1 else self.path.with_name(f"{self.path.name}.{i - 1}")
            if src.exists():
                src.replace(self.path.with_name(f"{self.path.name}.{i}"))
        self._fh = self.path.open("ab")

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._fh.close()


@dataclass
class Child:
    """One supervised process: how to start it and how to know it is ready."""

    name: str
    argv: Sequence[str]
    ready: Callable[[], bool]
    env: Mapping[str, str] = field(default_factory=dict)
    ready_timeout_s: float = 30.0
    stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S
    stop_signal: int = signal.SIGTERM
    process: subprocess.Popen[bytes] | None = None
    log: RotatingLog | None = None
    _pump: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        """The process id once started."""
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        """Whether the process is running."""
        return self.process is not None and self.process.poll() is None


def port_open(host: str, port: int, timeout_s: float = 0.3) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def port_free(host: str, port: int) -> bool:
    """Whether a server can listen on host:port now (SO_REUSEADDR, as the servers bind, so
    the TIME_WAIT left by a demo that just stopped does not count as busy)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (another process may still take it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def http_ok(url: str, timeout_s: float = 1.0) -> bool:
    """Whether a GET of url answers 200."""
    try:
        return httpx.get(url, timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


class Supervisor:
    """Starts children in order, waits for each to be ready, stops them in reverse order."""

    def __init__(self, log_dir: Path, *, base_env: Mapping[str, str] | None = None) -> None:
        self.log_dir = log_dir
        self.base_env = dict(base_env if base_env is not None else os.environ)
        self.children: list[Child] = []
        self._lock = threading.Lock()

    def start(self, child: Child) -> Child:
        """Start a child and block until its readiness check passes (or raise)."""
        self.launch(child)
        self.wait_ready([child])
        return child

    def start_all(self, children: Sequence[Child]) -> None:
        """Start several independent children at once, then wait until all are ready."""
        for child in children:
            self.launch(child)
        self.wait_ready(children)

    def launch(self, child: Child) -> Child:
        """Start a child without waiting for it."""
        env = {**self.base_env, **child.env}
        child.log = RotatingLog(self.log_dir / f"{child.name}.log")
        try:
            child.process = subprocess.Popen(  # noqa: S603 - argv built by the demo
                list(child.argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads touch the child
            )
        except OSError as err:
            raise SupervisorError(f"cannot start {child.name}: {err}") from err
        with self._lock:
            self.children.append(child)
        child._pump = threading.Thread(
            target=_pump, args=(child,), name=f"log-{child.name}", daemon=True
        )
        child._pump.start()
        return child

    def wait_ready(self, children: Sequence[Child]) -> None:
        """Poll the children's readiness checks until all pass; raise on exit or deadline."""
        started = time.monotonic()
        waiting = list(children)
        while waiting:
            for child in list(waiting):
                assert child.process is not None
                assert child.log is not None
                if not child.alive():
                    raise SupervisorError(
                        f"{child.name} exited with code {child.process.returncode} while "
                        f"starting; see {child.log.path}"
                    )
                if child.ready():
                    _LOGGER.info("%s ready (pid %s)", child.name, child.pid)
                    waiting.remove(child)
                elif time.monotonic() - started > child.ready_timeout_s:
                    raise SupervisorError(
                        f"{child.name} was not ready within {child.ready_timeout_s:.0f} s; "
                        f"see {child.log.path}"
                    )
            if waiting:
                time.sleep(0.1)

    def stop_child(self, child: Child) -> int | None:
        """Stop one child: its stop signal, then SIGKILL after its deadline; return the code."""
        proc = child.process
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(child.stop_signal)
            try:
                proc.wait(child.stop_timeout_s)
            except subprocess.TimeoutExpired:
                _LOGGER.warning(
                    "%s did not stop within %.0f s: killing it", child.name, child.stop_timeout_s
                )
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        # Anything the child left in its session (it has none of its own) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if child._pump is not None:
            child._pump.join(2)
        if child.log is not None:
            child.log.close()
        return proc.returncode

    def restart(self, child: Child) -> Child:
        """Stop a child, then start it again with the same settings and wait until ready."""
        return self.start(self.take_down(child))

    def take_down(self, child: Child) -> Child:
        """Stop a child and forget it; return an unstarted copy to start again later."""
        with self._lock:
            if child in self.children:
                self.children.remove(child)
        self.stop_child(child)
        return Child(
            name=child.name,
            argv=child.argv,
            ready=child.ready,
            env=child.env,
            ready_timeout_s=child.ready_timeout_s,
            stop_timeout_s=child.stop_timeout_s,
            stop_signal=child.stop_signal,
        )

    def stop_all(self) -> dict[str, int | None]:
        """Stop every child, the last started first; return each exit code."""
        with self._lock:
            children = list(reversed(self.children))
            self.children.clear()
        return {child.name: self.stop_child(child) for child in children}

    def dead(self) -> list[Child]:
        """Children that exited on their own."""
        with self._lock:
            return [c for c in self.children if not c.alive()]


def _pump(child: Child) -> None:
    """Copy a child's output into its rotating log until the pipe closes."""
    proc, log = child.process, child.log
    assert proc is not None
    assert proc.stdout is not None
    assert log is not None
    with contextlib.suppress(ValueError, OSError):
        for line in iter(proc.stdout.readline, b""):
            log.write(line)
    with contextlib.suppress(OSError):
        proc.stdout.close()


def run_logged(
    name: str,
    argv: Sequence[str],
    log_dir: Path,
    *,
    env: Mapping[str, str],
    stdin: str | None = None,
) -> str:
    """Run a one-shot command (migrate, import...), log its stderr, return stdout or raise."""
    result = subprocess.run(  # noqa: S603 - argv built by the demo
        list(argv),
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=120,
        check=False,
    )
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "setup.log").open("a", encoding="utf-8") as fh:
        fh.write(f"$ {name}: exit {result.returncode}\n{result.stderr}")
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1][:300]
        raise SupervisorError(
            f"{name} failed (exit {result.returncode}): {last} (see {log_dir / 'setup.log'})"
        )
    return result.stdout
