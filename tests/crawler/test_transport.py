"""The crawler's lean transport: httpx's pool on our network backend, keep-alive kept, and a
connection the server closed is noticed while idle instead of failing the next request."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import httpcore
import httpx
import pytest
from memethresher_crawler.fetch import http_client
from memethresher_crawler.settings import CrawlerSettings
from memethresher_crawler.transport import _LeanBackend, socket_readable, ssl_context

from tests.support.lean_images import LeanImageServer

BODY = b"\xff\xd8 not really a jpeg"


@pytest.fixture
def image_server() -> Iterator[LeanImageServer]:
    server = LeanImageServer({"a.jpg": BODY}).start()
    yield server
    server.stop()


def test_clients_use_the_lean_backend_and_one_tls_context() -> None:
    client = http_client(CrawlerSettings(), 3)
    transport = client._transport
    assert isinstance(transport, httpx.AsyncHTTPTransport)
    # If an httpx upgrade renames its pool, this fails here rather than silently losing the backend.
    pool = transport._pool
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    assert isinstance(pool._network_backend, _LeanBackend)
    assert pool._max_connections == 3
    assert pool._ssl_context is ssl_context()
    asyncio.run(client.aclose())


def test_keep_alive_reuses_one_connection(image_server: LeanImageServer) -> None:
    async def go() -> list[bytes]:
        async with http_client(CrawlerSettings(), 1) as client:
            bodies = [(await client.get(f"{image_server.base_url}/img/a.jpg")).content for _ in range(5)]
            assert len(client._transport._pool.connections) == 1  # type: ignore[attr-defined]
            return bodies

    assert asyncio.run(go()) == [BODY] * 5


def test_socket_readable_sees_a_closed_peer() -> None:
    left, right = socket.socketpair()
    with left, right:
        assert not socket_readable(left)
        right.close()
        assert socket_readable(left)


def test_a_connection_the_server_closed_is_not_reused() -> None:
    """A server that answers once per connection and then closes it: every request still succeeds."""
    listener = socket.create_server(("127.0.0.1", 0))
    response = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.recv(65536)
                connection.sendall(response)  # keep-alive by HTTP/1.1 default, but closed at once

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"

    async def go() -> list[int]:
        async with http_client(CrawlerSettings(), 1) as client:
            statuses = []
            for _ in range(3):
                statuses.append((await client.get(url)).status_code)
                await asyncio.sleep(0.05)  # the server's FIN arrives while the connection is idle
            return statuses

    try:
        assert asyncio.run(go()) == [200, 200, 200]
    finally:
        stop.set()
        thread.join(5)
        listener.close()
