"""The crawler's httpx transport: httpx's own, on a network backend whose idle-connection check
costs one system call instead of two, and one TLS context per process instead of one per client.

httpcore asks every idle pooled connection "has the server closed you?" on every request it
assigns; anyio answers by building a dict of socket attributes, `getpeername()` included, before
polling the socket. Keeping the socket at hand leaves only the poll."""

from __future__ import annotations

import functools
import select
import socket
import ssl
import typing

import httpcore
import httpx


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once: loading the CA bundle takes ~40 ms."""
    return httpx.create_ssl_context()


def async_transport(limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's async transport with `limits`, its connections made through `_LeanBackend`."""
    transport = httpx.AsyncHTTPTransport(verify=ssl_context(), limits=limits)
    # httpx builds its pool without a way to pass a network backend; this pool is the one it
    # would build (same options), plus the backend. tests/crawler/test_transport.py pins it.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_LeanBackend(),
    )
    return transport


def socket_readable(sock: socket.socket) -> bool:
    """Whether a read would return at once: data, or the end of a connection the server closed."""
    fd = sock.fileno()
    if fd < 0:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class _LeanStream(httpcore.AsyncNetworkStream):
    """anyio's stream, with its socket kept for the readability check."""

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._socket: socket.socket | None = stream.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _LeanStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable" and self._socket is not None:
            return socket_readable(self._socket)
        return self._stream.get_extra_info(info)


class _LeanBackend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend, handing out `_LeanStream`s."""

    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # fmt: skip
        return _LeanStream(await self._backend.connect_tcp(host, port, timeout, local_address, socket_options))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: typing.Iterable[typing.Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _LeanStream(await self._backend.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)
