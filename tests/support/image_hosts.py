"""The image hosts of recorded Reddit listings (i.redd.it, i.imgur.com, preview.redd.it, ...), stood in for
by the fake Reddit: the crawler's downloads reach it over real HTTP through `ThroughFake`, a transport that
sends each request for an outside host to `<fake>/ext/<scheme>/<host><path and query, byte for byte>`.

Every URL answers with an image made from that URL, so one URL is one image; a signed preview URL (a query
with `s=`) answers 403, as Reddit does, unless it arrives exactly as a listing offered it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response

from tests.support.images import image_bytes

SIGNED_HOSTS = frozenset({"preview.redd.it", "external-preview.redd.it", "i.redditmedia.com"})


def urls_in(value: Any) -> Iterator[str]:
    """Every http(s) URL string anywhere in a JSON value."""
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from urls_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from urls_in(item)


class ImageHosts:
    """What the outside image hosts serve, and what was asked of them."""

    def __init__(self) -> None:
        self.offered: set[str] = set()
        self.missing: set[str] = set()  # offered URLs that answer 404 (a deleted imgur image)
        self.requested: list[str] = []  # the original URLs, as they arrived

    def offer(self, body: Any) -> None:
        self.offered.update(urls_in(body))

    async def handle(self, request: Request) -> Response:
        raw = request.scope["raw_path"].decode("latin-1")
        query = request.scope["query_string"].decode("latin-1")
        scheme, _, rest = raw.removeprefix("/ext/").partition("/")
        url = f"{scheme}://{rest}" + (f"?{query}" if query else "")
        self.requested.append(url)
        host = rest.split("/", 1)[0]
        if host in SIGNED_HOSTS and "s=" in query and url not in self.offered:
            return Response("Invalid signature", 403)
        if url in self.missing:
            return Response("not found", 404)
        seed = int(hashlib.sha256(url.encode()).hexdigest()[:8], 16)
        return Response(image_bytes("JPEG", (16, 12), seed=seed), 200, media_type="image/jpeg")


class ThroughFake(httpx.AsyncBaseTransport):
    """Sends requests for outside hosts to the fake's /ext/ route, the path and query untouched."""

    def __init__(self, fake_base_url: str, inner: httpx.AsyncBaseTransport) -> None:
        self.fake = httpx.URL(fake_base_url)
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != self.fake.host:
            original = request.url
            prefix = f"/ext/{original.scheme}/{original.netloc.decode('ascii')}".encode("ascii")
            headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"host"]
            headers.append((b"host", self.fake.netloc))
            request = httpx.Request(
                request.method, self.fake.copy_with(raw_path=prefix + original.raw_path), headers=headers,
                stream=request.stream, extensions=request.extensions,
            )  # fmt: skip
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
