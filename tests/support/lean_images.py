"""A lean HTTP/1.1 image server for benchmarks: pre-built responses from memory, keep-alive,
injected latency, so the measured cost is the crawler's and not the stand-in's."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Mapping


class _ImageProtocol(asyncio.Protocol):
    def __init__(self, responses: Mapping[str, bytes], latency_s: float, counts: dict[str, int]) -> None:
        self.responses, self.latency_s, self.counts = responses, latency_s, counts
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            path = head.split(b" ", 2)[1].decode("latin-1") if head.count(b" ") >= 2 else ""
            name = path.rsplit("/", 1)[-1]
            self.counts[name] = self.counts.get(name, 0) + 1
            response = self.responses.get(name, NOT_FOUND)
            asyncio.get_running_loop().call_later(self.latency_s, self._send, response)

    def _send(self, response: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(response)


NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\ncontent-type: text/plain\r\n\r\nnot found"


def image_response(data: bytes) -> bytes:
    head = f"HTTP/1.1 200 OK\r\ncontent-type: image/jpeg\r\ncontent-length: {len(data)}\r\n\r\n"
    return head.encode() + data


class LeanImageServer:
    """Serves `/img/<name>` from `images` on loopback in a thread of its own."""

    def __init__(self, images: Mapping[str, bytes], latency_s: float = 0.0) -> None:
        self.responses = {name: image_response(data) for name, data in images.items()}
        self.latency_s = latency_s
        self.counts: dict[str, int] = {}
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        factory = lambda: _ImageProtocol(self.responses, self.latency_s, self.counts)  # noqa: E731
        self._server = self._loop.run_until_complete(self._loop.create_server(factory, sock=self._socket))
        self._loop.run_forever()
        self._server.close()
        self._loop.run_until_complete(self._server.wait_closed())
        self._loop.close()

    def start(self) -> LeanImageServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
