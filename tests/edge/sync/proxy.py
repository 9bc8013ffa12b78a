"""A TCP proxy on 127.0.0.1 between the agent and the broker, so a test can cut the network.

``cut()`` resets every open connection (RST, no MQTT DISCONNECT), which is what a
pulled cable looks like to the broker once it notices; new connections are still
accepted unless ``refuse_new`` is set.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading

from tests.fixtures.util import free_port


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; every connection can be cut at once."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self._target = (target_host, target_port)
        self._server = socket.create_server((self.host, self.port))
        self._server.settimeout(0.1)
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._stop = threading.Event()
        self.refuse_new = False
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refuse_new:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=2)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([a, b], [], [], 0.1)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            _reset(a)
            _reset(b)

    def cut(self) -> None:
        """Reset every open connection through the proxy."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            _reset(a)
            _reset(b)

    def close(self) -> None:
        """Stop the proxy and cut everything."""
        self._stop.set()
        self._server.close()
        self.cut()
        self._thread.join(5)


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        # Linger 0: close() sends RST instead of FIN, like a dead link.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
