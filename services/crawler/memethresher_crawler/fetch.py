"""Downloading images politely and safely: bounded concurrency, per-host limits, timeouts, a byte
cap enforced while streaming, and redirects only to public http(s) addresses."""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import random
import socket
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpx

from memethresher_crawler.settings import CrawlerSettings
from memethresher_crawler.transport import async_transport

REDIRECTS = frozenset({301, 302, 303, 307, 308})
RETRYABLE = frozenset({429, 500, 502, 503, 504})
# A Retry-After further off than this is read as this: a server's clock or a typo must not park a crawl for days.
RETRY_AFTER_MAX_S = 3600.0

# Builds the transport of one connection pool; the outside world's servers are reached through it.
TransportFactory = Callable[[httpx.Limits], httpx.AsyncBaseTransport]


class FetchError(Exception):
    """A download that failed; the message is the recorded reason.

    `transient`: the failure may pass (timeouts, 429, 5xx, dropped connections), so a later try may succeed."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def http_client(
    settings: CrawlerSettings, max_connections: int | None = None, transport: TransportFactory = async_transport
) -> httpx.AsyncClient:
    """An async client with our timeouts, pool limits and User-Agent; redirects are ours to follow."""
    timeout = httpx.Timeout(
        connect=settings.connect_timeout_s, read=settings.read_timeout_s,
        write=settings.read_timeout_s, pool=settings.total_timeout_s,
    )  # fmt: skip
    connections = max_connections or settings.download_concurrency
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(
        timeout=timeout,
        transport=transport(limits),
        follow_redirects=False,
        headers={"User-Agent": settings.user_agent},
    )


class AddressPolicy:
    """Refuses hosts that resolve to private, loopback, link-local or otherwise internal addresses."""

    def __init__(self, allow_all: bool = False, allowed_networks: Iterable[str] = ()) -> None:
        self.allow_all = allow_all
        self.allowed = [ipaddress.ip_network(n, strict=False) for n in allowed_networks]
        # Verdicts per (host, port) for the life of one crawl: thousands of images share few hosts.
        self._verdicts: dict[tuple[str, int], str | None] = {}

    def address_allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if any(ip in network for network in self.allowed):
            return True
        internal = ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
        return self.allow_all or not (internal or ip.is_reserved or ip.is_unspecified)

    async def check(self, url: str) -> None:
        """Raise FetchError unless `url` is http(s) and every address of its host is allowed."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"refused URL {url[:200]!r}: only http(s) is followed")
        if self.allow_all:
            return
        port = parts.port or (443 if parts.scheme == "https" else 80)
        where = (parts.hostname, port)
        if where not in self._verdicts:
            self._verdicts[where] = await self._verdict(parts.hostname, port)
        if (refusal := self._verdicts[where]) is not None:
            raise FetchError(refusal)

    async def _verdict(self, host: str, port: int) -> str | None:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            return f"cannot resolve {host}: {error}"
        for info in infos:
            address = str(info[4][0])
            if not self.address_allowed(address):
                return f"refused {host}: {address} is a private or internal address"
        return None


class Downloader:
    """Fetches image bytes with a global concurrency bound and a small connection pool per host.

    One pool per host keeps each pool small: httpcore scans every pooled connection for every
    request it assigns, so a pool's CPU cost grows with its size."""

    def __init__(
        self, settings: CrawlerSettings, policy: AddressPolicy, transport: TransportFactory = async_transport
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.transport = transport
        self._all = asyncio.Semaphore(settings.download_concurrency)
        self._hosts: dict[str, tuple[asyncio.Semaphore, httpx.AsyncClient]] = {}

    async def __aenter__(self) -> Downloader:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for _gate, client in self._hosts.values():
            await client.aclose()
        self._hosts.clear()

    def _host(self, url: str) -> tuple[asyncio.Semaphore, httpx.AsyncClient]:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key not in self._hosts:
            per_host = self.settings.per_host_connections
            self._hosts[key] = (asyncio.Semaphore(per_host), http_client(self.settings, per_host, self.transport))
        return self._hosts[key]

    async def fetch(self, url: str, retries: int = 2) -> bytes:
        """The body of `url`, retried on timeouts, 429 and 5xx; raises FetchError with the reason."""
        for attempt in range(retries + 1):
            try:
                return await self._follow(url)
            except _Retryable as error:
                if attempt == retries:
                    raise FetchError(str(error), transient=True) from None
                backoff = random.uniform(0, 0.5 * 2**attempt)
                await asyncio.sleep(min(error.wait_s or backoff, self.settings.backoff_max_s))
            except TimeoutError:
                if attempt == retries:
                    raise FetchError(f"timed out after {self.settings.total_timeout_s}s", transient=True) from None
        raise AssertionError("unreachable")

    async def _follow(self, url: str) -> bytes:
        for _ in range(self.settings.max_redirects + 1):
            await self.policy.check(url)
            gate, client = self._host(url)
            async with self._all, gate:
                # The total timeout counts from the request, not from the wait for a free connection.
                async with asyncio.timeout(self.settings.total_timeout_s):
                    location = await self._get(client, url)
            if isinstance(location, bytes):
                return location
            url = location
        raise FetchError(f"more than {self.settings.max_redirects} redirects")

    async def _get(self, client: httpx.AsyncClient, url: str) -> bytes | str:
        """The body, or the URL a redirect points to."""
        try:
            async with client.stream("GET", url) as response:
                if response.status_code in REDIRECTS and "location" in response.headers:
                    return urljoin(url, response.headers["location"])
                if response.status_code in RETRYABLE:
                    raise _Retryable(f"HTTP {response.status_code}", retry_after(response.headers))
                if response.status_code != 200:
                    raise FetchError(f"HTTP {response.status_code}")
                return await self._read_capped(response)
        except httpx.TimeoutException as error:
            raise _Retryable(f"timed out ({type(error).__name__})") from None
        except httpx.HTTPError as error:
            raise _Retryable(f"download failed: {type(error).__name__}: {error}") from None

    async def _read_capped(self, response: httpx.Response) -> bytes:
        cap = self.settings.max_image_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchError(f"too large: {declared} bytes declared (limit {cap})")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > cap:
                raise FetchError(f"too large: over {cap} bytes, download aborted")
        return bytes(body)


class _Retryable(Exception):
    def __init__(self, message: str, wait_s: float | None = None) -> None:
        super().__init__(message)
        self.wait_s = wait_s


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from `Retry-After`, in either of its forms (seconds, or an HTTP date such as
    `Wed, 21 Oct 2026 07:28:00 GMT`), at most RETRY_AFTER_MAX_S; None when absent or unreadable."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:  # RFC 9110 dates are GMT; an obsolete form may omit the zone
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(0.0, seconds), RETRY_AFTER_MAX_S)
