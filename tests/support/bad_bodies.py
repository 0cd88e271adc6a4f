"""Bodies that lie, as image hosts and listings sometimes send them: endless, stalled, or not what they claim."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

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
