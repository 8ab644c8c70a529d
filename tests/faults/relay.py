"""A TCP relay a fault test controls: forward, black-hole (a partition), or flip bytes.

One relay stands for one direction of one pair of nodes (the dialling node's consortium
file points the peer's address at the relay). ``mode`` is read for every chunk:

* ``"forward"``: bytes pass unchanged;
* ``"drop"``: bytes are read and thrown away, connections stay open (a partition: the
  other side sees silence, not a reset, exactly as with a lost route);
* ``"flip"``: one bit of every chunk is flipped (a tampering channel).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Literal

Mode = Literal["forward", "drop", "flip"]


class ControlledRelay:
    """Listen on a free loopback port and relay every connection to ``target``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.mode: Mode = "forward"
        self.chunks = 0
        self._lsock = socket.create_server(("127.0.0.1", 0))
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._lsock.getsockname()[1])

    def _accept(self) -> None:
        while not self._closed:
            try:
                src, _ = self._lsock.accept()
            except OSError:
                return
            try:
                dst = socket.create_connection(self.target, timeout=5)
                dst.settimeout(None)
            except OSError:
                src.close()
                continue
            with self._lock:
                self._socks += [src, dst]
            for a, b in ((src, dst), (dst, src)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                mode = self.mode
                self.chunks += 1
                if mode == "drop":
                    continue
                if mode == "flip":
                    buf = bytearray(data)
                    buf[len(buf) // 2] ^= 0x10
                    data = bytes(buf)
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed = True
        self._lsock.close()
        with self._lock:
            for s in self._socks:
                with contextlib.suppress(OSError):
                    s.close()
