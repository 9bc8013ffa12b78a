"""Stand-ins for printer hardware we cannot have in CI: a loopback TCP "network printer"
and a responder on the far side of a pseudo-terminal (serial printer).

Both record the bytes they receive and answer the ESC/POS real-time status
request DLE EOT n (0x10 0x04 n) from a state the test sets: paper end, near
end, cover open, offline. ``answer_status=False`` models a printer that does
not implement DLE EOT.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from dataclasses import dataclass, field

from edge_agent.devices.status import PaperState, encode_dle_eot_answer

DLE_EOT = b"\x10\x04"


@dataclass
class PrinterState:
    """What the simulated printer's sensors report."""

    paper: PaperState = PaperState.OK
    cover_open: bool = False
    offline: bool = False
    answer_status: bool = True


@dataclass
class Connection:
    """Bytes of one TCP connection, with status queries taken out."""

    data: bytearray = field(default_factory=bytearray)
    queries: list[int] = field(default_factory=list)


def _strip_queries(buf: bytearray, conn: Connection, state: PrinterState) -> bytes:
    """Remove DLE EOT n from the head of ``buf``; return the answers to send back."""
    replies = bytearray()
    while True:
        idx = buf.find(DLE_EOT)
        if idx < 0 or idx + 2 >= len(buf):
            break
        n = buf[idx + 2]
        if n not in (1, 2, 3, 4):
            break
        conn.data += buf[:idx]
        del buf[: idx + 3]
        conn.queries.append(n)
        if state.answer_status:
            replies.append(
                encode_dle_eot_answer(
                    n, offline=state.offline, cover_open=state.cover_open, paper=state.paper
                )
            )
    return bytes(replies)


class FakeNetworkPrinter:
    """A threaded TCP server on 127.0.0.1 that behaves like a port-9100 receipt printer."""

    def __init__(self, port: int = 0) -> None:
        self.state = PrinterState()
        self.connections: list[Connection] = []
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self.host, self.port = self._sock.getsockname()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="fake-printer", daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, client: socket.socket) -> None:
        conn = Connection()
        pending = bytearray()
        client.settimeout(0.1)
        with client:
            while not self._stop.is_set():
                try:
                    chunk = client.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                pending += chunk
                with self._lock:
                    reply = _strip_queries(pending, conn, self.state)
                if reply:
                    client.sendall(reply)
                # Keep at most a possible partial DLE EOT prefix for the next chunk.
                keep = 2 if pending.endswith(DLE_EOT) else 1 if pending.endswith(b"\x10") else 0
                conn.data += pending[: len(pending) - keep]
                del pending[: len(pending) - keep]
            conn.data += pending
        with self._lock:
            self.connections.append(conn)

    def jobs(self) -> list[bytes]:
        """Return the data of every finished connection that carried more than status queries."""
        with self._lock:
            return [bytes(c.data) for c in self.connections if c.data]

    def query_count(self) -> int:
        """Return how many DLE EOT requests were answered or seen."""
        with self._lock:
            return sum(len(c.queries) for c in self.connections)

    def set_state(self, **changes: object) -> None:
        """Change the simulated sensors (paper=..., cover_open=..., offline=...)."""
        with self._lock:
            for key, value in changes.items():
                setattr(self.state, key, value)

    def close(self) -> None:
        """Stop accepting and serving."""
        self._stop.set()
        self._sock.close()
        self._acceptor.join(2)
        for t in self._threads:
            t.join(2)


class PtyPrinter:
    """The printer end of a pseudo-terminal: the agent opens ``path`` as a serial printer."""

    def __init__(self) -> None:
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        # Keep the slave open so the pty survives between the agent's open/close cycles.
        self._slave = slave
        import termios
        import tty

        tty.setraw(slave)
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        self.state = PrinterState()
        self.received = bytearray()
        self.queries: list[int] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pty-printer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = Connection()
        pending = bytearray()
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                time.sleep(0.01)
                continue
            pending += chunk
            with self._lock:
                reply = _strip_queries(pending, conn, self.state)
                keep = 2 if pending.endswith(DLE_EOT) else 1 if pending.endswith(b"\x10") else 0
                self.received += conn.data + pending[: len(pending) - keep]
                self.queries += conn.queries
                conn.data.clear()
                conn.queries.clear()
                del pending[: len(pending) - keep]
            if reply:
                os.write(self.master, reply)

    def data(self) -> bytes:
        """Return every byte received (status queries removed)."""
        with self._lock:
            return bytes(self.received)

    def close(self) -> None:
        """Stop the responder and close both ends."""
        self._stop.set()
        self._thread.join(2)
        os.close(self.master)
        os.close(self._slave)
