"""Bodies that lie, as image hosts and listings sometimes send them: endless, stalled, or not what they claim."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.responses import RedirectResponse, Response, StreamingResponse

from tests.support.images import image_bytes, png_bomb


async def endless() -> AsyncIterator[bytes]:
    yield b"\xff\xd8\xff\xe0"
    chunk = b"\x00" * 65536
    while True:
        yield chunk
        await asyncio.sleep(0)


async def stall(first: bytes) -> AsyncIterator[bytes]:
    yield first
    await asyncio.sleep(3600)


BAD_IMAGES: dict[str, tuple[str, bytes]] = {
    "html.png": ("image/png", b"<!DOCTYPE html><html><body>Imgur: image removed</body></html>"),
    "truncated.jpg": ("image/jpeg", image_bytes("JPEG", (300, 300), seed=7)[:3000]),
    "empty.png": ("image/png", b""),
    "bomb.png": ("image/png", png_bomb()),
    "video.mp4": ("image/jpeg", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 256),
}


def bad_response(kind: str, attempt: int) -> Response:
    """The lying answer named `kind`; `attempt` counts requests for it (the flaky one fails only the first)."""
    if kind in BAD_IMAGES:
        media_type, body = BAD_IMAGES[kind]
        return Response(body, 200, media_type=media_type)
    if kind == "endless.jpg":
        return StreamingResponse(endless(), 200, media_type="image/jpeg")
    if kind == "stall.jpg":
        return StreamingResponse(stall(b"\xff\xd8\xff\xe0"), 200, media_type="image/jpeg")
    if kind == "huge.jpg":
        return Response(b"\xff\xd8", 200, {"content-length": str(10**10)}, media_type="image/jpeg")
    if kind in _REDIRECTS:
        return RedirectResponse(_REDIRECTS[kind], 302)
    if kind == "flaky.jpg":
        return (
            Response("busy", 503)
            if attempt == 1
            else Response(image_bytes("JPEG", seed=9999), 200, media_type="image/jpeg")
        )
    return Response("not found", 404)


_REDIRECTS = {
    "redirect-private.jpg": "http://169.254.169.254/latest/meta-data/",
    "redirect-loop.jpg": "/bad/redirect-loop.jpg",
    "redirect-ftp.jpg": "ftp://127.0.0.1/meme.jpg",
}
