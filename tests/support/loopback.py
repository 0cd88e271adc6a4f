"""An ASGI app served by uvicorn on a loopback socket in a thread of its own: the fakes of the outside world."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


class LoopbackServer:
    """Serves `app` on 127.0.0.1 from `serve()` until `shut()`, at a free port for each of `hosts`
    (`urls[host]`; `base_url` is the first), so one app can stand in for several hosts."""

    def __init__(self, name: str, hosts: tuple[str, ...] = ("main",)) -> None:
        self.name = name
        self._sockets = {host: socket.create_server(("127.0.0.1", 0)) for host in hosts}
        self.ports = {sock.getsockname()[1]: host for host, sock in self._sockets.items()}
        self.urls = {host: f"http://127.0.0.1:{port}" for port, host in self.ports.items()}
        self.base_url = self.urls[hosts[0]]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def serve(self, app: Any) -> None:
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        sockets = list(self._sockets.values())
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": sockets}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start")
            time.sleep(0.01)

    def shut(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(5)
        for sock in self._sockets.values():
            sock.close()
